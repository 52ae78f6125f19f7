"""v2 auth state: users, roles and the on/off switch, kept in the v2 store under ``/2``
(etcd ``v2auth.store``).

Every change is an ordinary v2 request through ``server.do``: a PUT or DELETE under
``/2`` proposed through Raft, so auth state replicates to every member, survives
restarts in the WAL and lands in snapshots with the rest of the store. Clients never see
``/2``: keys requests are confined to ``/1``.

The sequence of store requests is etcd's, one for one (the directories made on the
first change, quorum reads before updates, the guest role made on enable), so that the
store index and the store statistics move exactly as the reference's do. Passwords are
hashed on the member that takes the request, before proposing, so the log and the
snapshots never hold a clear password.
"""

from __future__ import annotations

import logging
import posixpath
from typing import TYPE_CHECKING, TypeVar

from etcdpy.server.auth_password import PasswordChecker
from etcdpy.server.auth_records import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    GUEST_ROLE,
    NOT_FOUND,
    ROOT_ROLE,
    AuthError,
    Role,
    User,
    default_guest_role,
    dump_record,
    load_role,
    load_user,
    root_role,
)
from etcdpy.server.request import Request
from etcdpy.store.errors import ECODE_KEY_NOT_FOUND, ECODE_NODE_EXIST, EtcdError
from etcdpy.store.keypath import clean_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from etcdpy.server.etcdserver import EtcdServer
    from etcdpy.store import Event

log = logging.getLogger("etcdpy.auth")

STORE_PERMS_PREFIX = "/2"
ENABLED_RESOURCE = "/enabled"
# Parsed user and role records kept, by store path, while their modified index holds.
RECORD_CACHE_ENTRIES = 4096

R = TypeVar("R", User, Role)


def _store_path(res: str) -> str:
    # Go's path.Join: joined and cleaned (so "/users/" becomes "/2/users", and a role
    # name like "../users/x" names another path, exactly as in etcd).
    return clean_path(STORE_PERMS_PREFIX + "/" + res)


def _is(err: EtcdError, code: int) -> bool:
    return err.code == code


def _load_user(value: str) -> User:
    user = load_user(value)
    return user.with_root_role() if user.user == ROOT_ROLE else user


