"""Watches: live notification, history scans and their 401 edges, hidden keys, removed
directories, stream watchers, overflow, and the notify callback."""

from __future__ import annotations

import pytest

from etcdpy.store import WATCHER_QUEUE_LIMIT, EtcdError, Event, Store, Watcher
from tests.store.conftest import SEC, T0


def drain(w: Watcher) -> list[Event]:
    out: list[Event] = []
    for _ in range(10_000):
        e = w.pop()
        if e is None:
            return out
        out.append(e)
    raise AssertionError("watcher never ran dry")


def keys(events: list[Event]) -> list[tuple[str, str, int]]:
    return [(e.action, e.node.key, e.node.modified_index) for e in events]


# ------------------------------------------------------------------ live, one-shot


def test_one_shot_watch_fires_once_and_closes(store: Store) -> None:
    w = store.watch("/1/k", False, False, 0, T0)
    assert (w.since_index, w.start_index, w.closed, store.watcher_count) == (1, 0, False, 1)
    assert w.pop() is None
    store.set("/1/other", False, "", 0, T0)
    assert w.pop() is None
    store.set("/1/k", False, "v", 0, T0)
    assert w.closed and store.watcher_count == 0
    assert keys(drain(w)) == [("set", "/1/k", 2)]
    store.set("/1/k", False, "w", 0, T0)
    assert w.pop() is None


def test_exact_vs_recursive(store: Store) -> None:
    exact = store.watch("/1/d", False, False, 0, T0)
    rec = store.watch("/1/d", True, False, 0, T0)
    root_rec = store.watch("/", True, False, 0, T0)
    store.set("/1/d/k", False, "v", 0, T0)
    assert not exact.closed and exact.pop() is None
    assert keys(drain(rec)) == [("set", "/1/d/k", 1)]
    assert keys(drain(root_rec)) == [("set", "/1/d/k", 1)]
    store.set("/1/d/k2", False, "v", 0, T0)
    assert exact.pop() is None
    store.delete("/1/d", True, True, T0)
    assert keys(drain(exact)) == [("delete", "/1/d", 3)]


def test_recursive_watch_does_not_match_sibling_prefix(store: Store) -> None:
    w = store.watch("/1/foo", True, True, 0, T0)
    store.set("/1/foobar", False, "", 0, T0)
    store.set("/1/foo/bar", False, "", 0, T0)
    assert keys(drain(w)) == [("set", "/1/foo/bar", 2)]


def test_watch_event_carries_its_own_index_and_watch_start_index(store: Store) -> None:
    store.set("/1/x", False, "", 0, T0)
    w = store.watch("/1/k", False, False, 0, T0)
    assert w.start_index == 1
    store.set("/1/x", False, "", 0, T0)
    store.set("/1/k", False, "", 0, T0)
    (e,) = drain(w)
    assert e.etcd_index == 3


def test_since_index_in_the_future_waits(store: Store) -> None:
    w = store.watch("/1/k", False, False, 3, T0)
    store.set("/1/k", False, "a", 0, T0)
    store.set("/1/k", False, "b", 0, T0)
    assert w.pop() is None
    store.set("/1/k", False, "c", 0, T0)
    assert keys(drain(w)) == [("set", "/1/k", 3)]


# ------------------------------------------------------------------ history


def test_history_hit_answers_at_once_with_current_index(store: Store) -> None:
    store.set("/1/k", False, "a", 0, T0)
    store.set("/1/z", False, "", 0, T0)
    w = store.watch("/1/k", False, False, 1, T0)
    assert w.closed and store.watcher_count == 0
    (e,) = drain(w)
    assert (e.node.value, e.node.modified_index, e.etcd_index) == ("a", 1, 2)
    # The stored event keeps its own index.
    assert store.history()[0].etcd_index == 1


def test_history_miss_registers(store: Store) -> None:
    store.set("/1/a", False, "", 0, T0)
    w = store.watch("/1/k", False, False, 1, T0)
    assert not w.closed and store.watcher_count == 1
    store.set("/1/k", False, "", 0, T0)
    assert keys(drain(w)) == [("set", "/1/k", 2)]


def test_empty_history_never_clears(store: Store) -> None:
    assert store.history() == []
    w = store.watch("/1/k", False, False, 1, T0)
    assert not w.closed
    w2 = store.watch("/1/k", True, False, 12345, T0)
    assert not w2.closed


def test_401_boundary() -> None:
    s = Store(["/1"], history_capacity=5)
    for i in range(8):
        s.set("/1/k", False, str(i), 0, T0)
    # Kept: events 4..8.
    assert [e.index for e in s.history()] == [4, 5, 6, 7, 8]
    w = s.watch("/1/k", False, False, 4, T0)
    assert drain(w)[0].node.value == "3"
    with pytest.raises(EtcdError) as info:
        s.watch("/1/k", False, False, 3, T0)
    err = info.value
    assert (err.code, err.cause, err.index, err.http_status) == (
        401,
        "the requested history has been cleared [4/3]",
        8,
        400,
    )
    with pytest.raises(EtcdError):
        s.watch("/1/k", False, True, 1, T0)
    # sinceIndex 0 means "the next one" and never fails.
    assert not s.watch("/1/k", False, False, 0, T0).closed


