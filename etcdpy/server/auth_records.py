"""v2 auth records: users, roles and key permissions (etcd ``v2auth`` types and merges).

Users and roles live in the v2 store under ``/2/users/<name>`` and ``/2/roles/<name>`` as
JSON, written through Raft like any key, so every member and every snapshot has them.

Go distinguishes a nil list from an empty one, and etcd shows the difference to clients
(``"roles":null`` for a user created without roles, ``"roles":[]`` once any update ran),
and decides "nothing changed" with ``reflect.DeepEqual``, which tells them apart too. So
lists here are ``list[str] | None`` and equality is the dataclasses' ``==``, which keeps
that distinction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROOT_ROLE = "root"
GUEST_ROLE = "guest"

# HTTP statuses etcd attaches to auth errors.
BAD_REQUEST = 400
FORBIDDEN = 403
NOT_FOUND = 404
CONFLICT = 409


class AuthError(Exception):
    """An auth request etcd refuses; ``str()`` is etcd's message (``auth: ...``), which
    clients see as ``{"message": ...}`` with :attr:`status`."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__("auth: " + text)
        self.status = status


def _set_values(items: set[str]) -> list[str]:
    # Go's unsafeSet.Values() is never nil, and etcd sorts it afterwards.
    return sorted(items)


@dataclass(slots=True)
class RWPermission:
    """Key patterns a role may read and write: ``/a/b`` exactly, ``/a/*`` by prefix."""

    read: list[str] | None = None
    write: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"read": self.read, "write": self.write}

    def grant(self, n: RWPermission) -> RWPermission:
        read = set(self.read or ())
        for r in n.read or ():
            if r in read:
                raise AuthError(CONFLICT, f"Granting duplicate read permission {r}")
            read.add(r)
        write = set(self.write or ())
        for w in n.write or ():
            if w in write:
                raise AuthError(CONFLICT, f"Granting duplicate write permission {w}")
            write.add(w)
        return RWPermission(_set_values(read), _set_values(write))

    def revoke(self, n: RWPermission) -> RWPermission:
        # Revoking what was never granted is not an error for etcd (it only logs it).
        read = set(self.read or ())
        read.difference_update(n.read or ())
        write = set(self.write or ())
        write.difference_update(n.write or ())
        return RWPermission(_set_values(read), _set_values(write))

    def has_access(self, key: str, write: bool) -> bool:
        patterns = self.write if write else self.read
        return any(_simple_match(p, key) for p in patterns or ())

    def has_recursive_access(self, key: str, write: bool) -> bool:
        patterns = self.write if write else self.read
        return any(_prefix_match(p, key) for p in patterns or ())


def _simple_match(pattern: str, key: str) -> bool:
    # etcd indexes pattern[len-1] unguarded and crashes the request on an empty pattern;
    # an empty pattern simply matches nothing here.
    if not pattern:
        return False
    if pattern[-1] == "*":
        return key.startswith(pattern[:-1])
    return key == pattern


def _prefix_match(pattern: str, key: str) -> bool:
    # A recursive read or write needs a wildcard: an exact pattern never covers a tree.
    if not pattern or pattern[-1] != "*":
        return False
    return key.startswith(pattern[:-1])


@dataclass(slots=True)
class Permissions:
    kv: RWPermission = field(default_factory=RWPermission)

    def is_empty(self) -> bool:
        return not self.kv.read and not self.kv.write

    def to_json(self) -> dict[str, Any]:
        return {"kv": self.kv.to_json()}


def permissions_empty(p: Permissions | None) -> bool:
    """etcd's ``(*Permissions).IsEmpty``: true for nil too."""
    return p is None or p.is_empty()


