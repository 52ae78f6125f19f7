"""Every store action and every error it can raise, with etcd's codes, causes and indexes."""

from __future__ import annotations

import pytest

from etcdpy.store import EtcdError, Store
from tests.store.conftest import SEC, T0


def fails(code: int, fn, *args, **kwargs) -> EtcdError:  # type: ignore[no-untyped-def]
    with pytest.raises(EtcdError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


# ------------------------------------------------------------------ construction


def test_new_store_has_readonly_namespaces_without_using_indexes(store: Store) -> None:
    assert store.index == 0
    root = store.get("/", False, True, T0)
    assert [n.key for n in root.node.nodes or []] == ["/0", "/1"]
    assert root.node.modified_index == 0 and root.node.created_index == 0
    assert store.history() == []
    for path in ("/", "/0", "/1", "/1/", "//1"):
        err = fails(107, store.set, path, False, "x", 0, T0)
        assert err.cause == "/"
        assert err.index == 0
        fails(107, store.update, path, "", 0, T0)
        fails(107, store.delete, path, True, True, T0)
        fails(107, store.compare_and_swap, path, "a", 0, "b", 0, T0)
        fails(107, store.create, path, True, "", False, 0, T0)
    assert store.index == 0


def test_namespace_must_be_one_top_level_name() -> None:
    with pytest.raises(ValueError, match="one top-level name"):
        Store(["/a/b"])


def test_set_directly_under_root_without_namespaces() -> None:
    s = Store()
    assert s.set("/a", False, "1", 0, T0).node.key == "/a"
    fails(107, s.set, "/", True, "", 0, T0)


# ------------------------------------------------------------------ get


def test_get_missing_names_first_missing_component(store: Store) -> None:
    err = fails(100, store.get, "/1/a/b/c", False, False, T0)
    assert (err.cause, err.index) == ("/1/a", 0)
    store.set("/1/a/x", False, "v", 0, T0)
    err = fails(100, store.get, "/1/a/b/c", False, False, T0)
    assert (err.cause, err.index) == ("/1/a/b", 1)


def test_get_through_a_file_is_not_a_directory(store: Store) -> None:
    store.set("/1/f", False, "v", 0, T0)
    err = fails(104, store.get, "/1/f/g/h", False, False, T0)
    assert err.cause == "/1/f"


def test_get_file_and_dir_listing(store: Store) -> None:
    store.set("/1/d/b", False, "2", 0, T0)
    store.set("/1/d/a", False, "1", 0, T0)
    store.set("/1/d/sub/x", False, "3", 0, T0)
    store.set("/1/d/_hidden", False, "h", 0, T0)
    store.set("/1/d/sub/_h", False, "h", 0, T0)
    e = store.get("/1/d/a", False, False, T0)
    assert (e.action, e.node.value, e.etcd_index) == ("get", "1", 5)
    flat = store.get("/1/d", False, True, T0).node
    assert flat.dir and [n.key for n in flat.nodes or []] == ["/1/d/a", "/1/d/b", "/1/d/sub"]
    # Non-recursive: a child directory is listed without its children.
    assert flat.nodes is not None and flat.nodes[2].nodes is None
    deep = store.get("/1/d", True, True, T0).node
    assert deep.nodes is not None
    assert [n.key for n in deep.nodes[2].nodes or []] == ["/1/d/sub/x"]
    # Hidden nodes can be read directly.
    assert store.get("/1/d/_hidden", False, False, T0).node.value == "h"


def test_get_unsorted_keeps_insertion_order(store: Store) -> None:
    for name in ("c", "a", "b"):
        store.set(f"/1/{name}", False, name, 0, T0)
    keys = [n.key for n in store.get("/1", False, False, T0).node.nodes or []]
    assert keys == ["/1/c", "/1/a", "/1/b"]


def test_get_sorted_uses_byte_order_at_every_level(store: Store) -> None:
    for k in ("/1/b/z", "/1/b/Z", "/1/a", "/1/B", "/1/é"):
        store.set(k, False, "x", 0, T0)
    top = store.get("/1", True, True, T0).node
    assert [n.key for n in top.nodes or []] == ["/1/B", "/1/a", "/1/b", "/1/é"]
    assert [n.key for n in top.nodes[2].nodes or []] == ["/1/b/Z", "/1/b/z"]  # type: ignore[index]


def test_get_cleans_path(store: Store) -> None:
    store.set("/1/a/b", False, "v", 0, T0)
    assert store.get("/1//a/./c/../b/", False, False, T0).node.key == "/1/a/b"


# ------------------------------------------------------------------ set


def test_set_creates_then_replaces(store: Store) -> None:
    e1 = store.set("/1/k", False, "v1", 0, T0)
    assert (e1.action, e1.node.value, e1.node.modified_index, e1.node.created_index) == (
        "set",
        "v1",
        1,
        1,
    )
    assert e1.prev_node is None and e1.is_created() and e1.etcd_index == 1
    e2 = store.set("/1/k", False, "v2", 0, T0)
    assert not e2.is_created()
    assert e2.prev_node is not None and e2.prev_node.value == "v1"
    assert (e2.node.modified_index, e2.node.created_index) == (2, 2)
    assert store.index == 2


def test_set_creates_intermediate_dirs_at_the_new_index(store: Store) -> None:
    store.set("/1/x", False, "", 0, T0)
    store.set("/1/a/b/c", False, "v", 0, T0)
    for p in ("/1/a", "/1/a/b"):
        n = store.get(p, False, False, T0).node
        assert n.dir and (n.created_index, n.modified_index) == (2, 2)
        assert n.expiration_ns == 0


def test_set_empty_value_is_a_file_with_empty_value(store: Store) -> None:
    e = store.set("/1/k", False, "", 0, T0)
    assert e.node.value == "" and not e.node.dir
    assert e.to_dict()["node"]["value"] == ""


def test_set_over_a_dir_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "", 0, T0)
    for is_dir in (False, True):
        err = fails(102, store.set, "/1/d", is_dir, "x", 0, T0)
        assert (err.cause, err.index) == ("/1/d", 1)


