"""A cluster-test sized history: 3,000 operations, 5 keys, 10 concurrent clients.

The times are printed (visible without -s) for the record; nothing is asserted on them.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.lincheck import check_history
from tests.lincheck.generate import linearizable_history

KEYS = [f"/key{i}" for i in range(5)]


@pytest.mark.parametrize("values", [None, 5], ids=["unique-values", "five-values"])
def test_three_thousand_operations(values: int | None, capsys: pytest.CaptureFixture[str]) -> None:
    rnd = random.Random(3000)
    history = linearizable_history(rnd, 3000, KEYS, procs=10, indeterminate=0.01, values=values)
    lost = sum(o.indeterminate for o in history)

    started = time.perf_counter()
    result = check_history(history)
    valid_seconds = time.perf_counter() - started
    assert result.ok, result.explain()

    reads = [o for o in history if o.op.kind == "read" and o.complete is not None]
    rnd.choice(reads).result = "never-written"
    started = time.perf_counter()
    broken = check_history(history)
    broken_seconds = time.perf_counter() - started
    assert broken.verdict == "illegal"

    with capsys.disabled():
        print(
            f"\nlincheck: {len(history)} ops ({lost} indeterminate), 5 keys, 10 clients, "
            f"values={values or 'unique'}: valid {valid_seconds:.2f} s, "
            f"one bad read {broken_seconds:.2f} s"
        )


def test_stale_read_in_three_thousand_operations(capsys: pytest.CaptureFixture[str]) -> None:
    """The bug class a cluster shows: a read returning a value overwritten before it began."""
    rnd = random.Random(3001)
    history = linearizable_history(rnd, 3000, KEYS, procs=10, indeterminate=0.01)
    history.sort(key=lambda o: o.invoke)
    # With unique values, a value is written once; if a later write completed before the
    # read began, no order lets the read see the older value.
    victim = None
    for read_op in reversed(history):
        if read_op.op.kind != "read" or read_op.complete is None:
            continue
        writes = [
            o
            for o in history
            if o.op.key == read_op.op.key
            and o.complete is not None
            and o.complete < read_op.invoke
            and (o.op.kind == "write" or (o.op.kind == "cas" and o.result is True))
        ]
        newest = max(writes, key=lambda o: o.complete or 0, default=None)
        older = [o for o in writes if newest is not None and (o.complete or 0) < newest.invoke]
        if older:
            victim = read_op
            read_op.result = older[-1].op.value
            break
    assert victim is not None
    started = time.perf_counter()
    result = check_history(history)
    seconds = time.perf_counter() - started
    assert result.verdict == "illegal"
    with capsys.disabled():
        print(f"\nlincheck: one stale read in {len(history)} ops found in {seconds:.2f} s")
