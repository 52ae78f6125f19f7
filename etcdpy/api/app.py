"""The client HTTP API: one aiohttp application routing like etcd's Go ``ServeMux``.

Routing is done here rather than by aiohttp's router because Go's rules are visible to
clients: the path is percent-decoded first (a bad escape is a bare 400 and a hang-up),
an unclean path (``//``, ``.``, ``..``) is answered with a 301 to its cleaned form, and
unknown paths get Go's plain-text 404. etcd 3.4 wraps everything in a CORS handler
that answers OPTIONS itself and adds ``Access-Control-*`` headers to every response.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from etcdpy.api.auth import AuthHandler
from etcdpy.api.basic import BasicHandlers
from etcdpy.api.goform import (
    GoError,
    clean_request_path,
    decode,
    encode,
    escape_path,
    has_control_byte,
    unescape,
)
from etcdpy.api.http import HTTPServer, Request, StreamResponse
from etcdpy.api.keys import KeysHandler
from etcdpy.api.members import MembersHandler
from etcdpy.api.responses import (
    CORS_HEADERS,
    Response,
    bad_request_close,
    etcd_error,
    message_error,
    not_found,
    redirect,
)
from etcdpy.store.errors import ECODE_RAFT_INTERNAL, EtcdError

if TYPE_CHECKING:
    from etcdpy.server.etcdserver import EtcdServer

log = logging.getLogger(__name__)

# Marks answers Go's server gives before any handler runs (no CORS headers on those).
_CORS_SKIP = "etcdpy.no_cors"
_STATS = {"/v2/stats/store": "store", "/v2/stats/self": "self", "/v2/stats/leader": "leader"}


class ClientAPI:
    """Routes client requests to the handlers; serve it with :meth:`make_server`."""

    def __init__(self, server: EtcdServer, cors: Sequence[str] = ()) -> None:
        self.server = server
        # etcd 3.4's default is --cors=* (an empty list means the default here).
        self._cors_any = not cors or "*" in cors
        self._cors_origins = frozenset(cors)
        self.auth = AuthHandler(server, server.cfg.client_cert_auth)
        self.keys = KeysHandler(server, self.auth.guard)
        self.members = MembersHandler(server, self.auth.guard)
        self.basic = BasicHandlers(server)

    def make_server(self) -> HTTPServer:
        """The HTTP server for these handlers; ``await server.listen(host, port)``."""
        return HTTPServer(self.handle)

    def shutdown(self) -> None:
        """End every open watch (the member is stopping); new ones end at once."""
        self.keys.close_watchers()

    def _cors(self, request: Request) -> dict[str, str] | None:
        origin = "*" if self._cors_any else request.headers.get("Origin", "")
        if origin != "*" and origin not in self._cors_origins:
            return None
        return {
            "Access-Control-Allow-Headers": "accept, content-type, authorization",
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PUT, DELETE",
            "Access-Control-Allow-Origin": origin,
        }

    async def handle(self, request: Request) -> Response | StreamResponse:
        cors = self._cors(request)
        method = request.method
        if method == "GET":
            fast = await self.keys.fast_get(request, cors)
            if fast is not None:
                return fast
        elif method == "PUT":
            fast = await self.keys.fast_put(request, cors)
            if fast is not None:
                return fast
        request[CORS_HEADERS] = cors
        try:
            resp = await self._route(request)
        except Exception as exc:
            # A bug of ours, not the client's: one log line, a Go-shaped 500, no traceback
            # for the client (the traceback goes to the debug log only).
            log.error("internal error serving %s %s: %r", request.method, request.path, exc)
            log.debug("traceback", exc_info=True)
            if request.path.startswith("/v2/keys"):
                resp = etcd_error(EtcdError(ECODE_RAFT_INTERNAL, str(exc), 0))
            else:
                resp = message_error(500, "Internal Server Error")
        if cors is not None and not resp.prepared and not request.get(_CORS_SKIP):
            resp.headers.update(cors)
        return resp

    async def _route(self, request: Request) -> Response | StreamResponse:
        method = request.method
        if method == "OPTIONS":
            return Response(status=200)
        target = encode(request.raw_path)
        raw_path, _, raw_query = target.partition(b"?")
        if raw_path[:1] != b"/":
            if method == "CONNECT":
                # Go reads it as an authority (host:port): no path, so no route.
                return not_found()
            # absolute-form request target: drop scheme and authority
            scheme_end = raw_path.find(b"://")
            if scheme_end > 0:
                slash = raw_path.find(b"/", scheme_end + 3)
                raw_path = raw_path[slash:] if slash >= 0 else b"/"
        if has_control_byte(target):
            request[_CORS_SKIP] = True
            return bad_request_close()
        try:
            path = decode(unescape(raw_path, False))
        except GoError:
            request[_CORS_SKIP] = True
            return bad_request_close()
        cleaned = clean_request_path(path)
        if cleaned != path and method != "CONNECT":
            # (Go's ServeMux routes a CONNECT by its path as sent: no redirect.)
            location = escape_path(cleaned)
            if raw_query:
                location += "?" + decode(raw_query)
            return redirect(method, location)

        if path == "/v2/keys" or path.startswith("/v2/keys/"):
            return await self.keys.serve(request, path, raw_query)
        if path == "/v2/members" or path.startswith("/v2/members/"):
            return await self.members.serve(request, path)
        if path.startswith("/v2/auth/"):
            return await self.auth.serve(request, path, raw_query)
        stats = _STATS.get(path)
        if stats is not None:
            return await self.basic.stats(request, stats)
        if path == "/v2/machines":
            return await self.basic.machines(request)
        if path == "/version":
            return await self.basic.version(request)
        if path == "/health":
            return await self.basic.health(request)
        return not_found()