def test_set_through_a_file_is_not_a_directory(store: Store) -> None:
    store.set("/1/f", False, "v", 0, T0)
    err = fails(104, store.set, "/1/f/g/h", False, "v", 0, T0)
    assert (err.cause, err.index) == ("/1/f", 1)
    assert store.index == 1


def test_set_dir_over_file_replaces_it(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    e = store.set("/1/k", True, "", 0, T0)
    assert e.node.dir and e.prev_node is not None and e.prev_node.value == "v"
    assert store.get("/1/k", False, False, T0).node.dir


def test_set_ignores_value_for_dirs(store: Store) -> None:
    e = store.set("/1/d", True, "ignored", 0, T0)
    assert e.node.value is None and e.node.dir


def test_set_refresh_keeps_value_and_needs_the_key(store: Store) -> None:
    err = fails(100, store.set, "/1/k", False, "", T0 + SEC, T0, refresh=True)
    assert err.cause == "/1/k"
    store.set("/1/k", False, "v", T0 + 5 * SEC, T0)
    e = store.set("/1/k", False, "", T0 + 50 * SEC, T0, refresh=True)
    assert e.refresh and e.node.value == "v" and e.node.ttl == 50
    assert e.prev_node is not None and e.prev_node.ttl == 5
    assert store.get("/1/k", False, False, T0).node.value == "v"


def test_set_refresh_on_a_dir_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "", 0, T0)
    fails(102, store.set, "/1/d", True, "", T0 + SEC, T0, refresh=True)


# ------------------------------------------------------------------ create


def test_create_and_exists(store: Store) -> None:
    e = store.create("/1/k", False, "v", False, 0, T0)
    assert e.action == "create" and e.is_created() and e.prev_node is None
    err = fails(105, store.create, "/1/k", False, "w", False, 0, T0)
    assert (err.cause, err.index) == ("/1/k", 1)
    store.create("/1/d", True, "", False, 0, T0)
    fails(105, store.create, "/1/d", True, "", False, 0, T0)
    fails(104, store.create, "/1/k/x", False, "", False, 0, T0)


def test_create_unique_names_children_after_the_new_index(store: Store) -> None:
    store.set("/1/other", False, "", 0, T0)
    e1 = store.create("/1/q", False, "a", True, 0, T0)
    e2 = store.create("/1/q", False, "b", True, 0, T0)
    assert e1.node.key == "/1/q/00000000000000000002"
    assert e2.node.key == "/1/q/00000000000000000003"
    assert e1.node.created_index == 2
    d = store.create("/1", True, "", True, 0, T0)
    assert d.node.key == "/1/00000000000000000004" and d.node.dir
    store.set("/1/f", False, "", 0, T0)
    err = fails(104, store.create, "/1/f", False, "", True, 0, T0)
    assert err.cause == "/1/f"


def test_create_at_root_without_unique_is_readonly(store: Store) -> None:
    fails(107, store.create, "/1", False, "", False, 0, T0)


# ------------------------------------------------------------------ update


