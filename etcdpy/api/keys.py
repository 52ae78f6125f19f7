"""``/v2/keys``: reads, writes and watches (etcd ``keysHandler``).

A long-poll watch holds no thread: its handler awaits a future that the store's watcher
resolves through ``set_notify``. Ten thousand open watches cost one suspended coroutine,
one connection and one store watcher each.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING

from etcdpy.api import gojson
from etcdpy.api.auth_access import AccessGuard
from etcdpy.api.goform import (
    MAX_FORM_BYTES,
    Form,
    GoError,
    decode,
    parse_media_type,
    parse_query,
    unescape,
)
from etcdpy.api.http import Request
from etcdpy.api.keyrequest import parse_key_request
from etcdpy.api.responses import (
    CORS_HEADERS,
    JSON,
    Response,
    StreamResponse,
    continue_body,
    etcd_error,
    method_not_allowed,
)
from etcdpy.server.errors import ServerError
from etcdpy.server.member import id_str
from etcdpy.server.request import STORE_KEYS_PREFIX
from etcdpy.server.request import Request as Request_
from etcdpy.store.errors import (
    ECODE_INVALID_FORM,
    ECODE_RAFT_INTERNAL,
    ECODE_UNAUTHORIZED,
    EtcdError,
)

if TYPE_CHECKING:
    from etcdpy.server.etcdserver import EtcdServer
    from etcdpy.store import Event, NodeExtern, Watcher

log = logging.getLogger(__name__)

ALLOWED = "HEAD,GET,PUT,POST,DELETE"
_FORM_METHODS = ("POST", "PUT", "PATCH")
_NO_VALUE_ACTIONS = frozenset(("set", "compareAndSwap", "create", "update"))
# Open watches one member holds at most; more are refused with error 300 (each holds a
# connection, a coroutine and a store watcher). A connection serves its requests one
# at a time, so it holds at most one open watch.
MAX_OPEN_WATCHES = 50_000
# Bodies Go's server would not drain before reusing the connection.
_DRAIN_LIMIT = 256 << 10


_KEYS = "/v2/keys"
# Paths fast_get takes: printable ASCII that needs no percent-decoding, no empty, "."
# or ".." segment (those are redirected or cleaned on the general way).
_PLAIN_PATH = re.compile(r"/v2/keys/[A-Za-z0-9_\-.~:@!$&'()*+,;=/]*")
FAST_CACHE_SIZE = 4096
_FORM = "application/x-www-form-urlencoded"


def _plain_key_path(path: str) -> bool:
    return (
        _PLAIN_PATH.fullmatch(path) is not None
        and "//" not in path
        and "/./" not in path
        and "/../" not in path
        and not path.endswith(("/.", "/.."))
    )


def _refusal(e: EtcdError | ServerError, headers: dict[str, str]) -> Response:
    """etcd's JSON error for a request the store or the server refused: a store error
    names the key as the client wrote it; a server error is error 300 with its text."""
    if isinstance(e, ServerError):
        return etcd_error(EtcdError(ECODE_RAFT_INTERNAL, str(e), 0), headers)
    if e.cause.startswith(STORE_KEYS_PREFIX):
        e.cause = e.cause[len(STORE_KEYS_PREFIX) :]
    return etcd_error(e, headers)


def _permanent(n: NodeExtern) -> bool:
    """No TTL anywhere in the answer (a TTL's remaining seconds change by themselves)."""
    if n.expiration_ns:
        return False
    return all(_permanent(c) for c in n.nodes) if n.nodes else True


class FormResult:
    __slots__ = ("error", "form", "must_close")

    def __init__(self) -> None:
        self.form: Form = {}
        self.error: str | None = None
        self.must_close = False


async def read_form(request: Request, raw_query: bytes) -> FormResult:
    """Go's ``Request.ParseForm``: the urlencoded body (POST/PUT/PATCH) first, then the
    query; the first value of a name is the body's when both have it."""
    res = FormResult()
    if request.method in _FORM_METHODS:
        ct = request.headers.get("Content-Type") or "application/octet-stream"
        mediatype, res.error = parse_media_type(ct)
        if mediatype == "application/x-www-form-urlencoded":
            body = await _read_body(request, MAX_FORM_BYTES)
            if body is None:
                res.error = "http: POST too large"
                res.must_close = True
                return res
            err = parse_query(body, res.form)
            if res.error is None:
                res.error = err
        elif _unread_body_is_large(request):
            res.must_close = True
    err = parse_query(raw_query, res.form)
    if res.error is None:
        res.error = err
    return res


def _unread_body_is_large(request: Request) -> bool:
    if not request.body_exists:
        return False
    n = request.content_length
    return n is None or n > _DRAIN_LIMIT


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None when it is longer than ``limit`` (then left unread)."""
    n = request.content_length
    if n is not None and n > limit:
        return None
    await continue_body(request)
    buf = bytearray()
    content = request.content
    while len(buf) <= limit:
        chunk = await content.read(min(65536, limit + 1 - len(buf)))
        if not chunk:
            return bytes(buf)
        buf += chunk
    return None


class _EncodedEvent:
    """The last event written, encoded once for all the watchers it wakes."""

    __slots__ = ("data", "event")

    def __init__(self) -> None:
        self.event: Event | None = None
        self.data = b""


class KeysHandler:
    def __init__(self, server: EtcdServer, guard: AccessGuard) -> None:
        self.server = server
        self.guard = guard
        self._cid = id_str(server.cluster_id)
        self._last = _EncodedEvent()
        self._watchers: set[Watcher] = set()
        self._shutting_down = False
        # fast_get's rendered answers: (URL path, recursive, sorted, CORS origin) ->
        # (store index, raft index, raft term, answer).
        self._cache: dict[tuple[str, bool, bool, str | None], tuple[int, int, int, Response]] = {}
        self.max_watches = MAX_OPEN_WATCHES

    async def fast_get(self, request: Request, cors: dict[str, str] | None) -> Response | None:
        """A plain read (``GET /v2/keys/<path>`` with at most ``recursive``, ``sorted``
        and ``quorum`` set to true, a path that needs no decoding or cleaning, auth
        off), answered without the general parsing; None sends the request the general
        way.

        Answers without TTLs are kept, rendered, while the store index and the Raft
        index and term stay what they were: a key read again and again (clients polling
        their configuration) costs a dictionary lookup. Statistics move as for a read.
        """
        server = self.server
        if server.auth_enabled(count=False):
            return None
        path, _, query = request.raw_path.partition("?")
        recursive = sort = quorum = False
        if query:
            for pair in query.split("&"):
                if pair == "recursive=true":
                    recursive = True
                elif pair == "sorted=true":
                    sort = True
                elif pair == "quorum=true":
                    quorum = True
                else:
                    return None
        key = (path, recursive, sort, cors["Access-Control-Allow-Origin"] if cors else None)
        hit = self._cache.get(key)
        if hit is None and not _plain_key_path(path):
            return None
        if quorum:
            try:
                await server.linearizable_read()
            except ServerError:
                return None  # the general way answers with the error
            hit = self._cache.get(key)
        store = server.store
        server.auth_enabled()  # the probe counts as etcd's does
        if hit is not None:
            index, raft_index, raft_term, resp = hit
            if (
                index == store.index
                and raft_index == server.raft_index
                and raft_term == server.raft_term
            ):
                store.record_get(True)
                return resp
        p = STORE_KEYS_PREFIX + path[len(_KEYS) :].rstrip("/")
        try:
            ev = store.get(p, recursive, sort, time.time_ns())
        except EtcdError as e:
            resp = _refusal(e, {"X-Etcd-Cluster-Id": self._cid})
            if cors:
                resp.headers.update(cors)
            return resp
        resp = self._event(ev, False)
        if cors:
            resp.headers.update(cors)
        if _permanent(ev.node):
            resp.prerender()
            if len(self._cache) >= FAST_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = (store.index, server.raft_index, server.raft_term, resp)
        return resp

    async def fast_put(self, request: Request, cors: dict[str, str] | None) -> Response | None:
        """A plain set (``PUT /v2/keys/<path>`` whose whole body, already received, is
        one urlencoded ``value``; no query, auth off), without the general parsing;
        None sends the request the general way."""
        server = self.server
        path = request.raw_path
        if (
            server.auth_enabled(count=False)
            or request.headers.get("content-type") != _FORM
            or not _plain_key_path(path)
        ):
            return None
        body = request.content.received()
        if (
            body is None
            or not body.startswith(b"value=")
            or len(body) > MAX_FORM_BYTES
            or b"&" in body
            or b";" in body
        ):
            return None
        try:
            value = decode(unescape(body[6:], True))
        except GoError:
            return None
        server.auth_enabled()  # the probe counts as etcd's does
        now = time.time_ns()
        req = Request_(
            method="PUT",
            path=STORE_KEYS_PREFIX + path[len(_KEYS) :].rstrip("/"),
            val=value,
            time=now,
        )
        try:
            ev = await server.do(req)
        except (EtcdError, ServerError) as e:
            resp = _refusal(e, {"X-Etcd-Cluster-Id": self._cid})
        else:
            resp = self._event(ev, False)  # type: ignore[arg-type]
        if cors:
            resp.headers.update(cors)
        return resp

    def close_watchers(self) -> None:
        """End every open watch, and any opened later (the member is shutting down)."""
        self._shutting_down = True
        for w in list(self._watchers):
            w.remove()

    async def serve(
        self, request: Request, path: str, raw_query: bytes
    ) -> Response | StreamResponse:
        method = request.method
        if method not in ("HEAD", "GET", "PUT", "POST", "DELETE"):
            return method_not_allowed(ALLOWED)
        cid = {"X-Etcd-Cluster-Id": self._cid}
        form = await read_form(request, raw_query)
        try:
            if form.error is not None:
                raise EtcdError(ECODE_INVALID_FORM, form.error, 0)
            req, no_value = parse_key_request(method, path, form.form, time.time_ns())
        except EtcdError as e:
            resp = etcd_error(e, cid)
            if form.must_close:
                resp.force_close()
            return resp
        server = self.server
        # etcd checks the path below /v2/keys as the client wrote it (decoded).
        if server.auth_enabled() and not await self.guard.key_access(
            request, path[len("/v2/keys") :], req.recursive
        ):
            err = EtcdError(ECODE_UNAUTHORIZED, "Insufficient credentials", 0)
            return self._closing(etcd_error(err, cid), form.must_close)
        if req.wait and not req.quorum and len(self._watchers) >= self.max_watches:
            cause = (
                f"etcdpy: too many open watches on this member ({len(self._watchers)}, the "
                "limit); close some, or watch through another member"
            )
            return self._closing(
                etcd_error(EtcdError(ECODE_RAFT_INTERNAL, cause, 0), cid), form.must_close
            )
        try:
            res = await server.do(req)
        except (EtcdError, ServerError) as e:
            return self._closing(_refusal(e, cid), form.must_close)
        if hasattr(res, "pop"):
            return await self._watch(request, res, req.stream)  # type: ignore[arg-type]
        return self._closing(self._event(res, no_value), form.must_close)  # type: ignore[arg-type]

    @staticmethod
    def _closing(resp: Response, must_close: bool) -> Response:
        if must_close:
            resp.force_close()
        return resp

    def _headers(self, etcd_index: int) -> dict[str, str]:
        return {
            "Content-Type": JSON,
            "X-Etcd-Cluster-Id": self._cid,
            "X-Etcd-Index": str(etcd_index),
            "X-Raft-Index": str(self.server.raft_index),
            "X-Raft-Term": str(self.server.raft_term),
        }

    def _event(self, ev: Event, no_value: bool) -> Response:
        if no_value and ev.action in _NO_VALUE_ACTIONS:
            body = gojson.dumps_line({"action": ev.action})
        else:
            body = self._encode(ev)
        status = 201 if ev.is_created() else 200
        return Response(status=status, body=body, headers=self._headers(ev.etcd_index))

    def _encode(self, ev: Event) -> bytes:
        last = self._last
        if last.event is not ev:
            last.data = gojson.dumps_line(ev.to_dict(STORE_KEYS_PREFIX))
            last.event = ev
        return last.data

    async def _watch(
        self, request: Request, watcher: Watcher, stream: bool
    ) -> Response | StreamResponse:
        """etcd ``handleKeyWatch``: headers at once, then one event (or every event, one
        JSON line each, with ``stream``); the watch ends when the client goes away, the
        watcher overflows, or the member stops."""
        self._watchers.add(watcher)
        if self._shutting_down:
            watcher.remove()
        loop = asyncio.get_running_loop()
        waiter: list[asyncio.Future[None] | None] = [None]

        def wake() -> None:
            f = waiter[0]
            if f is not None and not f.done():
                f.set_result(None)

        watcher.set_notify(wake)
        headers = self._headers(watcher.start_index)
        cors = request.get(CORS_HEADERS)
        if cors:
            headers.update(cors)
        resp = StreamResponse(status=200, headers=headers)
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            while True:
                ev = watcher.pop()
                if ev is None:
                    if watcher.closed:
                        break
                    f = loop.create_future()
                    waiter[0] = f
                    try:
                        await f
                    finally:
                        waiter[0] = None
                    continue
                if not stream:
                    # The event and the end of the body in one write: one syscall per
                    # watcher when a write wakes thousands of them.
                    await resp.write_eof(self._encode(ev))
                    return resp
                await resp.write(self._encode(ev))
            await resp.write_eof()
        except ConnectionError:
            # The client went away mid-write: nothing left to answer, nothing to log.
            resp.force_close()
        finally:
            watcher.set_notify(None)
            watcher.remove()
            self._watchers.discard(watcher)
        return resp
