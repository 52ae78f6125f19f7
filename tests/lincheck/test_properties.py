"""Properties of the checker on generated histories.

Three independent checks: an obviously correct exhaustive search agrees with the checker
on small random histories (valid or not); histories produced by running the sequential
model with random overlaps always pass; and the same histories with one result changed
into something no execution can produce always fail.
"""

from __future__ import annotations

import os
import random
from collections.abc import Hashable
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.lincheck import UNKNOWN, KVModel, Operation, check_history
from tests.lincheck.generate import linearizable_history
from tests.lincheck.ops import Op

# LINCHECK_HEAVY=1 runs ten times as many examples.
SCALE = 10 if os.environ.get("LINCHECK_HEAVY") else 1
VALUES = ["1", "2", "3"]
NEVER = "never-written"


def exhaustive(history: list[Operation]) -> bool:
    """Try every order of the whole history (all keys at once) that real time allows.

    Lost operations may be placed anywhere after their call or left out; lost reads are
    dropped.  Memoized on (placed set, state) only, so exponential but plainly right.
    """
    model = KVModel()
    ops = [o for o in history if not (o.complete is None and o.op.kind == "read")]
    before = [
        {
            i
            for i, earlier in enumerate(ops)
            if earlier.complete is not None and earlier.complete < later.invoke
        }
        for later in ops
    ]
    required = frozenset(i for i, o in enumerate(ops) if o.complete is not None)
    failed: set[tuple[frozenset[int], Hashable]] = set()

    def search(placed: frozenset[int], state: tuple[tuple[str, Any], ...]) -> bool:
        if required <= placed:
            return True
        if (placed, state) in failed:
            return False
        values = dict(state)
        for j, o in enumerate(ops):
            if j in placed or not before[j] <= placed:
                continue
            result = UNKNOWN if o.complete is None else o.result
            ok, after = model.step(values.get(o.op.key), o.op, result)
            if ok:
                values_after = {**values, o.op.key: after}
                if search(placed | {j}, tuple(sorted(values_after.items()))):
                    return True
        failed.add((placed, state))
        return False

    return search(frozenset(), ())


@st.composite
def small_histories(draw: st.DrawFn) -> list[Operation]:
    history = []
    for proc in range(draw(st.integers(1, 7))):
        key = draw(st.sampled_from(["a", "b"]))
        kind = draw(st.sampled_from(["read", "write", "cas", "cas", "delete"]))
        value = draw(st.sampled_from(VALUES))
        if kind == "read":
            op, result = Op("read", key), draw(st.sampled_from([None, *VALUES]))
        elif kind == "write":
            op, result = Op("write", key, value), None
        elif kind == "cas":
            expected = draw(st.sampled_from([None, *VALUES]))
            op, result = Op("cas", key, value, expected), draw(st.booleans())
        else:
            op, result = Op("delete", key), draw(st.sampled_from([True, False, None]))
        invoke = draw(st.integers(0, 12))
        duration = draw(st.integers(0, 6) | st.none())
        complete = None if duration is None else invoke + duration
        history.append(Operation(proc, op, invoke, complete, result))
    return history


@settings(max_examples=200 * SCALE, deadline=None)
@given(small_histories())
def test_agrees_with_exhaustive_search(history: list[Operation]) -> None:
    expected = "ok" if exhaustive(history) else "illegal"
    assert check_history(history).verdict == expected


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    operations=st.integers(1, 80),
    keys=st.integers(1, 3),
    procs=st.integers(1, 6),
    values=st.sampled_from([None, 2, 4]),
    lost=st.sampled_from([0.0, 0.05, 0.2]),
)
def test_histories_of_the_sequential_model_pass(
    seed: int, operations: int, keys: int, procs: int, values: int | None, lost: float
) -> None:
    names = [f"/k{i}" for i in range(keys)]
    history = linearizable_history(random.Random(seed), operations, names, procs, lost, values)
    result = check_history(history)
    assert result.ok, result.explain()


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    operations=st.integers(1, 80),
    keys=st.integers(1, 3),
    procs=st.integers(1, 6),
    values=st.sampled_from([None, 2, 4]),
    lost=st.sampled_from([0.0, 0.05]),
    choice=st.integers(0, 10**6),
)
def test_one_impossible_result_always_fails(
    seed: int,
    operations: int,
    keys: int,
    procs: int,
    values: int | None,
    lost: float,
    choice: int,
) -> None:
    names = [f"/k{i}" for i in range(keys)]
    history = linearizable_history(random.Random(seed), operations, names, procs, lost, values)
    # A completed read of a value nobody wrote, or a completed swap from such a value,
    # cannot be explained by any order of the operations.
    targets = [o for o in history if o.complete is not None and o.op.kind in ("read", "cas")]
    assume(targets)
    victim = targets[choice % len(targets)]
    if victim.op.kind == "read":
        victim.result = NEVER
    else:
        victim.op = Op("cas", victim.op.key, victim.op.value, NEVER)
        victim.result = True
    result = check_history(history)
    assert result.verdict == "illegal"
    assert result.explain().startswith("illegal")