def test_update_file_value_keeps_created_index(store: Store) -> None:
    store.set("/1/k", False, "v1", 0, T0)
    e = store.update("/1/k", "v2", 0, T0)
    assert (e.action, e.node.value, e.node.modified_index, e.node.created_index) == (
        "update",
        "v2",
        2,
        1,
    )
    assert e.prev_node is not None and e.prev_node.value == "v1"
    assert store.get("/1/k", False, False, T0).node.modified_index == 2


def test_update_missing_and_through_file(store: Store) -> None:
    err = fails(100, store.update, "/1/k", "v", 0, T0)
    assert err.cause == "/1/k"
    store.set("/1/f", False, "", 0, T0)
    fails(104, store.update, "/1/f/x", "v", 0, T0)


def test_update_dir_ttl_and_keeps_dir_modified_index(store: Store) -> None:
    store.set("/1/d", True, "", 0, T0)
    e = store.update("/1/d", "", T0 + 100 * SEC, T0)
    assert e.node.dir and e.node.value is None and e.node.ttl == 100
    assert e.node.modified_index == 2 and store.index == 2
    # etcd's quirk, kept: the stored dir does not take the new modifiedIndex.
    n = store.get("/1/d", False, False, T0).node
    assert (n.modified_index, n.ttl) == (1, 100)


def test_update_dir_with_value_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "", 0, T0)
    err = fails(102, store.update, "/1/d", "x", 0, T0)
    assert (err.cause, err.index) == ("/1/d", 1)


def test_update_refresh_keeps_value(store: Store) -> None:
    store.set("/1/k", False, "v", T0 + SEC, T0)
    e = store.update("/1/k", "", T0 + 9 * SEC, T0, refresh=True)
    assert e.refresh and e.node.value == "v" and e.node.ttl == 9


# ------------------------------------------------------------------ compareAndSwap


def test_cas_success_and_causes(store: Store) -> None:
    store.set("/1/k", False, "bar", 0, T0)
    assert fails(101, store.compare_and_swap, "/1/k", "x", 0, "n", 0, T0).cause == "[x != bar]"
    assert fails(101, store.compare_and_swap, "/1/k", "", 7, "n", 0, T0).cause == "[7 != 1]"
    err = fails(101, store.compare_and_swap, "/1/k", "x", 7, "n", 0, T0)
    assert (err.cause, err.index) == ("[x != bar] [7 != 1]", 1)
    e = store.compare_and_swap("/1/k", "bar", 1, "new", 0, T0)
    assert (e.action, e.node.value, e.node.modified_index, e.node.created_index) == (
        "compareAndSwap",
        "new",
        2,
        1,
    )
    assert e.prev_node is not None and e.prev_node.value == "bar"
    # Empty prevValue and prevIndex 0 test nothing.
    assert store.compare_and_swap("/1/k", "", 0, "any", 0, T0).node.value == "any"


def test_cas_errors(store: Store) -> None:
    fails(100, store.compare_and_swap, "/1/k", "a", 0, "b", 0, T0)
    store.set("/1/d", True, "", 0, T0)
    assert fails(102, store.compare_and_swap, "/1/d", "a", 0, "b", 0, T0).cause == "/1/d"


