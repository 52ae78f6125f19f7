"""Request bodies of the auth API, read the way Go's ``json.Decoder.Decode`` reads them
into etcd's ``User`` and ``Role`` structs.

The differences from ``json.loads`` are visible to clients: only the first JSON value is
read (trailing bytes are ignored), ``null`` leaves a field as it was, object keys match
struct fields case-insensitively when no exact match exists, unknown keys are ignored,
and a value of the wrong type anywhere makes the whole body invalid. Any failure is the
same answer for etcd ("Invalid JSON in request body."), so one exception type suffices.
"""

from __future__ import annotations

import json
from typing import Any

from etcdpy.server.auth_records import Permissions, Role, RWPermission, User

_SPACE = " \t\r\n"


class InvalidJSON(ValueError):
    """The body is not one JSON value of the struct's shape."""


def _reject_constant(name: str) -> Any:
    # Python reads NaN and Infinity; Go's scanner does not.
    raise InvalidJSON(name)


_STRICT = json.JSONDecoder(parse_constant=_reject_constant)


def first_value(body: bytes) -> Any:
    """The first JSON value in ``body`` (Go's Decoder: trailing data is not read)."""
    text = body.decode("utf-8", "replace")
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    if i == len(text):
        raise InvalidJSON("EOF")
    try:
        value, _ = _STRICT.raw_decode(text, i)
    except ValueError as exc:
        raise InvalidJSON(str(exc)) from None
    return value


def _fields(obj: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """``obj``'s values by struct field name, matched as Go does (exact name first, then
    case-insensitively; a later key wins)."""
    out: dict[str, Any] = {}
    lowered = {n.lower(): n for n in names}
    for key, value in obj.items():
        name = key if key in names else lowered.get(key.lower())
        if name is not None:
            out[name] = value
    return out


def _string(v: Any, current: str) -> str:
    if v is None:
        return current
    if not isinstance(v, str):
        raise InvalidJSON("not a string")
    return v


def _strings(v: Any) -> list[str] | None:
    if v is None:
        return None
    if not isinstance(v, list):
        raise InvalidJSON("not an array")
    return [_string(x, "") for x in v]


def _object(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise InvalidJSON("not an object")
    return v


def _rw(v: Any, current: RWPermission) -> RWPermission:
    if v is None:
        return current
    f = _fields(_object(v), ("read", "write"))
    read = _strings(f["read"]) if "read" in f else current.read
    write = _strings(f["write"]) if "write" in f else current.write
    return RWPermission(read, write)


def _permissions(v: Any, current: Permissions) -> Permissions:
    if v is None:
        return current
    f = _fields(_object(v), ("kv",))
    return Permissions(_rw(f["kv"], current.kv)) if "kv" in f else current


def _permissions_ptr(v: Any, current: Permissions | None) -> Permissions | None:
    # A JSON null sets a Go pointer to nil; an object fills the pointed-to struct.
    if v is None:
        return None
    return _permissions(v, current if current is not None else Permissions())


def decode_user(body: bytes) -> User:
    doc = first_value(body)
    user = User("")
    if doc is None:
        return user
    f = _fields(_object(doc), ("user", "password", "roles", "grant", "revoke"))
    if "user" in f:
        user.user = _string(f["user"], user.user)
    if "password" in f:
        user.password = _string(f["password"], user.password)
    if "roles" in f:
        user.roles = _strings(f["roles"])
    if "grant" in f:
        user.grant = _strings(f["grant"])
    if "revoke" in f:
        user.revoke = _strings(f["revoke"])
    return user


def decode_role(body: bytes) -> Role:
    doc = first_value(body)
    role = Role("")
    if doc is None:
        return role
    f = _fields(_object(doc), ("role", "permissions", "grant", "revoke"))
    if "role" in f:
        role.role = _string(f["role"], role.role)
    if "permissions" in f:
        role.permissions = _permissions(f["permissions"], role.permissions)
    if "grant" in f:
        role.grant = _permissions_ptr(f["grant"], role.grant)
    if "revoke" in f:
        role.revoke = _permissions_ptr(f["revoke"], role.revoke)
    return role
