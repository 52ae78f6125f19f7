"""The Go encodings etcdctl's output depends on, against known Go results."""

from __future__ import annotations

import json

from etcdpy.ctl.client import canonical_url_path, encode_query, escape_path, go_clean
from etcdpy.ctl.output import format_ls, format_response
from etcdpy.ctl.response import Node, Response, go_json_string, go_quote, go_time


def test_go_json_string() -> None:
    # json.Marshal in Go: HTML characters, U+2028/9 and control bytes as \u00XX.
    assert go_json_string('<a href="x">&') == '"\\u003ca href=\\"x\\"\\u003e\\u0026"'
    assert go_json_string("\u2028\u2029") == '"\\u2028\\u2029"'
    assert go_json_string("\b\f\n\r\t\x01\x1f") == '"\\u0008\\u000c\\n\\r\\t\\u0001\\u001f"'
    assert go_json_string("é 漢 🙂 \x7f") == '"é 漢 🙂 \x7f"'
    for text in ("plain", 'q"uote', "back\\slash", "\x00"):
        assert json.loads(go_json_string(text)) == text


def test_go_quote() -> None:
    assert go_quote("n1=http://127.0.0.1:2380") == '"n1=http://127.0.0.1:2380"'
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("tab\there\n") == '"tab\\there\\n"'
    assert go_quote("\x00\x7f") == '"\\x00\\x7f"'
    assert go_quote("é\u00a0\u200b") == '"é\\u00a0\\u200b"'


def test_go_time_reformats_like_time_marshal_json() -> None:
    assert go_time("2026-01-02T03:04:05.123456789Z") == "2026-01-02T03:04:05.123456789Z"
    assert go_time("2026-01-02T03:04:05.120000000Z") == "2026-01-02T03:04:05.12Z"
    assert go_time("2026-01-02T03:04:05.000Z") == "2026-01-02T03:04:05Z"
    assert go_time("2026-01-02T03:04:05+00:00") == "2026-01-02T03:04:05Z"
    assert go_time("2026-01-02T03:04:05.5+02:00") == "2026-01-02T03:04:05.5+02:00"
    assert go_time("not a time") == "not a time"


def test_node_round_trip_keeps_go_zero_values() -> None:
    data = {
        "action": "get",
        "node": {
            "key": "/d",
            "dir": True,
            "nodes": [{"key": "/d/a", "value": "1", "modifiedIndex": 5, "createdIndex": 4}],
            "modifiedIndex": 3,
            "createdIndex": 3,
        },
    }
    resp = Response.from_json(data, index=9)
    assert resp.to_go_json() == (
        '{"action":"get","node":{"key":"/d","dir":true,"value":"","nodes":[{"key":"/d/a",'
        '"value":"1","nodes":null,"createdIndex":4,"modifiedIndex":5}],"createdIndex":3,'
        '"modifiedIndex":3},"prevNode":null}'
    )
    assert format_ls(resp, with_slash=False) == "/d/a\n"


def test_extended_and_simple_formats() -> None:
    resp = Response(
        "delete",
        Node(key="/k", created_index=2, modified_index=7),
        prev_node=Node(key="/k", value="old", created_index=2, modified_index=2),
        index=7,
    )
    assert format_response(resp, "simple") == "PrevNode.Value: old\n"
    assert format_response(resp, "extended") == (
        "Key: /k\nCreated-Index: 2\nModified-Index: 7\nPrevNode.Value: old\nTTL: 0\nIndex: 7\n"
    )
    assert format_response(resp, "xml") is None


def test_deep_listing_is_not_recursive() -> None:
    node = Node(key="/0", dir=True)
    top = node
    for depth in range(1, 3000):
        child = Node(key=f"/{depth}", dir=True)
        node.nodes = [child]
        node = child
    listing = format_ls(Response("get", top), with_slash=True)
    assert listing.count("\n") == 2999
    assert listing.startswith("/1/\n/2/\n")


def test_url_building_like_go() -> None:
    assert go_clean("//v2//keys/./a/../b") == "/v2/keys/b"
    assert canonical_url_path("/v2/keys/dir/") == "/v2/keys/dir/"
    assert canonical_url_path("/v2/keys//a/./b") == "/v2/keys/a/b"
    assert escape_path("/v2/keys/a b/c?d#e%f~g!h") == "/v2/keys/a%20b/c%3Fd%23e%25f~g%21h"
    assert encode_query([("value", "x y&z"), ("ttl", "5")]) == "ttl=5&value=x+y%26z"
