"""The checker on small histories whose verdict is known by hand."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.lincheck import (
    KVModel,
    Operation,
    assert_linearizable,
    cas,
    check_history,
    delete,
    read,
    write,
)
from tests.lincheck.generate import linearizable_history
from tests.lincheck.ops import Op


def at(proc: int, op: Op, invoke: int, complete: int | None, result: Any = None) -> Operation:
    return Operation(proc, op, invoke, complete, result)


def verdict(history: list[Operation], **kwargs: Any) -> str:
    return check_history(history, **kwargs).verdict


def test_empty_history_is_linearizable() -> None:
    assert verdict([]) == "ok"


def test_sequential_write_then_read() -> None:
    history = [at(1, write("x", "1"), 0, 1), at(2, read("x"), 2, 3, "1")]
    assert verdict(history) == "ok"


def test_read_of_absent_key_is_none() -> None:
    assert verdict([at(1, read("x"), 0, 1, None)]) == "ok"
    assert verdict([at(1, read("x"), 0, 1, "1")]) == "illegal"


def test_initial_state_comes_from_the_model() -> None:
    history = [at(1, read("x"), 0, 1, "seed")]
    assert verdict(history, model=KVModel({"x": "seed"})) == "ok"
    assert verdict(history) == "illegal"


def test_stale_read_after_completed_write() -> None:
    history = [
        at(1, write("x", "1"), 0, 1),
        at(1, write("x", "2"), 2, 3),
        at(2, read("x"), 4, 5, "1"),
    ]
    result = check_history(history)
    assert result.verdict == "illegal"
    explanation = result.explain()
    assert "could not place: proc 2: read('x') -> '1'" in explanation
    assert "state after the prefix: '2'" in explanation


def test_lost_acknowledged_write() -> None:
    history = [
        at(1, write("x", "1"), 0, 1),
        at(2, read("x"), 2, 3, None),
    ]
    assert verdict(history) == "illegal"


def test_cas_succeeding_twice_on_the_same_expected_value() -> None:
    history = [
        at(1, write("x", "0"), 0, 1),
        at(2, cas("x", "0", "a"), 2, 5, True),
        at(3, cas("x", "0", "b"), 3, 6, True),
    ]
    assert verdict(history) == "illegal"
    # One of them failing is fine, whichever it is.
    history[2].result = False
    assert verdict(history) == "ok"
    history[1].result, history[2].result = False, True
    assert verdict(history) == "ok"


def test_create_if_absent_succeeding_twice() -> None:
    history = [
        at(1, cas("x", None, "a"), 0, 5, True),
        at(2, cas("x", None, "b"), 1, 6, True),
    ]
    assert verdict(history) == "illegal"
    history[1].result = False
    assert verdict(history) == "ok"


def test_cas_on_absent_key_fails() -> None:
    assert verdict([at(1, cas("x", "0", "1"), 0, 1, False)]) == "ok"
    assert verdict([at(1, cas("x", "0", "1"), 0, 1, True)]) == "illegal"


def test_read_of_a_value_never_written() -> None:
    history = [
        at(1, write("x", "1"), 0, 10),
        at(2, write("x", "2"), 0, 10),
        at(3, read("x"), 5, 6, "3"),
    ]
    assert verdict(history) == "illegal"


def test_concurrent_writes_allow_either_order() -> None:
    writes = [at(1, write("x", "1"), 0, 10), at(2, write("x", "2"), 1, 11)]
    assert verdict([*writes, at(3, read("x"), 12, 13, "1")]) == "ok"
    assert verdict([*writes, at(3, read("x"), 12, 13, "2")]) == "ok"
    # But once both are done, every later read agrees on the winner.
    both = [*writes, at(3, read("x"), 12, 13, "2"), at(3, read("x"), 14, 15, "1")]
    assert verdict(both) == "illegal"


def test_reads_during_a_write_cannot_go_back_in_time() -> None:
    base = [at(1, write("x", "old"), 0, 1), at(1, write("x", "new"), 2, 20)]
    assert verdict([*base, at(2, read("x"), 3, 4, "old"), at(2, read("x"), 5, 6, "new")]) == "ok"
    assert (
        verdict([*base, at(2, read("x"), 3, 4, "new"), at(2, read("x"), 5, 6, "old")]) == "illegal"
    )
    # Two overlapping reads may see the two values in either order.
    assert verdict([*base, at(2, read("x"), 3, 6, "new"), at(3, read("x"), 4, 7, "old")]) == "ok"


def test_an_operation_ending_when_another_starts_counts_as_concurrent() -> None:
    history = [at(1, write("x", "1"), 0, 5), at(2, read("x"), 5, 6, None)]
    assert verdict(history) == "ok"
    history[1].invoke = 6
    history[1].complete = 7
    assert verdict(history) == "illegal"


def test_indeterminate_write_that_happened() -> None:
    history = [
        at(1, write("x", "1"), 0, 1),
        at(1, write("x", "2"), 2, None),
        at(2, read("x"), 10, 11, "2"),
    ]
    assert verdict(history) == "ok"


def test_indeterminate_write_that_did_not_happen() -> None:
    history = [
        at(1, write("x", "1"), 0, 1),
        at(1, write("x", "2"), 2, None),
        at(2, read("x"), 10, 11, "1"),
        at(2, read("x"), 12, 13, "1"),
    ]
    assert verdict(history) == "ok"


def test_indeterminate_write_happens_at_most_once_and_not_before_its_call() -> None:
    # Seen, then gone, then back: the lost write cannot take effect twice.
    history = [
        at(1, write("x", "2"), 0, None),
        at(2, read("x"), 1, 2, "2"),
        at(2, write("x", "1"), 3, 4),
        at(2, read("x"), 5, 6, "2"),
    ]
    assert verdict(history) == "illegal"
    # Read before the lost write was even invoked.
    early = [at(2, read("x"), 0, 1, "2"), at(1, write("x", "2"), 5, None)]
    assert verdict(early) == "illegal"


def test_twin_lost_writes_can_each_take_effect_once() -> None:
    history = [
        at(1, write("x", "2"), 0, None),
        at(3, write("x", "2"), 0, None),
        at(2, read("x"), 1, 2, "2"),
        at(2, write("x", "1"), 3, 4),
        at(2, read("x"), 5, 6, "2"),
    ]
    assert verdict(history) == "ok"


def test_indeterminate_cas_may_or_may_not_swap() -> None:
    base = [at(1, write("x", "0"), 0, 1), at(2, cas("x", "0", "1"), 2, None)]
    assert verdict([*base, at(3, read("x"), 10, 11, "1")]) == "ok"
    assert verdict([*base, at(3, read("x"), 10, 11, "0")]) == "ok"
    # A lost cas on a value that is not there cannot swap.
    wrong = [at(1, write("x", "5"), 0, 1), at(2, cas("x", "0", "1"), 2, None)]
    assert verdict([*wrong, at(3, read("x"), 10, 11, "1")]) == "illegal"


def test_indeterminate_reads_are_ignored() -> None:
    history = [at(1, write("x", "1"), 0, 1), at(2, read("x"), 2, None, "garbage")]
    result = check_history(history)
    assert result.ok
    assert result.parts[0].operations == 1


def test_delete_semantics() -> None:
    base = [at(1, write("x", "1"), 0, 1)]
    assert verdict([*base, at(2, delete("x"), 2, 3, True), at(3, read("x"), 4, 5, None)]) == "ok"
    assert verdict([*base, at(2, delete("x"), 2, 3, True), at(3, read("x"), 4, 5, "1")]) == (
        "illegal"
    )
    assert verdict([*base, at(2, delete("x"), 2, 3, False)]) == "illegal"
    assert verdict([at(2, delete("x"), 2, 3, False)]) == "ok"
    # A delete whose result was not looked at accepts either case.
    assert verdict([at(2, delete("x"), 2, 3, None)]) == "ok"
    # A lost delete that took effect, and a cas that then creates the key again.
    lost = [*base, at(2, delete("x"), 2, None), at(3, cas("x", None, "2"), 4, 5, True)]
    assert verdict(lost) == "ok"


def test_keys_are_checked_independently_and_the_bad_one_is_named() -> None:
    history = [
        at(1, write("a", "1"), 0, 1),
        at(1, write("b", "1"), 0, 1),
        at(2, read("a"), 2, 3, "1"),
        at(2, read("b"), 2, 3, "stale"),
    ]
    result = check_history(history)
    assert result.verdict == "illegal"
    assert {p.part: p.verdict for p in result.parts} == {"a": "ok", "b": "illegal"}
    assert "part 'b'" in result.explain()
    assert "part 'a'" not in result.explain()


def test_explanation_shows_the_longest_prefix() -> None:
    history = [at(1, write("x", str(i)), 2 * i, 2 * i + 1) for i in range(20)]
    history.append(at(2, read("x"), 100, 101, "3"))
    result = check_history(history)
    assert not result.ok
    part = result.parts[0]
    assert len(part.prefix) == 20
    assert part.stuck is history[-1]
    text = result.explain()
    assert "the longest linearizable prefix has 20 operations" in text
    assert "the last 8 of them" in text
    print(text)


def test_assert_linearizable_raises_with_the_explanation() -> None:
    assert_linearizable([at(1, write("x", "1"), 0, 1)])
    with pytest.raises(AssertionError, match="could not place"):
        assert_linearizable([at(1, read("x"), 0, 1, "1")])


def test_completion_before_invocation_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="completes before it is invoked"):
        check_history([at(1, write("x", "1"), 5, 4)])


def test_unknown_operation_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown operation kind"):
        check_history([at(1, Op("increment", "x"), 0, 1)])  # type: ignore[arg-type]


def test_time_budget_gives_unknown() -> None:
    history = linearizable_history(random.Random(7), 1500, ["x"], procs=10)
    result = check_history(history, max_seconds=0.0)
    assert result.verdict == "unknown"
    assert "gave up" in result.explain()
    assert check_history(history).verdict == "ok"
