"""The comparison table (cases.py), one test per step, in order, on one pair of servers."""

from __future__ import annotations

import pytest

from tests.compat.cases import STEPS
from tests.compat.sidebyside import Pair, Step


def test_table_is_big_and_ids_unique() -> None:
    ids = [s.id for s in STEPS]
    assert len(ids) == len(set(ids)), "duplicate step ids"
    assert sum(1 for s in STEPS if s.kind == "req") >= 150


def test_both_start_at_the_same_store_index(pair: Pair) -> None:
    # etcd's bootstrap writes /0/members/<id>/raftAttributes, .../attributes and
    # /0/version before any user key: the first user write is index 4.
    assert pair.ref.base == pair.py.base == 3


@pytest.mark.parametrize("step", STEPS, ids=[s.id for s in STEPS])
def test_step(step: Step, pair: Pair) -> None:
    pair.run(step)
