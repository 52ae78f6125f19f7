"""Sequential specifications the checker tests histories against.

A model says what one operation does to a state and whether the result a client saw is
possible from that state.  States must be hashable: the checker caches (set of linearized
operations, state) pairs.  A model also splits a history into independent parts (one per
key for the key-value model), so that each part is checked alone: linearizability is
compositional over independent objects (Herlihy & Wing), which is what makes long
histories tractable.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Final, Protocol

from tests.lincheck.ops import Op, Operation


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


# The result of an operation whose outcome nobody saw: it may have taken effect or not.
UNKNOWN: Final = _Unknown()


class Model(Protocol):
    def partition(self, history: Iterable[Operation]) -> dict[Hashable, list[Operation]]:
        """Split a history into parts that do not interact."""
        ...

    def init(self, part: Hashable) -> Hashable:
        """The state of one part before any operation."""
        ...

    def step(self, state: Hashable, op: Op, result: Any) -> tuple[bool, Hashable]:
        """Apply `op` to `state`: is `result` possible, and what is the state after?

        `result` is UNKNOWN for an indeterminate operation; the step must then accept
        whatever the operation could have done (the checker relies on an always-accepted
        step to place a never-applied operation at the very end, where it changes
        nothing that anyone observed).
        """
        ...

    def describe_state(self, state: Hashable) -> str: ...

    # Optional, to make the search faster (the checker is correct without them):
    # `pure(op, result) -> bool`: whenever the step accepts `op` with this result, the
    #   state stays as it was (a read, a failed compare-and-swap);
    # `overwrites(op, result) -> bool`: the step accepts `op` in any state and the new
    #   state does not depend on the old one (a blind write).


class KVModel:
    """The v2 key space restricted to plain values, one register per key.

    State: the key's value, or None when it does not exist.
    """

    __slots__ = ("initial",)

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self.initial: dict[str, str] = dict(initial or {})

    def partition(self, history: Iterable[Operation]) -> dict[Hashable, list[Operation]]:
        parts: dict[Hashable, list[Operation]] = {}
        for operation in history:
            if operation.complete is None and operation.op.kind == "read":
                continue  # a read nobody saw constrains nothing
            parts.setdefault(operation.op.key, []).append(operation)
        return parts

    def init(self, part: Hashable) -> str | None:
        return self.initial.get(str(part))

    def step(self, state: Any, op: Op, result: Any) -> tuple[bool, Any]:
        kind = op.kind
        if kind == "read":
            return (result is UNKNOWN or result == state), state
        if kind == "write":
            return True, op.value
        if kind == "cas":
            swaps = state is None if op.expected is None else state == op.expected
            if result is UNKNOWN:
                return True, (op.value if swaps else state)
            if result:
                return swaps, op.value
            return (not swaps), state
        if kind == "delete":
            if result is UNKNOWN or result is None:
                return True, None
            if result:
                return state is not None, None
            return state is None, None
        raise ValueError(f"unknown operation kind {kind!r} in {op!r}; use read/write/cas/delete")

    def pure(self, op: Op, result: Any) -> bool:
        """Does `op`, answered `result`, leave the state as it found it whenever accepted?"""
        if op.kind == "read":
            return result is not UNKNOWN
        return op.kind in ("cas", "delete") and result is False

    def overwrites(self, op: Op, result: Any) -> bool:
        """Does `op` set the state without looking at it (and so hide what came before)?"""
        return op.kind == "write" or (op.kind == "delete" and (result is None or result is UNKNOWN))

    def describe_state(self, state: Any) -> str:
        return "<absent>" if state is None else repr(state)
