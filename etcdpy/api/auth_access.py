"""Who may do what, when v2 auth is on (etcd ``hasKeyPrefixAccess``/``hasRootAccess``).

A request names its user with HTTP basic auth, or, when the member runs with
``--client-cert-auth`` and the request has no ``Authorization`` header, with the common
name of its verified client certificate. A keys request without credentials is served
with the guest role's permissions. Credentials that are present but wrong never fall
back to the guest role.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from typing import TYPE_CHECKING, Any

from etcdpy.server.auth_records import GUEST_ROLE, ROOT_ROLE, AuthError, User
from etcdpy.server.errors import ServerError
from etcdpy.store.errors import EtcdError

if TYPE_CHECKING:
    from etcdpy.server.auth import AuthStore

# The HTTP layer's request (duck-typed: method, path, headers.get, and a transport).
HTTPRequest = Any

log = logging.getLogger("etcdpy.auth")

# A refused request is logged, but a client retrying in a loop must not fill the disk:
# at most one line per kind of refusal per interval, with a count of the ones skipped.
# Names and keys come from clients, so they are logged quoted (%r): a newline in one
# cannot forge a log line. Passwords are never logged.
LOG_INTERVAL_S = 1.0
_LOOKUP_ERRORS = (AuthError, EtcdError, ServerError, ValueError)


class _RateLimitedLog:
    __slots__ = ("_last", "_skipped")

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, kind: str, fmt: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -LOG_INTERVAL_S) < LOG_INTERVAL_S:
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return
        self._last[kind] = now
        skipped = self._skipped.pop(kind, 0)
        suffix = f" ({skipped} more like it not logged)" if skipped else ""
        log.warning("auth: " + fmt + suffix, *args)


def basic_credentials(header: str) -> tuple[str, bytes] | None:
    """Go's ``Request.BasicAuth``: (user, password) from ``Basic base64(user:password)``,
    or None when the header is not that."""
    prefix = "basic "
    if len(header) < len(prefix) or header[: len(prefix)].lower() != prefix:
        return None
    # Go's decoder skips CR and LF inside the data; everything else must be base64.
    data = header[len(prefix) :].replace("\r", "").replace("\n", "")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "surrogateescape"), password


def _transport(request: HTTPRequest) -> Any:
    return getattr(request, "transport", None)


def certificate_names(request: HTTPRequest) -> list[str]:
    """The common names etcd tries as user names for a verified client certificate: the
    certificate's own, then its issuer's (the CA's, for a chain of two)."""
    transport = _transport(request)
    if transport is None:
        return []
    cert = transport.get_extra_info("peercert")
    if not cert:
        return []
    names = []
    for field in ("subject", "issuer"):
        cn = ""
        for rdn in cert.get(field, ()):
            for key, value in rdn:
                if key == "commonName":
                    cn = value  # Go keeps the last CN of a name
        if cn:
            names.append(cn)
    return names


class AccessGuard:
    """Answers "may this request do that?" from the auth state in the store."""

    def __init__(self, store: AuthStore, client_cert_auth: bool = False) -> None:
        self.store = store
        self.client_cert_auth = client_cert_auth
        self._log = _RateLimitedLog()

    def enabled(self) -> bool:
        return self.store.enabled()

    async def _basic_user(self, header: str) -> User | None:
        creds = basic_credentials(header)
        if creds is None:
            self._log.warning("malformed", "malformed basic auth encoding")
            return None
        name, password = creds
        try:
            user = await self.store.get_user(name)
        except _LOOKUP_ERRORS:
            return None
        if not await self.store.check_password(user, password):
            self._log.warning("password", "incorrect password for user %r", name)
            return None
        return user

    async def _certificate_user(self, request: HTTPRequest) -> User | None:
        for name in certificate_names(request):
            try:
                return await self.store.get_user(name)
            except _LOOKUP_ERRORS:
                continue
        return None

    async def key_access(self, request: HTTPRequest, key: str, recursive: bool) -> bool:
        """Whether the request may read (GET/HEAD) or write ``key`` (a path below
        ``/v2/keys``). Call only when auth is enabled; the caller has checked."""
        header = request.headers.get("Authorization", "")
        if not header:
            user = await self._certificate_user(request) if self.client_cert_auth else None
            if user is None:
                return await self._guest_access(request, key)
        else:
            user = await self._basic_user(header)
            if user is None:
                return False
        write = request.method not in ("GET", "HEAD")
        for name in user.roles or ():
            try:
                role = await self.store.get_role(name)
            except _LOOKUP_ERRORS:
                continue
            if recursive:
                if role.has_recursive_access(key, write):
                    return True
            elif role.has_key_access(key, write):
                return True
        self._log.warning("key", "invalid access for user %r on key %r", user.user, key)
        return False

    async def _guest_access(self, request: HTTPRequest, key: str) -> bool:
        write = request.method not in ("GET", "HEAD")
        try:
            role = await self.store.get_role(GUEST_ROLE)
        except _LOOKUP_ERRORS:
            return False
        # etcd checks a guest's recursive requests key-wise, not tree-wise.
        if role.has_key_access(key, write):
            return True
        self._log.warning("guest", "invalid access for unauthenticated user on key %r", key)
        return False

    async def root_access(self, request: HTTPRequest) -> bool:
        """Whether the request comes from a user with the root role (or auth is off)."""
        if not self.enabled():
            return True
        header = request.headers.get("Authorization", "")
        if not header and self.client_cert_auth:
            user = await self._certificate_user(request)
        else:
            user = await self._basic_user(header)
        if user is None:
            return False
        if ROOT_ROLE in (user.roles or ()):
            return True
        self._log.warning(
            "root",
            "user %r does not have the root role for resource %r",
            user.user,
            request.path,
        )
        return False

    async def write_root_access(self, request: HTTPRequest) -> bool:
        """Reads are free; anything else needs :meth:`root_access`."""
        if request.method in ("GET", "HEAD"):
            return True
        return await self.root_access(request)