def test_default_history_is_1000_shared_by_all_keys(store: Store) -> None:
    store.set("/1/watched", False, "", 0, T0)
    for i in range(1000):
        store.set(f"/1/other{i % 3}", False, "", 0, T0)
    with pytest.raises(EtcdError) as info:
        store.watch("/1/watched", False, False, 1, T0)
    assert info.value.cause == "the requested history has been cleared [2/1]"


def test_history_scan_skips_refresh_events(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + SEC, T0)
    store.set("/1/k", False, "", T0 + 2 * SEC, T0, refresh=True)
    store.update("/1/k", "", T0 + 3 * SEC, T0, refresh=True)
    w = store.watch("/1/k", False, False, 2, T0)
    assert not w.closed and w.pop() is None
    assert [e.refresh for e in store.history()] == [False, True, True]


def test_history_dir_removal_matches_watchers_below_by_path(store: Store) -> None:
    store.set("/1/foo/a/b", False, "", 0, T0)
    store.set("/1/foobar", False, "", 0, T0)
    store.delete("/1/foo", True, True, T0)
    below = store.watch("/1/foo/a/b", False, False, 3, T0)
    assert keys(drain(below)) == [("delete", "/1/foo", 3)]
    assert keys(drain(store.watch("/1/foo/never/existed", False, False, 3, T0))) == [
        ("delete", "/1/foo", 3)
    ]
    sibling = store.watch("/1/foobar", False, False, 3, T0)
    assert not sibling.closed


def test_history_recursive_scan(store: Store) -> None:
    store.set("/1/d/x", False, "", 0, T0)
    store.set("/1/d/_h", False, "", 0, T0)
    store.set("/1/d/y", False, "", 0, T0)
    assert keys(drain(store.watch("/1/d", True, False, 1, T0))) == [("set", "/1/d/x", 1)]
    # Hidden keys below the watched path are skipped in the history as they are live.
    assert keys(drain(store.watch("/1/d", True, False, 2, T0))) == [("set", "/1/d/y", 3)]
    assert keys(drain(store.watch("/1/d/_h", False, False, 2, T0))) == [("set", "/1/d/_h", 2)]
    assert keys(drain(store.watch("/", True, False, 1, T0))) == [("set", "/1/d/x", 1)]


# ------------------------------------------------------------------ hidden keys


def test_hidden_keys_reach_only_exact_watchers(store: Store) -> None:
    parent = store.watch("/1/d", True, True, 0, T0)
    root = store.watch("/", True, True, 0, T0)
    exact = store.watch("/1/d/_h", False, True, 0, T0)
    inside = store.watch("/1/d/_h", True, True, 0, T0)
    store.set("/1/d/_h", False, "", 0, T0)
    store.set("/1/d/_hd/x", False, "", 0, T0)
    assert parent.pop() is None and root.pop() is None
    assert keys(drain(exact)) == [("set", "/1/d/_h", 1)]
    assert keys(drain(inside)) == [("set", "/1/d/_h", 1)]
    w = store.watch("/1/d/_hd", True, True, 0, T0)
    store.set("/1/d/_hd/y", False, "", 0, T0)
    assert keys(drain(w)) == [("set", "/1/d/_hd/y", 3)]


# ------------------------------------------------------------------ removals


def test_dir_delete_fires_watchers_below(store: Store) -> None:
    store.set("/1/d/a/b", False, "", 0, T0)
    store.set("/1/d/_h", False, "", 0, T0)
    ws = {
        p: store.watch(p, False, False, 0, T0)
        for p in ("/1/d/a/b", "/1/d/a", "/1/d/_h", "/1/d/missing", "/1/dx")
    }
    e = store.delete("/1/d", True, True, T0)
    for p in ("/1/d/a/b", "/1/d/a", "/1/d/_h"):
        assert drain(ws[p]) == [e], p
        assert ws[p].closed
    # No node existed there: etcd tells nobody.
    assert ws["/1/d/missing"].pop() is None
    assert ws["/1/dx"].pop() is None
    assert store.watcher_count == 2


def test_dir_delete_with_many_watched_paths_walks_the_subtree(store: Store) -> None:
    store.set("/1/d/a/b", False, "", 0, T0)
    many = [store.watch(f"/1/elsewhere/{i}", False, False, 0, T0) for i in range(300)]
    w = store.watch("/1/d/a/b", False, False, 0, T0)
    store.delete("/1/d", True, True, T0)
    assert keys(drain(w)) == [("delete", "/1/d", 2)]
    assert all(m.pop() is None for m in many)