class AuthStore:
    """The auth state of one member, read from its store and changed through Raft."""

    def __init__(self, server: EtcdServer, checker: PasswordChecker | None = None) -> None:
        self.server = server
        self.passwords = checker or PasswordChecker()
        # etcd makes /2, /2/users, /2/roles and /2/enabled once per process, on the first
        # change; later members of the cluster find them made (and fail quietly).
        self._ensured = False
        # Every keys request with credentials reads a user and its roles: their JSON is
        # parsed once per version (the store's modified index), not once per request.
        self._records: dict[tuple[str, object], tuple[int, User | Role]] = {}

    # --- the switch --------------------------------------------------------------------

    def enabled(self) -> bool:
        """Whether auth is on (one store read, as etcd's AuthEnabled)."""
        return self.server.auth_enabled()

    async def enable(self) -> None:
        if self.enabled():
            raise AuthError(CONFLICT, "already enabled")
        try:
            await self._get_user(ROOT_ROLE, quorum=True)
        except (AuthError, EtcdError):
            raise AuthError(CONFLICT, "No root user available, please create one") from None
        try:
            await self.get_role(GUEST_ROLE, quorum=True)
        except (AuthError, EtcdError):
            log.info("no guest role access found; creating the default guest role")
            await self.create_role(default_guest_role())
        await self._set_resource(ENABLED_RESOURCE, "true", prev_exist=True)
        log.info("enabled auth")

    async def disable(self) -> None:
        if not self.enabled():
            raise AuthError(CONFLICT, "already disabled")
        await self._set_resource(ENABLED_RESOURCE, "false", prev_exist=True)
        log.info("disabled auth")

    # --- users --------------------------------------------------------------------------

    async def all_users(self) -> list[str]:
        return await self._names("/users/")

    async def get_user(self, name: str) -> User:
        return await self._get_user(name, quorum=False)

    async def _get_user(self, name: str, quorum: bool) -> User:
        try:
            ev = await self._request("/users/" + name, quorum)
        except EtcdError as e:
            if _is(e, ECODE_KEY_NOT_FOUND):
                raise AuthError(NOT_FOUND, f"User {name} does not exist.") from None
            raise
        return self._parsed(ev, _load_user)

    async def create_or_update_user(self, user: User) -> tuple[User, bool]:
        """Update ``user`` if it exists, else create it; the result and whether it was
        created. (etcd cannot tell a password change from a creation otherwise.)"""
        try:
            await self._get_user(user.user, quorum=True)
        except (AuthError, EtcdError):
            return await self.create_user(user), True
        return await self.update_user(user), False

    async def create_user(self, user: User) -> User:
        if user.user == ROOT_ROLE:
            user = user.with_root_role()
        if not user.password:
            raise AuthError(BAD_REQUEST, f"Cannot create user {user.user} with an empty password")
        hashed = await self.passwords.hash(user.password.encode("utf-8", "surrogateescape"))
        stored = User(user.user, hashed, user.roles, user.grant, user.revoke)
        try:
            await self._set_resource("/users/" + user.user, dump_record(stored), prev_exist=False)
        except EtcdError as e:
            if _is(e, ECODE_NODE_EXIST):
                raise AuthError(CONFLICT, f"User {user.user} already exists.") from None
            raise
        log.info("created user %s", user.user)
        return stored

    async def update_user(self, user: User) -> User:
        old = await self._get_user(user.user, quorum=True)
        hashed = ""
        if user.password:
            hashed = await self.passwords.hash(user.password.encode("utf-8", "surrogateescape"))
        new = old.merge(user, lambda: hashed)
        if new == old:
            raise AuthError(
                BAD_REQUEST, "User not updated. Use grant/revoke/password to update the user."
            )
        await self._set_resource("/users/" + user.user, dump_record(new), prev_exist=True)
        log.info("updated user %s", user.user)
        return new

    async def delete_user(self, name: str) -> None:
        if self.enabled() and name == ROOT_ROLE:
            raise AuthError(FORBIDDEN, "Cannot delete root user while auth is enabled.")
        try:
            await self._delete_resource("/users/" + name)
        except EtcdError as e:
            if _is(e, ECODE_KEY_NOT_FOUND):
                raise AuthError(NOT_FOUND, f"User {name} does not exist") from None
            raise
        log.info("deleted user %s", name)

    async def check_password(self, user: User, password: bytes) -> bool:
        return await self.passwords.check(user.user, user.password, password)

    # --- roles --------------------------------------------------------------------------

    async def all_roles(self) -> list[str]:
        names = await self._names("/roles/")
        return sorted([ROOT_ROLE, *names])

    async def get_role(self, name: str, quorum: bool = False) -> Role:
        if name == ROOT_ROLE:
            return root_role()
        try:
            ev = await self._request("/roles/" + name, quorum)
        except EtcdError as e:
            if _is(e, ECODE_KEY_NOT_FOUND):
                raise AuthError(NOT_FOUND, f"Role {name} does not exist.") from None
            raise
        return self._parsed(ev, load_role)

    async def create_role(self, role: Role) -> None:
        if role.role == ROOT_ROLE:
            raise AuthError(FORBIDDEN, f"Cannot modify role {role.role}: is root role.")
        try:
            await self._set_resource("/roles/" + role.role, dump_record(role), prev_exist=False)
        except EtcdError as e:
            if _is(e, ECODE_NODE_EXIST):
                raise AuthError(CONFLICT, f"Role {role.role} already exists.") from None
            raise
        log.info("created role %s", role.role)

    async def update_role(self, role: Role) -> Role:
        if role.role == ROOT_ROLE:
            raise AuthError(FORBIDDEN, f"Cannot modify role {role.role}: is root role.")
        old = await self.get_role(role.role, quorum=True)
        new = old.merge(role)
        if new == old:
            raise AuthError(BAD_REQUEST, "Role not updated. Use grant/revoke to update the role.")
        await self._set_resource("/roles/" + role.role, dump_record(new), prev_exist=True)
        log.info("updated role %s", role.role)
        return new

    async def delete_role(self, name: str) -> None:
        if name == ROOT_ROLE:
            raise AuthError(FORBIDDEN, f"Cannot modify role {name}: is root role.")
        try:
            await self._delete_resource("/roles/" + name)
        except EtcdError as e:
            if _is(e, ECODE_KEY_NOT_FOUND):
                raise AuthError(NOT_FOUND, f"Role {name} doesn't exist.") from None
            raise
        log.info("deleted role %s", name)

    # --- the store ----------------------------------------------------------------------

    def _parsed(self, ev: Event, load: Callable[[str], R]) -> R:
        """The record ``ev`` holds, parsed (or from the cache while its version holds).
        Records are never changed in place, so one object may serve many requests."""
        node = ev.node
        # Keyed by the loader too: a role name like "../users/x" reads a user's record.
        key = (node.key, load)
        cached = self._records.get(key)
        if cached is not None and cached[0] == node.modified_index:
            return cached[1]  # type: ignore[return-value]
        record = load(node.value or "")
        if len(self._records) >= RECORD_CACHE_ENTRIES:
            self._records.clear()
        self._records[key] = (node.modified_index, record)
        return record

    async def _names(self, res: str) -> list[str]:
        try:
            ev = await self._request(res, False)
        except EtcdError as e:
            if _is(e, ECODE_KEY_NOT_FOUND):
                return []
            raise
        return sorted(posixpath.basename(n.key) for n in ev.node.nodes or ())

    async def _request(self, res: str, quorum: bool) -> Event:
        ev = await self.server.do(Request(method="GET", path=_store_path(res), quorum=quorum))
        return ev  # type: ignore[return-value]

    async def _ensure_directories(self) -> None:
        if self._ensured:
            return
        for res in ("", "/users/", "/roles/"):
            try:
                await self.server.do(
                    Request(method="PUT", path=_store_path(res), dir=True, prev_exist=False)
                )
            except EtcdError as e:
                if not _is(e, ECODE_NODE_EXIST):
                    log.warning("creating the auth directories failed: %s", e)
                    raise
        try:
            await self.server.do(
                Request(
                    method="PUT",
                    path=_store_path(ENABLED_RESOURCE),
                    val="false",
                    prev_exist=False,
                )
            )
        except EtcdError as e:
            if not _is(e, ECODE_NODE_EXIST):
                raise
        self._ensured = True

    async def _set_resource(self, res: str, value: str, prev_exist: bool) -> None:
        await self._ensure_directories()
        await self.server.do(
            Request(method="PUT", path=_store_path(res), val=value, prev_exist=prev_exist)
        )

    async def _delete_resource(self, res: str) -> None:
        await self._ensure_directories()
        await self.server.do(Request(method="DELETE", path=_store_path(res), prev_exist=True))