def test_cas_ttl_and_refresh(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    e = store.compare_and_swap("/1/k", "v", 0, "w", T0 + 3 * SEC, T0)
    assert e.node.ttl == 3 and store.has_ttl_keys()
    e = store.compare_and_swap("/1/k", "w", 0, "", T0 + 30 * SEC, T0, refresh=True)
    assert e.refresh and e.node.value == "w" and e.node.ttl == 30
    store.compare_and_swap("/1/k", "w", 0, "z", 0, T0)
    assert not store.has_ttl_keys()


# ------------------------------------------------------------------ delete


def test_delete_file(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    e = store.delete("/1/k", False, False, T0)
    assert (e.action, e.node.value, e.node.dir, e.node.modified_index, e.node.created_index) == (
        "delete",
        None,
        False,
        2,
        1,
    )
    assert e.prev_node is not None and e.prev_node.value == "v"
    fails(100, store.get, "/1/k", False, False, T0)


def test_delete_dir_needs_dir_or_recursive(store: Store) -> None:
    store.set("/1/d", True, "", 0, T0)
    assert fails(102, store.delete, "/1/d", False, False, T0).cause == "/1/d"
    e = store.delete("/1/d", True, False, T0)
    assert e.node.dir and e.prev_node is not None and e.prev_node.dir
    assert e.prev_node.nodes is None


def test_delete_non_empty_dir(store: Store) -> None:
    store.set("/1/d/a/b", False, "", 0, T0)
    store.set("/1/d/_h", False, "", 0, T0)
    err = fails(108, store.delete, "/1/d", True, False, T0)
    assert (err.cause, err.index) == ("/1/d", 2)
    # recursive implies dir; the whole subtree goes in one event.
    e = store.delete("/1/d", False, True, T0)
    assert e.node.modified_index == 3 and store.index == 3 and len(store.history()) == 3
    fails(100, store.get, "/1/d/a/b", False, False, T0)


def test_delete_missing_and_through_file(store: Store) -> None:
    assert fails(100, store.delete, "/1/x/y", False, False, T0).cause == "/1/x"
    store.set("/1/f", False, "", 0, T0)
    fails(104, store.delete, "/1/f/g", False, False, T0)


def test_delete_file_with_dir_flag_is_fine(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    assert store.delete("/1/k", True, False, T0).node.dir is False


# ------------------------------------------------------------------ compareAndDelete


def test_cad(store: Store) -> None:
    store.set("/1/k", False, "bar", 0, T0)
    assert fails(101, store.compare_and_delete, "/1/k", "x", 0, T0).cause == "[x != bar]"
    assert fails(101, store.compare_and_delete, "/1/k", "", 9, T0).cause == "[9 != 1]"
    assert fails(101, store.compare_and_delete, "/1/k", "x", 9, T0).cause == "[x != bar] [9 != 1]"
    e = store.compare_and_delete("/1/k", "bar", 1, T0)
    assert (e.action, e.node.value, e.node.modified_index, e.node.created_index) == (
        "compareAndDelete",
        None,
        2,
        1,
    )
    assert e.prev_node is not None and e.prev_node.value == "bar"
    fails(100, store.compare_and_delete, "/1/k", "bar", 0, T0)


def test_cad_on_dir_and_namespace_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "", 0, T0)
    assert fails(102, store.compare_and_delete, "/1/d", "a", 0, T0).cause == "/1/d"
    # etcd has no read-only check here: the namespace is simply a directory.
    assert fails(102, store.compare_and_delete, "/1", "a", 0, T0).cause == "/1"


# ------------------------------------------------------------------ indexes and stats


def test_failures_never_move_the_index(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    for fn, args in [
        (store.create, ("/1/k", False, "", False, 0, T0)),
        (store.update, ("/1/nope", "", 0, T0)),
        (store.compare_and_swap, ("/1/k", "x", 0, "", 0, T0)),
        (store.delete, ("/1/nope", False, False, T0)),
        (store.compare_and_delete, ("/1/k", "x", 0, T0)),
        (store.get, ("/1/nope", False, False, T0)),
    ]:
        with pytest.raises(EtcdError):
            fn(*args)
    assert store.index == 1 and len(store.history()) == 1


def test_stats_count_successes_and_failures(store: Store) -> None:
    store.set("/1/k", False, "v", 0, T0)
    store.get("/1/k", False, False, T0)
    store.create("/1/c", False, "", False, 0, T0)
    store.update("/1/k", "w", 0, T0)
    store.compare_and_swap("/1/k", "w", 0, "x", 0, T0)
    store.compare_and_delete("/1/k", "x", 0, T0)
    store.delete("/1/c", False, False, T0)
    for fn, args in [
        (store.get, ("/1/k", False, False, T0)),
        (store.set, ("/1", False, "", 0, T0)),
        (store.create, ("/1", False, "", False, 0, T0)),
        (store.update, ("/1", "", 0, T0)),
        (store.compare_and_swap, ("/1/k", "x", 0, "", 0, T0)),
        (store.compare_and_delete, ("/1/k", "x", 0, T0)),
        (store.delete, ("/1", True, True, T0)),
    ]:
        with pytest.raises(EtcdError):
            fn(*args)
    store.record_get(True)
    store.record_get(False)
    assert store.stats() == {
        "getsSuccess": 2,
        "getsFail": 2,
        "setsSuccess": 1,
        "setsFail": 1,
        "deleteSuccess": 1,
        "deleteFail": 1,
        "updateSuccess": 1,
        "updateFail": 1,
        "createSuccess": 1,
        "createFail": 1,
        "compareAndSwapSuccess": 1,
        "compareAndSwapFail": 1,
        "compareAndDeleteSuccess": 1,
        "compareAndDeleteFail": 1,
        "expireCount": 0,
        "watchers": 0,
    }
    assert list(store.stats()) == list(Store().stats())
