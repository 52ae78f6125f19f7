"""``/v2/auth``: users, roles and the auth switch (etcd ``v2http`` authHandler).

Routes, as etcd's ``ServeMux`` has them: ``/v2/auth/enable`` (GET the state, PUT to
enable, DELETE to disable), ``/v2/auth/users`` and ``/v2/auth/roles`` (GET the lists),
``/v2/auth/users/<name>`` and ``/v2/auth/roles/<name>`` (GET, PUT, DELETE). Every one
of them needs the root role once auth is on, except reading the switch.

Order of checks, visible in which error a bad request gets: the cluster must have
decided its version (etcd's "auth capability"), then the method, then the caller's
rights, then the body. Successful answers and errors after the rights check carry the
cluster id; errors before it do not.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from etcdpy.api import gojson
from etcdpy.api.auth_access import AccessGuard
from etcdpy.api.auth_json import InvalidJSON, decode_role, decode_user
from etcdpy.api.goform import MAX_FORM_BYTES, parse_query
from etcdpy.api.responses import (
    JSON,
    Response,
    continue_body,
    etcd_error,
    message_error,
    method_not_allowed,
    not_found,
)
from etcdpy.server.auth import AuthStore
from etcdpy.server.auth_records import AuthError, Role, User, permissions_empty
from etcdpy.server.member import id_str
from etcdpy.store.errors import EtcdError

if TYPE_CHECKING:
    from etcdpy.server.etcdserver import EtcdServer

log = logging.getLogger("etcdpy.auth")

PREFIX = "/v2/auth"
NOT_CAPABLE = "Not capable of accessing auth feature during rolling upgrades."
INSUFFICIENT = "Insufficient credentials"
INVALID_JSON = "Invalid JSON in request body."
# Larger auth bodies are refused unread: a user or role record is a few hundred bytes.
MAX_BODY_BYTES = MAX_FORM_BYTES

# The HTTP layer's request and response types (duck-typed: method, headers, content,
# content_length; Response(status, body, headers) with force_close()).
HTTPRequest = Any
Handler = Callable[[HTTPRequest, str, bytes], Awaitable[Any]]


def no_auth() -> Response:
    """etcd's writeNoAuth for the auth and members APIs: 401, no cluster id."""
    return message_error(401, INSUFFICIENT)


