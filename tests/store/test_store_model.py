"""Random operation sequences: the store against a naive model, and against itself
after a save/recover round trip."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdpy.store import EtcdError, Event, NodeExtern, Store
from tests.store.conftest import SEC, T0
from tests.store.model import Model, Outcome

EXAMPLES = int(os.environ.get("ETCDPY_STORE_EXAMPLES", "60"))

paths = st.lists(st.sampled_from(["a", "b", "_h"]), min_size=0, max_size=3).map(
    lambda parts: "/1/" + "/".join(parts) if parts else "/1"
)
values = st.sampled_from(["", "x", "y"])
ttls = st.sampled_from([0, 0, 1, 2, 5])
indexes = st.integers(min_value=0, max_value=12)

ops = st.one_of(
    st.tuples(st.just("set"), paths, st.booleans(), values, ttls),
    st.tuples(st.just("create"), paths, st.booleans(), values, st.booleans(), ttls),
    st.tuples(st.just("update"), paths, values, ttls),
    st.tuples(st.just("cas"), paths, values, indexes, values, ttls),
    st.tuples(st.just("delete"), paths, st.booleans(), st.booleans()),
    st.tuples(st.just("cad"), paths, values, indexes),
    st.tuples(st.just("get"), paths),
    st.tuples(st.just("tick"), st.integers(min_value=0, max_value=3)),
)


def outcome(fn: Any, *args: Any) -> Outcome:
    try:
        e: Event = fn(*args)
    except EtcdError as err:
        return ("err", err.code, err.cause)
    n = e.node
    return ("ok", e.action, n.key, n.modified_index, n.created_index, n.value)


class Runner:
    """Applies one op to a store, turning ttl seconds into times."""

    def __init__(self) -> None:
        self.now = T0

    def exp(self, ttl: int) -> int:
        return self.now + ttl * SEC if ttl else 0

    def apply(self, s: Store, op: tuple[Any, ...]) -> Any:
        name, *a = op
        now = self.now
        if name == "set":
            return outcome(s.set, a[0], a[1], a[2], self.exp(a[3]), now)
        if name == "create":
            return outcome(s.create, a[0], a[1], a[2], a[3], self.exp(a[4]), now)
        if name == "update":
            return outcome(s.update, a[0], a[1], self.exp(a[2]), now)
        if name == "cas":
            return outcome(s.compare_and_swap, a[0], a[1], a[2], a[3], self.exp(a[4]), now)
        if name == "delete":
            return outcome(s.delete, a[0], a[1], a[2], now)
        if name == "cad":
            return outcome(s.compare_and_delete, a[0], a[1], a[2], now)
        if name == "get":
            return outcome(s.get, a[0], False, False, now)
        raise AssertionError(name)

    def apply_model(self, m: Model, op: tuple[Any, ...]) -> Any:
        name, *a = op
        if name == "set":
            return m.run("set", a[0], a[1], a[2], self.exp(a[3]))
        if name == "create":
            return m.run("create", a[0], a[1], a[2], a[3], self.exp(a[4]))
        if name == "update":
            return m.run("update", a[0], a[1], self.exp(a[2]))
        if name == "cas":
            return m.run("cas", a[0], a[1], a[2], a[3], self.exp(a[4]))
        if name == "delete":
            return m.run("delete", a[0], a[1], a[2])
        if name == "cad":
            return m.run("cad", a[0], a[1], a[2])
        if name == "get":
            return m.run("get", a[0])
        raise AssertionError(name)


def dump(s: Store, now: int) -> dict[str, Any]:
    """Everything observable: every node (hidden ones too), index, history, stats.

    The stats are read first: the gets made here count too.
    """
    stats = s.stats()
    out: dict[str, Any] = {}
    stack = ["/"]
    while stack:
        p = stack.pop()
        n = s.get(p, False, False, now).node
        out[p] = (n.dir, n.value, n.created_index, n.modified_index, n.expiration_ns)
        if n.dir:
            # Hidden children are not listed; find them through the tree itself.
            node = s._find(p)
            assert node is not None and node.children is not None
            stack.extend(c.path for c in node.children.values())
    return {
        "nodes": out,
        "listing": s.get("/", True, True, now).to_dict(),
        "index": s.index,
        "history": [e.to_dict() | {"i": e.etcd_index, "r": e.refresh} for e in s.history()],
        "start": s.history()[0].index if s.history() else 0,
        "stats": stats,
        "next": s.next_expiration(),
    }


def model_contents(m: Model) -> dict[str, Any]:
    return {
        p: (n.is_dir, n.value, n.created, None if n.is_dir else n.modified, n.expire)
        for p, n in m.nodes.items()
        if p != "/0"
    }


def store_contents(s: Store, now: int) -> dict[str, Any]:
    return {
        p: (d, v, c, None if d else mod, e)
        for p, (d, v, c, mod, e) in dump(s, now)["nodes"].items()
        if p != "/0"
    }


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=40), st.lists(ops, max_size=15))
def test_store_matches_model_and_survives_recovery(
    first: list[tuple[Any, ...]], then: list[tuple[Any, ...]]
) -> None:
    s = Store(["/1"], history_capacity=16)
    m = Model()
    r = Runner()
    for op in first:
        if op[0] == "tick":
            r.now += op[1] * SEC
            got = [e.node.key for e in s.delete_expired_keys(r.now)]
            assert got == m.expire(r.now)
        else:
            assert r.apply(s, op) == r.apply_model(m, op), op
        assert s.index == m.index
        assert store_contents(s, r.now) == model_contents(m)
        assert s.has_ttl_keys() == any(n.expire for n in m.nodes.values())

    data = s.save()
    before = dump(s, r.now)
    t = Store.recover(data)
    assert dump(t, r.now) == before
    assert t.save() == s.save()

    # Both go on identically, expiry order included.
    for op in then:
        if op[0] == "tick":
            r.now += op[1] * SEC
            a = s.delete_expired_keys(r.now)
            b = t.delete_expired_keys(r.now)
            assert [e.to_dict() for e in a] == [e.to_dict() for e in b]
        else:
            assert r.apply(s, op) == r.apply(t, op)
    r.now += 10 * SEC
    s.delete_expired_keys(r.now)
    t.delete_expired_keys(r.now)
    assert dump(t, r.now) == dump(s, r.now)


def test_recovered_history_answers_watches() -> None:
    s = Store(["/1"], history_capacity=3)
    for i in range(5):
        s.set("/1/k", False, str(i), 0, T0)
    t = Store.recover(s.save())
    w = t.watch("/1/k", False, False, 3, T0)
    e = w.pop()
    assert e is not None and e.node.value == "2" and e.etcd_index == 5
    assert isinstance(e.prev_node, NodeExtern) and e.prev_node.value == "1"
    try:
        t.watch("/1/k", False, False, 2, T0)
    except EtcdError as err:
        assert err.cause == "the requested history has been cleared [3/2]"
    else:
        raise AssertionError("expected 401")