@dataclass(slots=True)
class Role:
    role: str
    permissions: Permissions = field(default_factory=Permissions)
    grant: Permissions | None = None
    revoke: Permissions | None = None

    def to_json(self) -> dict[str, Any]:
        """The Go struct's JSON: grant and revoke only when set (``omitempty`` pointers)."""
        out: dict[str, Any] = {"role": self.role, "permissions": self.permissions.to_json()}
        if self.grant is not None:
            out["grant"] = self.grant.to_json()
        if self.revoke is not None:
            out["revoke"] = self.revoke.to_json()
        return out

    def merge(self, n: Role) -> Role:
        """This role with ``n``'s grants, then ``n``'s revokes, applied."""
        if self.role != n.role:
            raise AuthError(CONFLICT, f"Merging role with conflicting names: {self.role} {n.role}")
        perms = self.permissions
        if n.grant is not None:
            perms = Permissions(perms.kv.grant(n.grant.kv))
        if n.revoke is not None:
            perms = Permissions(perms.kv.revoke(n.revoke.kv))
        return Role(self.role, perms)

    def has_key_access(self, key: str, write: bool) -> bool:
        if self.role == ROOT_ROLE:
            return True
        return self.permissions.kv.has_access(key, write)

    def has_recursive_access(self, key: str, write: bool) -> bool:
        if self.role == ROOT_ROLE:
            return True
        return self.permissions.kv.has_recursive_access(key, write)


def root_role() -> Role:
    """The built-in root role: everything, never stored, never modifiable."""
    return Role(ROOT_ROLE, Permissions(RWPermission(["/*"], ["/*"])))


def default_guest_role() -> Role:
    """The guest role etcd creates when auth is enabled without one: everything."""
    return Role(GUEST_ROLE, Permissions(RWPermission(["/*"], ["/*"])))


@dataclass(slots=True)
class User:
    user: str
    # The slow hash when stored; the clear password only in a request being handled.
    password: str = ""
    roles: list[str] | None = None
    grant: list[str] | None = None
    revoke: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The Go struct's JSON: password, grant and revoke are ``omitempty``."""
        out: dict[str, Any] = {"user": self.user}
        if self.password:
            out["password"] = self.password
        out["roles"] = self.roles
        if self.grant:
            out["grant"] = self.grant
        if self.revoke:
            out["revoke"] = self.revoke
        return out

    def with_root_role(self) -> User:
        """etcd's attachRootRole: the root user always holds the root role."""
        roles = self.roles or []
        if ROOT_ROLE in roles:
            return self
        return User(self.user, self.password, [*roles, ROOT_ROLE], self.grant, self.revoke)

    def merge(self, n: User, hashed_password: Callable[[], str]) -> User:
        """This user with ``n``'s password (hashed by ``hashed_password``, called only
        when ``n`` has one), grants and revokes applied."""
        if self.user != n.user:
            raise AuthError(
                CONFLICT, f"Merging user data with conflicting usernames: {self.user} {n.user}"
            )
        password = hashed_password() if n.password else self.password
        roles = set(self.roles or ())
        for g in n.grant or ():
            if g in roles:
                raise AuthError(CONFLICT, f"Granting duplicate role {g} for user {n.user}")
            roles.add(g)
        for r in n.revoke or ():
            if r not in roles:
                raise AuthError(CONFLICT, f"Revoking ungranted role {r} for user {n.user}")
            roles.discard(r)
        return User(self.user, password, _set_values(roles))


# --- stored JSON ------------------------------------------------------------------------
# Only etcdpy writes these values (clients cannot reach /2), so plain JSON suffices.


def dump_record(obj: User | Role) -> str:
    return json.dumps(obj.to_json(), separators=(",", ":"), ensure_ascii=False)


def _str_list(v: Any) -> list[str] | None:
    if v is None:
        return None
    return [str(x) if x is not None else "" for x in v]


def _perms(v: Any) -> Permissions:
    kv = (v or {}).get("kv") or {}
    return Permissions(RWPermission(_str_list(kv.get("read")), _str_list(kv.get("write"))))


def load_user(value: str) -> User:
    d = json.loads(value)
    return User(
        str(d.get("user") or ""),
        str(d.get("password") or ""),
        _str_list(d.get("roles")),
        _str_list(d.get("grant")),
        _str_list(d.get("revoke")),
    )


def load_role(value: str) -> Role:
    d = json.loads(value)
    return Role(
        str(d.get("role") or ""),
        _perms(d.get("permissions")),
        _perms(d["grant"]) if d.get("grant") is not None else None,
        _perms(d["revoke"]) if d.get("revoke") is not None else None,
    )
