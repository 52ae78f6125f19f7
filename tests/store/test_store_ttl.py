"""TTLs: expiry order and events, directories, refresh, rescheduling, the lazy heap."""

from __future__ import annotations

import pytest

from etcdpy.store import EtcdError, Store
from tests.store.conftest import SEC, T0


def test_no_ttl_keys(store: Store) -> None:
    store.set("/1/k", False, "", 0, T0)
    assert not store.has_ttl_keys() and store.next_expiration() is None
    assert store.delete_expired_keys(T0 + 10**6 * SEC) == []
    assert store.index == 1


def test_expire_at_or_after_the_time(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + 5 * SEC, T0)
    assert store.has_ttl_keys() and store.next_expiration() == T0 + 5 * SEC
    assert store.get("/1/k", False, False, T0 + SEC).node.ttl == 4
    assert store.delete_expired_keys(T0 + 5 * SEC - 1) == []
    (e,) = store.delete_expired_keys(T0 + 5 * SEC)
    assert (e.action, e.node.key, e.node.modified_index, e.node.created_index, e.etcd_index) == (
        "expire",
        "/1/k",
        2,
        1,
        2,
    )
    assert e.prev_node is not None and e.prev_node.value == "v"
    assert store.index == 2 and store.history()[-1] is e
    assert not store.has_ttl_keys()
    with pytest.raises(EtcdError):
        store.get("/1/k", False, False, T0)
    assert store.stats()["expireCount"] == 1


def test_expire_order_is_time_then_path_and_one_index_each(store: Store) -> None:
    store.set("/1/c", False, "", T0 + 3 * SEC, T0)
    store.set("/1/b", False, "", T0 + 1 * SEC, T0)
    store.set("/1/a", False, "", T0 + 3 * SEC, T0)
    store.set("/1/late", False, "", T0 + 9 * SEC, T0)
    events = store.delete_expired_keys(T0 + 3 * SEC)
    assert [(e.node.key, e.node.modified_index) for e in events] == [
        ("/1/b", 5),
        ("/1/a", 6),
        ("/1/c", 7),
    ]
    assert store.next_expiration() == T0 + 9 * SEC


def test_late_expiry_shows_negative_ttl_until_swept(store: Store) -> None:
    store.set("/1/k", False, "", T0 + SEC, T0)
    assert store.get("/1/k", False, False, T0 + 3 * SEC).node.ttl == -2


def test_dir_ttl_expires_whole_subtree_in_one_event(store: Store) -> None:
    store.set("/1/d", True, "", T0 + 2 * SEC, T0)
    store.set("/1/d/a", False, "", T0 + 5 * SEC, T0)
    store.set("/1/d/s/b", False, "", 0, T0)
    w = store.watch("/1/d/s/b", False, False, 0, T0)
    events = store.delete_expired_keys(T0 + 10 * SEC)
    assert [(e.action, e.node.key, e.node.dir) for e in events] == [("expire", "/1/d", True)]
    assert events[0].prev_node is not None and events[0].prev_node.dir
    # The child's own TTL died with it.
    assert not store.has_ttl_keys() and store.index == 4
    assert w.pop() is events[0]


def test_child_expires_before_its_dir(store: Store) -> None:
    store.set("/1/d", True, "", T0 + 5 * SEC, T0)
    store.set("/1/d/a", False, "", T0 + 2 * SEC, T0)
    events = store.delete_expired_keys(T0 + 5 * SEC)
    assert [e.node.key for e in events] == ["/1/d/a", "/1/d"]


def test_update_reschedules_and_can_make_permanent(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + 2 * SEC, T0)
    store.update("/1/k", "v", T0 + 20 * SEC, T0)
    assert store.delete_expired_keys(T0 + 10 * SEC) == []
    assert store.next_expiration() == T0 + 20 * SEC
    store.update("/1/k", "v", 0, T0)
    assert not store.has_ttl_keys()
    assert store.delete_expired_keys(T0 + 100 * SEC) == []
    n = store.get("/1/k", False, False, T0).node
    assert n.expiration_ns == 0 and n.ttl == 0


def test_update_can_shorten_ttl(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + 20 * SEC, T0)
    store.update("/1/k", "v", T0 + 2 * SEC, T0)
    assert [e.node.key for e in store.delete_expired_keys(T0 + 3 * SEC)] == ["/1/k"]


def test_permanent_key_gets_a_ttl(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    store.update("/1/k", "v", T0 + SEC, T0)
    assert len(store.delete_expired_keys(T0 + SEC)) == 1


def test_refresh_reschedules_without_notifying(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + 2 * SEC, T0)
    w = store.watch("/1/k", False, False, 0, T0)
    store.set("/1/k", False, "", T0 + 20 * SEC, T0, refresh=True)
    assert store.delete_expired_keys(T0 + 10 * SEC) == []
    assert w.pop() is None
    (e,) = store.delete_expired_keys(T0 + 20 * SEC)
    assert w.pop() is e


def test_replaced_key_loses_old_ttl(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + 2 * SEC, T0)
    store.set("/1/k", False, "w", 0, T0)
    assert store.delete_expired_keys(T0 + 10 * SEC) == []
    assert not store.has_ttl_keys()


def test_deleted_key_ttl_is_forgotten(store: Store) -> None:
    store.set("/1/d/k", False, "v", T0 + 2 * SEC, T0)
    store.delete("/1/d", True, True, T0)
    store.set("/1/d/k", False, "v", 0, T0)
    assert not store.has_ttl_keys()
    assert store.delete_expired_keys(T0 + 10 * SEC) == []


def test_cad_removes_ttl(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + 2 * SEC, T0)
    store.compare_and_delete("/1/k", "v", 0, T0)
    assert not store.has_ttl_keys()


def test_negative_expire_means_permanent(store: Store) -> None:
    store.set("/1/k", False, "v", -5, T0)
    assert not store.has_ttl_keys()


def test_expire_notifies_recursive_and_exact_watchers(store: Store) -> None:
    store.set("/1/d/k", False, "v", T0 + SEC, T0)
    rec = store.watch("/1", True, True, 0, T0)
    exact = store.watch("/1/d/k", False, False, 0, T0)
    (e,) = store.delete_expired_keys(T0 + SEC)
    assert rec.pop() is e and rec.pop() is None
    assert exact.pop() is e


def test_many_refreshes_keep_the_heap_small(store: Store) -> None:
    for k in range(10):
        store.set(f"/1/k{k}", False, "", T0 + 1000 * SEC, T0)
    for i in range(5000):
        store.set(f"/1/k{i % 10}", False, "", T0 + (1000 + i) * SEC, T0, refresh=True)
    assert len(store._ttl) <= 2048
    events = store.delete_expired_keys(T0 + 10**5 * SEC)
    assert sorted(e.node.key for e in events) == sorted(f"/1/k{k}" for k in range(10))
