"""The v2 keys API requests etcdctl sends, with the same parameters and encodings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

from etcdpy.ctl.client import Action, Client, HTTPResult, encode_query
from etcdpy.ctl.errors import EMPTY_BODY, INVALID_JSON, ClientError, EtcdClientError
from etcdpy.ctl.response import DecodeError, Response

KEYS_PREFIX = "/v2/keys"
FORM = "application/x-www-form-urlencoded"
UINT64 = 2**64

PrevExist = Literal["", "true", "false"]
NO_NODE = "client: the response has no node; the endpoint is probably not an etcd v2 member"


def _key_path(key: str) -> str:
    return KEYS_PREFIX + (key if key.startswith("/") else "/" + key)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return encode_query(pairs).encode("ascii")


def get_action(key: str, *, recursive: bool, sort: bool, quorum: bool) -> Action:
    query = [("recursive", _bool(recursive)), ("sorted", _bool(sort)), ("quorum", _bool(quorum))]
    return Action("GET", _key_path(key), query=query)


def set_action(
    key: str,
    value: str,
    *,
    ttl: int = 0,
    prev_value: str = "",
    prev_index: int = 0,
    prev_exist: PrevExist = "",
    dir: bool = False,
) -> Action:
    query: list[tuple[str, str]] = []
    form: list[tuple[str, str]] = []
    if dir:
        query.append(("dir", "true"))
    else:
        if prev_value:
            query.append(("prevValue", prev_value))
        form.append(("value", value))
    if prev_index % UINT64:
        query.append(("prevIndex", str(prev_index % UINT64)))
    if prev_exist:
        query.append(("prevExist", prev_exist))
    if ttl > 0:
        form.append(("ttl", str(ttl)))
    return Action("PUT", _key_path(key), query=query, body=_form(form), content_type=FORM)


def delete_action(
    key: str,
    *,
    prev_value: str = "",
    prev_index: int = 0,
    dir: bool = False,
    recursive: bool = False,
) -> Action:
    query: list[tuple[str, str]] = []
    if prev_value:
        query.append(("prevValue", prev_value))
    if prev_index % UINT64:
        query.append(("prevIndex", str(prev_index % UINT64)))
    if dir:
        query.append(("dir", "true"))
    if recursive:
        query.append(("recursive", "true"))
    return Action("DELETE", _key_path(key), query=query, content_type=FORM)


def create_in_order_action(dir: str, value: str, *, ttl: int = 0) -> Action:
    form = [("value", value)]
    if ttl > 0:
        form.append(("ttl", str(ttl)))
    return Action("POST", _key_path(dir), body=_form(form), content_type=FORM)


def wait_action(key: str, *, wait_index: int, recursive: bool) -> Action:
    query = [("wait", "true"), ("waitIndex", str(wait_index)), ("recursive", _bool(recursive))]
    return Action("GET", _key_path(key), query=query, wait=True)


def decode_body(body: bytes) -> object:
    # Go replaces invalid UTF-8 with U+FFFD while decoding; so does 'replace'.
    return json.loads(body.decode("utf-8", "replace"))


def unmarshal(result: HTTPResult) -> Response:
    """unmarshalHTTPResponse: a Response for 200/201, an EtcdClientError otherwise."""
    if result.status in (200, 201):
        if not result.body:
            raise ClientError(EMPTY_BODY)
        try:
            data = decode_body(result.body)
            index_header = result.headers.get("X-Etcd-Index", "")
            index = int(index_header) if index_header else 0
            response = Response.from_json(data, index)
        except (ValueError, DecodeError):
            raise ClientError(INVALID_JSON) from None
        if not response.has_node:
            # etcdctl dereferences the missing node and crashes; say what is wrong instead.
            raise ClientError(NO_NODE)
        return response
    try:
        error = EtcdClientError.from_json(decode_body(result.body))
    except (ValueError, DecodeError):
        raise ClientError(INVALID_JSON) from None
    raise error


class KeysAPI:
    """client.KeysAPI over a :class:`Client`; every call takes the command's deadline."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get(
        self,
        key: str,
        deadline: float | None,
        *,
        recursive: bool = False,
        sort: bool = False,
        quorum: bool = False,
    ) -> Response:
        action = get_action(key, recursive=recursive, sort=sort, quorum=quorum)
        return unmarshal(self.client.do(action, deadline))

    def set(
        self,
        key: str,
        value: str,
        deadline: float | None,
        *,
        ttl: int = 0,
        prev_value: str = "",
        prev_index: int = 0,
        prev_exist: PrevExist = "",
        dir: bool = False,
    ) -> Response:
        action = set_action(
            key,
            value,
            ttl=ttl,
            prev_value=prev_value,
            prev_index=prev_index,
            prev_exist=prev_exist,
            dir=dir,
        )
        # A create-only write must not be replayed on another member after a failure.
        return unmarshal(self.client.do(action, deadline, one_shot=prev_exist == "false"))

    def delete(
        self,
        key: str,
        deadline: float | None,
        *,
        prev_value: str = "",
        prev_index: int = 0,
        dir: bool = False,
        recursive: bool = False,
    ) -> Response:
        action = delete_action(
            key, prev_value=prev_value, prev_index=prev_index, dir=dir, recursive=recursive
        )
        # Deletes are never retried on another member (the Go client's one-shot mode).
        return unmarshal(self.client.do(action, deadline, one_shot=True))

    def create_in_order(self, dir: str, value: str, deadline: float | None, ttl: int) -> Response:
        action = create_in_order_action(dir, value, ttl=ttl)
        return unmarshal(self.client.do(action, deadline))

    def watch(self, key: str, *, after_index: int, recursive: bool) -> Iterator[Response]:
        """httpWatcher.Next forever: long-poll, then continue after the event's index."""
        after = after_index % UINT64
        wait_index = (after + 1) % UINT64 if after > 0 else 0
        while True:
            result = self.client.do(
                wait_action(key, wait_index=wait_index, recursive=recursive), None
            )
            try:
                response = unmarshal(result)
            except ClientError as exc:
                # The server closed the long poll without an event: ask again.
                if str(exc) == EMPTY_BODY and not isinstance(exc, EtcdClientError):
                    continue
                raise
            wait_index = (response.node.modified_index + 1) % UINT64
            yield response
