"""The v2 members API as etcdctl's Go client calls it (client/members.go)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from etcdpy.ctl.client import Action, Client, HTTPResult
from etcdpy.ctl.errors import ClientError
from etcdpy.ctl.keys import decode_body
from etcdpy.ctl.response import go_json_error

MEMBERS_PREFIX = "/v2/members"
JSON = "application/json"


@dataclass(slots=True)
class Member:
    id: str
    name: str = ""
    peer_urls: list[str] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: object) -> Member:
        if not isinstance(data, dict):
            raise ClientError("json: cannot unmarshal member: object expected")
        # encoding/json matches field names case-insensitively.
        lowered = {str(k).lower(): v for k, v in data.items()}

        def text(name: str) -> str:
            value = lowered.get(name)
            if value is None:
                return ""
            if not isinstance(value, str):
                raise ClientError(f"json: cannot unmarshal {name} into a string")
            return value

        def texts(name: str) -> list[str]:
            value = lowered.get(name)
            if value is None:
                return []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ClientError(f"json: cannot unmarshal {name} into a list of strings")
            return list(value)

        return cls(text("id"), text("name"), texts("peerurls"), texts("clienturls"))


def _expect(result: HTTPResult, *wanted: int) -> None:
    if result.status not in wanted:
        raise ClientError(f"unexpected status code {result.status}")


def _decode(result: HTTPResult) -> object:
    try:
        return decode_body(result.body)
    except ValueError:
        text = result.body.decode("utf-8", "replace")
        raise ClientError(go_json_error(text) or "unexpected end of JSON input") from None


def _members_error(result: HTTPResult) -> ClientError:
    data = _decode(result)
    message = data.get("message", "") if isinstance(data, dict) else ""
    return ClientError(message if isinstance(message, str) else "")


def check_urls(urls: list[str]) -> list[str]:
    """types.NewURLs: http(s)/unix(s) scheme, host:port, no path; returned sorted."""
    from etcdpy.ctl.client import parse_endpoint

    if not urls:
        raise ClientError("no valid URLs given")
    out: list[str] = []
    for text in urls:
        text = text.strip()
        try:
            endpoint = parse_endpoint(text, default_scheme="")
        except ClientError as exc:
            raise ClientError(str(exc)) from None
        if endpoint.scheme not in ("http", "https", "unix", "unixs"):
            raise ClientError(f"URL scheme must be http, https, unix, or unixs: {text}")
        if endpoint.port is None and not endpoint.netloc.endswith(":"):
            raise ClientError(f'URL address does not have the form "host:port": {text}')
        if endpoint.path:
            raise ClientError(f"URL must not contain a path: {text}")
        out.append(endpoint.text)
    return sorted(out)


def _body(urls: list[str]) -> bytes:
    return json.dumps({"peerURLs": urls}, separators=(",", ":")).encode()


class MembersAPI:
    def __init__(self, client: Client) -> None:
        self.client = client

    def list(self, deadline: float | None) -> list[Member]:
        result = self.client.do(Action("GET", MEMBERS_PREFIX, "join"), deadline)
        _expect(result, 200)
        data = _decode(result)
        if not isinstance(data, dict):
            raise ClientError("json: cannot unmarshal the members list: object expected")
        lowered = {str(k).lower(): v for k, v in data.items()}
        members = lowered.get("members") or []
        if not isinstance(members, list):
            raise ClientError("json: cannot unmarshal the members list: array expected")
        return [Member.from_json(item) for item in members]

    def leader(self, deadline: float | None) -> Member:
        result = self.client.do(Action("GET", MEMBERS_PREFIX + "/leader", "join"), deadline)
        _expect(result, 200)
        return Member.from_json(_decode(result))

    def add(self, peer_url: str, deadline: float | None) -> Member:
        urls = check_urls([peer_url])
        action = Action("POST", MEMBERS_PREFIX, "join", body=_body(urls), content_type=JSON)
        result = self.client.do(action, deadline)
        _expect(result, 201, 409)
        if result.status != 201:
            raise _members_error(result)
        return Member.from_json(_decode(result))

    def remove(self, member_id: str, deadline: float | None) -> None:
        result = self.client.do(Action("DELETE", f"{MEMBERS_PREFIX}/{member_id}", "join"), deadline)
        _expect(result, 204, 410)

    def update(self, member_id: str, peer_urls: list[str], deadline: float | None) -> None:
        urls = check_urls(peer_urls)
        action = Action(
            "PUT", f"{MEMBERS_PREFIX}/{member_id}", "join", body=_body(urls), content_type=JSON
        )
        result = self.client.do(action, deadline)
        _expect(result, 204, 404, 409)
        if result.status != 204:
            raise _members_error(result)
