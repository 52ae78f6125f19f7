"""Store snapshots: round trips of everything, odd shapes, and clear errors on bad data."""

from __future__ import annotations

import msgpack
import pytest

from etcdpy.store import EtcdError, Store, StoreSnapshotError
from tests.store.conftest import SEC, T0


def test_empty_store_round_trip() -> None:
    s = Store(["/0", "/1"])
    t = Store.recover(s.save())
    assert t.index == 0 and t.namespaces == ["/0", "/1"] and t.history() == []
    assert t.get("/", True, True, T0) == s.get("/", True, True, T0)
    with pytest.raises(EtcdError, match="107"):
        t.set("/1", True, "", 0, T0)
    assert t.history_capacity == 1000


def test_round_trip_keeps_everything(store: Store) -> None:
    store.set("/1/a/b", False, "v", T0 + 5 * SEC, T0)
    store.set("/1/d", True, "", T0 + 9 * SEC, T0)
    store.set("/1/_h", False, "hidden", 0, T0)
    store.set("/1/u", False, "ünïcødé \u2028 \x00", 0, T0)
    store.set("/1/u", False, "", T0 + SEC, T0, refresh=True)
    store.create("/1/q", False, "in order", True, 0, T0)
    store.delete("/1/q", True, True, T0)
    store.compare_and_swap("/1/a/b", "v", 0, "w", T0 + 5 * SEC, T0)
    with pytest.raises(EtcdError):
        store.get("/1/nope", False, False, T0)
    t = Store.recover(store.save())
    assert t.index == store.index
    assert t.get("/", True, False, T0) == store.get("/", True, False, T0)
    assert t.get("/1/_h", False, False, T0) == store.get("/1/_h", False, False, T0)
    assert t.history() == store.history()
    assert t.history()[4].refresh
    assert t.stats() == store.stats()
    assert t.next_expiration() == store.next_expiration()
    # TTLs work after recovery, in the same order.
    assert [e.to_dict() for e in t.delete_expired_keys(T0 + 100 * SEC)] == [
        e.to_dict() for e in store.delete_expired_keys(T0 + 100 * SEC)
    ]


def test_unsorted_listing_order_survives(store: Store) -> None:
    for name in ("z", "a", "m"):
        store.set(f"/1/{name}/x", False, "", 0, T0)
    t = Store.recover(store.save())
    assert [n.key for n in t.get("/1", False, False, T0).node.nodes or []] == [
        "/1/z",
        "/1/a",
        "/1/m",
    ]


def test_watchers_are_not_saved(store: Store) -> None:
    store.watch("/1/k", False, True, 0, T0)
    t = Store.recover(store.save())
    assert t.watcher_count == 0 and t.stats()["watchers"] == 0


def test_very_deep_tree(store: Store) -> None:
    deep = "/1/" + "/".join(["d"] * 3000)
    store.set(deep, False, "bottom", T0 + SEC, T0)
    t = Store.recover(store.save())
    assert t.get(deep, False, False, T0).node.value == "bottom"
    assert t.get("/1", True, False, T0).node.nodes is not None
    (e,) = t.delete_expired_keys(T0 + SEC)
    assert e.node.key == deep


def test_history_capacity_survives() -> None:
    s = Store(["/1"], history_capacity=7)
    t = Store.recover(s.save())
    assert t.history_capacity == 7


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not valid msgpack"),
        (b"\xc1", "not valid msgpack"),
        (msgpack.packb([1, 2, 3]), "not an etcdpy store snapshot"),
        (msgpack.packb({"Root": {}}), "not an etcdpy store snapshot"),
        (
            msgpack.packb(["etcdpy-store", 99, 2, 0, [], 1000, [], [], []]),
            "format 99",
        ),
    ],
)
def test_bad_data_is_one_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(StoreSnapshotError, match=match):
        Store.recover(data)


def test_damaged_tree_and_history_are_clear_errors(store: Store) -> None:
    store.set("/1/a/b", False, "v", 0, T0)
    doc = msgpack.unpackb(store.save())
    cut = list(doc)
    cut[6] = doc[6][:-6]
    with pytest.raises(StoreSnapshotError, match="truncated"):
        Store.recover(msgpack.packb(cut))
    extra = list(doc)
    extra[6] = doc[6] + ["x", -1, 1, 1, 0, "v"]
    with pytest.raises(StoreSnapshotError, match="extra nodes"):
        Store.recover(msgpack.packb(extra))
    bad_event = list(doc)
    bad_event[7] = [["set", 1]]
    with pytest.raises(StoreSnapshotError, match="fields"):
        Store.recover(msgpack.packb(bad_event))
    wrong_type = list(doc)
    wrong_type[8] = "nope"
    with pytest.raises(StoreSnapshotError, match="wrong type"):
        Store.recover(msgpack.packb(wrong_type))
    bad_node = list(doc)
    bad_node[6] = [*doc[6][:6], 7, -1, 1, 1, 0, "v", *doc[6][12:]]
    with pytest.raises(StoreSnapshotError, match="damaged"):
        Store.recover(msgpack.packb(bad_node))
    # A clear sentence, no traceback needed to understand it.
    assert str(StoreSnapshotError("x")).endswith("x")