class AuthHandler:
    def __init__(self, server: EtcdServer, client_cert_auth: bool = False) -> None:
        self.server = server
        self.store = AuthStore(server)
        self.guard = AccessGuard(self.store, client_cert_auth)
        self._cid = id_str(server.cluster_id)

    def _headers(self) -> dict[str, str]:
        return {"Content-Type": JSON, "X-Etcd-Cluster-Id": self._cid}

    def _ok(self, body: object, status: int = 200) -> Response:
        return Response(status=status, body=gojson.dumps_line(body), headers=self._headers())

    def _error(self, exc: Exception) -> Response:
        """etcd's writeError: auth errors as ``{"message"}``, store errors as v2 errors,
        anything else as a bare 500."""
        if isinstance(exc, AuthError):
            return message_error(exc.status, str(exc), self._headers())
        if isinstance(exc, EtcdError):
            return etcd_error(exc, self._headers())
        log.warning("auth request failed: %s", exc)
        return message_error(500, "Internal Server Error", self._headers())

    async def serve(self, request: HTTPRequest, path: str, raw_query: bytes) -> Any:
        sub = path[len(PREFIX) :]
        handler: Handler
        if sub == "/enable":
            handler = self._enable
        elif sub == "/users" or sub.startswith("/users/"):
            handler = self._users
        elif sub == "/roles" or sub.startswith("/roles/"):
            handler = self._roles
        else:
            return not_found()
        if self.server.cluster_version is None:
            return message_error(500, NOT_CAPABLE)
        return await handler(request, sub, raw_query)

    # --- /v2/auth/enable ---------------------------------------------------------------

    async def _enable(self, request: HTTPRequest, _sub: str, _query: bytes) -> Any:
        method = request.method
        if method not in ("GET", "PUT", "DELETE"):
            return method_not_allowed("GET,PUT,DELETE")
        if not await self.guard.write_root_access(request):
            return no_auth()
        enabled = self.store.enabled()
        try:
            if method == "GET":
                return self._ok({"enabled": enabled})
            if method == "PUT":
                await self.store.enable()
            else:
                await self.store.disable()
        except Exception as exc:
            return self._error(exc)
        return Response(status=200, headers=self._headers())

    # --- users ---------------------------------------------------------------------------

    async def _users(self, request: HTTPRequest, sub: str, query: bytes) -> Any:
        pieces = posixpath.normpath(sub).split("/")
        if len(pieces) == 2:
            return await self._all_users(request, query)
        if len(pieces) != 3:
            return message_error(400, "Invalid path")
        return await self._user(request, pieces[2], query)

    async def _all_users(self, request: HTTPRequest, query: bytes) -> Any:
        if request.method != "GET":
            return method_not_allowed("GET")
        if not await self.guard.root_access(request):
            return no_auth()
        try:
            names = await self.store.all_users()
            _parse_form(query)
            users: list[dict[str, object]] = []
            for name in names:
                user = await self.store.get_user(name)
                users.append(await self._with_roles(user, skip_missing=True))
        except Exception as exc:
            return self._error(exc)
        return self._ok({"users": users or None})

    async def _with_roles(self, user: User, skip_missing: bool) -> dict[str, object]:
        """etcd's userWithRoles: the user and its roles in full (``roles`` omitempty)."""
        roles = []
        for name in user.roles or ():
            try:
                role = await self.store.get_role(name)
            except (AuthError, EtcdError, ValueError):
                if skip_missing:
                    continue
                raise
            roles.append(role.to_json())
        out: dict[str, object] = {"user": user.user}
        if roles:
            out["roles"] = roles
        return out

    async def _user(self, request: HTTPRequest, name: str, query: bytes) -> Any:
        method = request.method
        if method not in ("GET", "PUT", "DELETE"):
            return method_not_allowed("GET,PUT,DELETE")
        if not await self.guard.root_access(request):
            return no_auth()
        try:
            if method == "GET":
                user = await self.store.get_user(name)
                _parse_form(query)
                return self._ok(await self._with_roles(user, skip_missing=False))
            if method == "DELETE":
                await self.store.delete_user(name)
                return Response(status=200, headers=self._headers())
            return await self._put_user(request, name)
        except Exception as exc:
            return self._error(exc)

    async def _put_user(self, request: HTTPRequest, name: str) -> Any:
        body = await _read_body(request)
        if body is None:
            resp = message_error(400, INVALID_JSON, self._headers())
            resp.force_close()
            return resp
        try:
            u = decode_user(body)
        except InvalidJSON:
            return message_error(400, INVALID_JSON, self._headers())
        if u.user != name:
            return message_error(
                400, "User JSON name does not match the name in the URL", self._headers()
            )
        created = False
        if not u.grant and not u.revoke:
            if u.roles:
                # etcd answers 200 here even though the user is new.
                out = await self.store.create_user(u)
            else:
                out, created = await self.store.create_or_update_user(u)
        else:
            if u.roles:
                return message_error(
                    400, "User JSON contains both roles and grant/revoke", self._headers()
                )
            out = await self.store.update_user(u)
        shown = User(out.user, "", out.roles, out.grant, out.revoke)
        return self._ok(shown.to_json(), 201 if created else 200)

    # --- roles ---------------------------------------------------------------------------

    async def _roles(self, request: HTTPRequest, sub: str, query: bytes) -> Any:
        pieces = posixpath.normpath(sub).split("/")
        if len(pieces) == 2:
            return await self._all_roles(request, query)
        if len(pieces) != 3:
            return message_error(400, "Invalid path")
        return await self._role(request, pieces[2], query)

    async def _all_roles(self, request: HTTPRequest, query: bytes) -> Any:
        if request.method != "GET":
            return method_not_allowed("GET")
        if not await self.guard.root_access(request):
            return no_auth()
        try:
            names = await self.store.all_roles()
            _parse_form(query)
            roles = [(await self.store.get_role(n)).to_json() for n in names]
        except Exception as exc:
            return self._error(exc)
        return self._ok({"roles": roles or None})

    async def _role(self, request: HTTPRequest, name: str, _query: bytes) -> Any:
        method = request.method
        if method not in ("GET", "PUT", "DELETE"):
            return method_not_allowed("GET,PUT,DELETE")
        if not await self.guard.root_access(request):
            return no_auth()
        try:
            if method == "GET":
                return self._ok((await self.store.get_role(name)).to_json())
            if method == "DELETE":
                await self.store.delete_role(name)
                return Response(status=200, headers=self._headers())
            return await self._put_role(request, name)
        except Exception as exc:
            return self._error(exc)

    async def _put_role(self, request: HTTPRequest, name: str) -> Any:
        body = await _read_body(request)
        if body is None:
            resp = message_error(400, INVALID_JSON, self._headers())
            resp.force_close()
            return resp
        try:
            r = decode_role(body)
        except InvalidJSON:
            return message_error(400, INVALID_JSON, self._headers())
        if r.role != name:
            return message_error(
                400, "Role JSON name does not match the name in the URL", self._headers()
            )
        out: Role
        if permissions_empty(r.grant) and permissions_empty(r.revoke):
            await self.store.create_role(r)
            return self._ok(r.to_json(), 201)
        if not r.permissions.is_empty():
            return message_error(
                400, "Role JSON contains both permissions and grant/revoke", self._headers()
            )
        out = await self.store.update_role(r)
        return self._ok(out.to_json())


def _parse_form(query: bytes) -> None:
    """Go's ParseForm on a GET: only the query; an unparsable one fails the request."""
    err = parse_query(query, {})
    if err is not None:
        raise ValueError(err)


async def _read_body(request: HTTPRequest) -> bytes | None:
    """The whole body, or None when it is longer than :data:`MAX_BODY_BYTES`."""
    n = request.content_length
    if n is not None and n > MAX_BODY_BYTES:
        return None
    await continue_body(request)
    buf = bytearray()
    content = request.content
    while len(buf) <= MAX_BODY_BYTES:
        chunk = await content.read(min(65536, MAX_BODY_BYTES + 1 - len(buf)))
        if not chunk:
            return bytes(buf)
        buf += chunk
    return None