def test_cad_notifies_exact_watcher(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    w = store.watch("/1/k", False, False, 0, T0)
    store.compare_and_delete("/1/k", "v", 0, T0)
    assert keys(drain(w)) == [("compareAndDelete", "/1/k", 2)]


def test_refresh_does_not_notify(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + SEC, T0)
    w = store.watch("/1/k", False, True, 0, T0)
    store.set("/1/k", False, "", T0 + 5 * SEC, T0, refresh=True)
    store.update("/1/k", "", T0 + 5 * SEC, T0, refresh=True)
    store.compare_and_swap("/1/k", "v", 0, "", T0 + 5 * SEC, T0, refresh=True)
    assert w.pop() is None
    store.update("/1/k", "x", 0, T0)
    assert keys(drain(w)) == [("update", "/1/k", 5)]


# ------------------------------------------------------------------ stream


def test_stream_watcher_stays_and_gets_each_event_once(store: Store) -> None:
    on_key = store.watch("/1/w/k", False, True, 0, T0)
    on_dir = store.watch("/1/w", True, True, 0, T0)
    store.set("/1/w/k", False, "1", 0, T0)
    store.delete("/1/w/k", False, False, T0)
    store.set("/1/w/k", False, "2", 0, T0)
    store.delete("/1/w", True, True, T0)
    # etcd 3.4 repeats the delete events here; each event comes once in etcdpy.
    expected = [
        ("set", "/1/w/k", 1),
        ("delete", "/1/w/k", 2),
        ("set", "/1/w/k", 3),
        ("delete", "/1/w", 4),
    ]
    assert keys(drain(on_key)) == expected
    assert keys(drain(on_dir)) == expected
    assert not on_key.closed and store.watcher_count == 2


def test_stream_from_history_then_live(store: Store) -> None:
    store.set("/1/k", False, "1", 0, T0)
    store.set("/1/k", False, "2", 0, T0)
    store.set("/1/j", False, "", 0, T0)
    w = store.watch("/1/k", False, True, 1, T0)
    assert not w.closed and w.start_index == 3
    store.set("/1/k", False, "3", 0, T0)
    got = drain(w)
    assert keys(got) == [("set", "/1/k", 1), ("set", "/1/k", 2), ("set", "/1/k", 4)]
    assert [e.etcd_index for e in got] == [3, 3, 4]


def test_stream_overflow_closes_and_keeps_queued_events(store: Store) -> None:
    w = store.watch("/1/k", False, True, 0, T0)
    for i in range(WATCHER_QUEUE_LIMIT):
        store.set("/1/k", False, str(i), 0, T0)
    assert not w.closed and w.pending == WATCHER_QUEUE_LIMIT
    store.set("/1/k", False, "overflow", 0, T0)
    assert w.closed and store.watcher_count == 0
    got = drain(w)
    assert len(got) == WATCHER_QUEUE_LIMIT and got[-1].node.value == str(WATCHER_QUEUE_LIMIT - 1)


def test_stream_draining_keeps_it_alive(store: Store) -> None:
    w = store.watch("/1/k", False, True, 0, T0)
    for i in range(3 * WATCHER_QUEUE_LIMIT):
        store.set("/1/k", False, str(i), 0, T0)
        assert w.pop() is not None
    assert not w.closed


def test_stream_history_overflow() -> None:
    s = Store(["/1"], history_capacity=500)
    for i in range(WATCHER_QUEUE_LIMIT + 5):
        s.set("/1/k", False, str(i), 0, T0)
    w = s.watch("/1/k", False, True, 1, T0)
    assert w.closed and s.watcher_count == 0 and w.pending == WATCHER_QUEUE_LIMIT


# ------------------------------------------------------------------ callback, remove


def test_notify_callback_and_remove(store: Store) -> None:
    calls: list[str] = []
    w = store.watch("/1/k", False, True, 0, T0)
    w.set_notify(lambda: calls.append("wake"))
    assert calls == []
    store.set("/1/k", False, "", 0, T0)
    assert calls == ["wake"]
    w.remove()
    assert calls == ["wake", "wake"] and w.closed and store.watcher_count == 0
    w.remove()
    assert len(calls) == 2
    store.set("/1/k", False, "", 0, T0)
    assert w.pending == 1


def test_set_notify_fires_at_once_when_something_is_pending(store: Store) -> None:
    store.set("/1/k", False, "", 0, T0)
    w = store.watch("/1/k", False, False, 1, T0)
    calls: list[int] = []
    w.set_notify(lambda: calls.append(1))
    assert calls == [1]


def test_one_shot_wakes_once(store: Store) -> None:
    w = store.watch("/1/k", False, False, 0, T0)
    calls: list[int] = []
    w.set_notify(lambda: calls.append(1))
    store.set("/1/k", False, "", 0, T0)
    assert calls == [1] and w.closed and w.pending == 1


def test_stats_count_watchers(store: Store) -> None:
    ws = [store.watch(f"/1/k{i}", False, False, 0, T0) for i in range(5)]
    assert store.stats()["watchers"] == 5
    ws[0].remove()
    store.set("/1/k1", False, "", 0, T0)
    assert store.stats()["watchers"] == 3


def test_many_watchers_on_one_path(store: Store) -> None:
    ws = [store.watch("/1/k", False, False, 0, T0) for _ in range(50)]
    streams = [store.watch("/1/k", False, True, 0, T0) for _ in range(50)]
    store.set("/1/k", False, "", 0, T0)
    assert all(w.closed and w.pending == 1 for w in ws)
    assert all(not w.closed and w.pending == 1 for w in streams)
    assert store.watcher_count == 50
