"""JSON rendering: etcd's field order, omitempty rules, RFC3339Nano and ttl rounding."""

from __future__ import annotations

import json

import pytest

from etcdpy.store import Event, NodeExtern, Store
from etcdpy.store.event import rfc3339nano, ttl_seconds
from tests.store.conftest import SEC, T0


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (T0, "2023-11-14T22:13:20Z"),
        (T0 + 1, "2023-11-14T22:13:20.000000001Z"),
        (T0 + 874_888_581, "2023-11-14T22:13:20.874888581Z"),
        (T0 + 500_000_000, "2023-11-14T22:13:20.5Z"),
        (T0 + 120_000, "2023-11-14T22:13:20.00012Z"),
    ],
)
def test_rfc3339nano_like_go(ns: int, text: str) -> None:
    assert rfc3339nano(ns) == text


@pytest.mark.parametrize(
    ("remaining_ns", "ttl"),
    [
        (100 * SEC, 100),
        (99 * SEC + 1, 100),
        (1, 1),
        (0, 0),
        (-1, 0),
        (-SEC + 1, 0),
        (-SEC, -1),
        (-int(1.5 * SEC), -1),
        (-2 * SEC - 1, -2),
    ],
)
def test_ttl_is_go_ceiling(remaining_ns: int, ttl: int) -> None:
    assert ttl_seconds(T0 + remaining_ns, T0) == ttl


def test_node_field_order_and_omitempty() -> None:
    n = NodeExtern(
        "/1/d", None, True, T0 + SEC, 1, [NodeExtern("/1/d/k", "", False, 0, 0, None, 3, 3)], 5, 4
    )
    d = n.to_dict("/1")
    assert list(d) == ["key", "dir", "expiration", "ttl", "nodes", "modifiedIndex", "createdIndex"]
    assert d["nodes"] == [{"key": "/d/k", "value": "", "modifiedIndex": 3, "createdIndex": 3}]
    assert NodeExtern("/1/d", None, True, nodes=[]).to_dict("/1") == {"key": "/d", "dir": True}
    full = NodeExtern("/k", "v", False, T0, -3, None, 1, 1).to_dict()
    assert list(full) == ["key", "value", "expiration", "ttl", "modifiedIndex", "createdIndex"]


def test_root_listing_has_no_key_and_no_indexes(store: Store) -> None:
    e = store.get("/1", False, False, T0)
    assert json.dumps(e.to_dict("/1"), separators=(",", ":")) == (
        '{"action":"get","node":{"dir":true}}'
    )


def test_event_rendering_matches_etcd(store: Store) -> None:
    store.set("/1/foo", False, "bar", 0, T0)
    e = store.set("/1/foo", False, "baz", T0 + 100 * SEC + 248_565_565, T0)
    assert json.dumps(e.to_dict("/1"), separators=(",", ":")) == (
        '{"action":"set","node":{"key":"/foo","value":"baz",'
        '"expiration":"2023-11-14T22:15:00.248565565Z","ttl":101,'
        '"modifiedIndex":2,"createdIndex":2},'
        '"prevNode":{"key":"/foo","value":"bar","modifiedIndex":1,"createdIndex":1}}'
    )


def test_refresh_flag_is_not_rendered(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + SEC, T0)
    e = store.set("/1/k", False, "", T0 + 2 * SEC, T0, refresh=True)
    assert e.refresh and "refresh" not in e.to_dict("/1")


def test_delete_and_expire_events_carry_no_value(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    d = store.delete("/1/k", False, False, T0).to_dict("/1")
    assert d["node"] == {"key": "/k", "modifiedIndex": 2, "createdIndex": 1}
    store.set("/1/e", False, "v", T0 + SEC, T0)
    (ev,) = store.delete_expired_keys(T0 + SEC + 300_000_000)
    assert ev.to_dict("/1") == {
        "action": "expire",
        "node": {"key": "/e", "modifiedIndex": 4, "createdIndex": 3},
        # Late by 0.3 s: ttl rounds to 0 and is omitted, as etcd shows it.
        "prevNode": {
            "key": "/e",
            "value": "v",
            "expiration": "2023-11-14T22:13:21Z",
            "modifiedIndex": 3,
            "createdIndex": 3,
        },
    }


def test_is_created() -> None:
    n = NodeExtern("/k")
    assert Event("create", n).is_created()
    assert Event("set", n).is_created()
    assert not Event("set", n, NodeExtern("/k")).is_created()
    assert not Event("update", n).is_created()


def test_trim_prefix_applies_to_nested_nodes_and_prev_node(store: Store) -> None:
    store.set("/1/a/b/c", False, "v", 0, T0)
    d = store.get("/1", True, False, T0).to_dict("/1")
    assert d["node"]["nodes"][0]["nodes"][0]["nodes"][0]["key"] == "/a/b/c"
    assert store.get("/1/a", True, False, T0).to_dict()["node"]["key"] == "/1/a"
