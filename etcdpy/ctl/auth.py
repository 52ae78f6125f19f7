"""The v2 auth API as etcdctl's Go client calls it (client/auth_user.go, auth_role.go).

Its quirks are visible in etcdctl's output and kept: an error answer's text is the
``message`` of its JSON body (or Go's JSON error when the body is not JSON); a user read
back whose roles are full role objects (etcd 2.2+) first fails to decode into a list of
names, which leaves one empty name per role in front of the real ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from etcdpy.ctl.client import Action, Client, HTTPResult
from etcdpy.ctl.errors import ClientError
from etcdpy.ctl.response import go_json_error

AUTH_PREFIX = "/v2/auth"
JSON = "application/json"

READ, WRITE, READ_WRITE = "read", "write", "readwrite"


@dataclass(slots=True)
class UserInfo:
    user: str
    roles: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RoleInfo:
    role: str
    read: list[str] | None = None
    write: list[str] | None = None

    def same_as(self, other: RoleInfo | None) -> bool:
        return other is not None and (self.role, self.read, self.write) == (
            other.role,
            other.read,
            other.write,
        )


def _marshal(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _status_error(status: int) -> ClientError:
    return ClientError(f"unexpected status code {status}")


def _decode(body: bytes) -> Any:
    text = body.decode("utf-8", "replace")
    err = go_json_error(text)
    if err is not None:
        raise ClientError(err)
    return json.loads(text)


def _auth_error(result: HTTPResult) -> ClientError:
    """authError: the answer's ``message``; an undecodable body gives Go's JSON error."""
    data = _decode(result.body)
    message = ""
    if isinstance(data, dict):
        for k, v in data.items():
            if str(k).lower() == "message" and isinstance(v, str):
                message = v
    return ClientError(message)


def _field(data: dict[str, Any], name: str) -> Any:
    # encoding/json: exact key first, then a case-insensitive match.
    if name in data:
        return data[name]
    for k, v in data.items():
        if str(k).lower() == name:
            return v
    return None


def _strings(v: Any) -> list[str] | None:
    if v is None:
        return None
    if not isinstance(v, list):
        raise ClientError("json: cannot unmarshal into a list of strings")
    return [x if isinstance(x, str) else "" for x in v]


def _role_info(data: Any) -> RoleInfo:
    if not isinstance(data, dict):
        raise ClientError("json: cannot unmarshal the role: object expected")
    perms = _field(data, "permissions") or {}
    kv = _field(perms, "kv") if isinstance(perms, dict) else None
    kv = kv if isinstance(kv, dict) else {}
    role = _field(data, "role")
    return RoleInfo(
        role if isinstance(role, str) else "",
        _strings(_field(kv, "read")),
        _strings(_field(kv, "write")),
    )


def _user_info(data: Any) -> UserInfo:
    if not isinstance(data, dict):
        raise ClientError("json: cannot unmarshal the user: object expected")
    name = _field(data, "user")
    info = UserInfo(name if isinstance(name, str) else "")
    roles = _field(data, "roles")
    if isinstance(roles, list):
        # Decoding into []string leaves "" for every role object; the fallback decode
        # into role objects then appends their names.
        objects = [r for r in roles if isinstance(r, dict)]
        info.roles = [r if isinstance(r, str) else "" for r in roles]
        if objects:
            info.roles += [_role_info(r).role for r in objects]
    return info


def _user_body(user: str, password: str) -> dict[str, Any]:
    # The Go struct's field order; the password is omitempty.
    body: dict[str, Any] = {"user": user}
    if password:
        body["password"] = password
    body["roles"] = None
    return body


class AuthAPI:
    def __init__(self, client: Client) -> None:
        self.client = client

    def _do(
        self, method: str, what: str, name: str, deadline: float, body: dict[str, Any] | None
    ) -> HTTPResult:
        path = f"{AUTH_PREFIX}/{what}/{name}" if name else f"{AUTH_PREFIX}/{what}"
        data = _marshal(body) if body is not None else None
        action = Action(method, path, "join", body=data, content_type=JSON if data else None)
        return self.client.do(action, deadline)

    def _expect(self, result: HTTPResult, *ok: int) -> None:
        if result.status not in ok:
            raise _auth_error(result)

    # --- the switch ---------------------------------------------------------------------

    def enable(self, deadline: float) -> None:
        self._expect(self._do("PUT", "enable", "", deadline, None), 200, 201)

    def disable(self, deadline: float) -> None:
        self._expect(self._do("DELETE", "enable", "", deadline, None), 200, 201)

    # --- users --------------------------------------------------------------------------

    def list_users(self, deadline: float) -> list[str]:
        result = self._do("GET", "users", "", deadline, None)
        self._expect(result, 200)
        data = _decode(result.body)
        users = _field(data, "users") if isinstance(data, dict) else None
        return [_user_info(u).user for u in users or ()]

    def add_user(self, user: str, password: str, deadline: float) -> None:
        body = _user_body(user, password)
        self._expect(self._do("PUT", "users", user, deadline, body), 200, 201)

    def remove_user(self, user: str, deadline: float) -> None:
        self._expect(self._do("DELETE", "users", user, deadline, None), 200, 201)

    def _mod_user(self, result: HTTPResult) -> UserInfo:
        self._expect(result, 200)
        return _user_info(_decode(result.body))

    def get_user(self, user: str, deadline: float) -> UserInfo:
        return self._mod_user(self._do("GET", "users", user, deadline, None))

    def grant_user(self, user: str, roles: list[str], deadline: float) -> UserInfo:
        body = {"user": user, "roles": None, "grant": roles}
        return self._mod_user(self._do("PUT", "users", user, deadline, body))

    def revoke_user(self, user: str, roles: list[str], deadline: float) -> UserInfo:
        body = {"user": user, "roles": None, "revoke": roles}
        return self._mod_user(self._do("PUT", "users", user, deadline, body))

    def change_password(self, user: str, password: str, deadline: float) -> UserInfo:
        body = _user_body(user, password)
        return self._mod_user(self._do("PUT", "users", user, deadline, body))

    # --- roles --------------------------------------------------------------------------

    def list_roles(self, deadline: float) -> list[str]:
        result = self._do("GET", "roles", "", deadline, None)
        if result.status != 200:
            # etcd's client reports only the status here, not the message.
            raise _status_error(result.status)
        data = _decode(result.body)
        roles = _field(data, "roles") if isinstance(data, dict) else None
        return [_role_info(r).role for r in roles or ()]

    def add_role(self, role: str, deadline: float) -> None:
        body = {"role": role, "permissions": {"kv": {"read": None, "write": None}}}
        self._expect(self._do("PUT", "roles", role, deadline, body), 200, 201)

    def remove_role(self, role: str, deadline: float) -> None:
        self._expect(self._do("DELETE", "roles", role, deadline, None), 200, 201)

    def _mod_role(self, result: HTTPResult) -> RoleInfo:
        self._expect(result, 200)
        return _role_info(_decode(result.body))

    def get_role(self, role: str, deadline: float) -> RoleInfo:
        return self._mod_role(self._do("GET", "roles", role, deadline, None))

    def change_role(
        self, role: str, paths: list[str], kind: str, grant: bool, deadline: float
    ) -> RoleInfo:
        rw: dict[str, Any] = {
            "read": paths if kind in (READ, READ_WRITE) else None,
            "write": paths if kind in (WRITE, READ_WRITE) else None,
        }
        body = {
            "role": role,
            "permissions": {"kv": {"read": None, "write": None}},
            "grant" if grant else "revoke": {"kv": rw},
        }
        return self._mod_role(self._do("PUT", "roles", role, deadline, body))
