"""Histories that are linearizable by construction, for testing the checker itself.

A simulation runs client processes against the sequential KV model: every step either
invokes an operation on an idle process, applies a pending one to the model (its
linearization point, which fixes its result), completes an applied one, or cuts one off
as indeterminate.  Cut-off operations may still be applied later or never, as a request
lost in a real network may.  Because every result comes from the model at a point
between the invocation and the completion, the recorded history is linearizable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests.lincheck.ops import Op, Operation, cas, delete, read, write


@dataclass(slots=True)
class _Pending:
    operation: Operation
    applied: bool = False
    result: object = None


@dataclass(slots=True)
class Simulation:
    rnd: random.Random
    keys: list[str]
    procs: int = 4
    indeterminate: float = 0.0  # chance that a pending operation is cut off
    values: int | None = None  # size of the value domain; None: every write is unique
    state: dict[str, str | None] = field(default_factory=dict)
    written: dict[str, list[str]] = field(default_factory=dict)
    serial: int = 0

    def _choose_op(self) -> Op:
        key = self.rnd.choice(self.keys)
        roll = self.rnd.random()
        if roll < 0.4:
            return read(key)
        self.serial += 1
        unique = self.values is None
        new = f"v{self.serial}" if unique else str(self.rnd.randrange(self.values or 1))
        if roll < 0.65:
            return write(key, new)
        if roll < 0.92:
            seen = self.written.get(key, []) if self.values is None else None
            if seen is None:
                seen = [str(v) for v in range(self.values or 0)]
            # Mostly the current value, so that swaps often succeed.
            if seen and self.rnd.random() < 0.7:
                expected = self.state.get(key)
            elif seen and self.rnd.random() < 0.8:
                expected = self.rnd.choice(seen)
            else:
                expected = None
            return cas(key, expected, new)
        return delete(key)

    def _apply(self, op: Op) -> object:
        """Run `op` on the model at this instant and return what the client sees."""
        before = self.state.get(op.key)
        if op.kind == "read":
            return before
        if op.kind == "cas":
            swaps = before is None if op.expected is None else before == op.expected
            if swaps:
                self._set(op.key, op.value)
            return swaps
        if op.kind == "delete":
            self.state[op.key] = None
            return before is not None
        self._set(op.key, op.value)
        return None

    def _set(self, key: str, value: str | None) -> None:
        self.state[key] = value
        if value is not None:
            self.written.setdefault(key, []).append(value)

    def run(self, operations: int) -> list[Operation]:
        history: list[Operation] = []
        pending: dict[int, _Pending] = {}
        in_flight: list[_Pending] = []  # cut off but may still be applied
        idle = list(range(self.procs))
        next_proc = self.procs
        started = 0
        now = 0
        # Each step makes progress on at least one operation, so this is bounded.
        while started < operations or pending:
            now += 1
            moves: list[str] = []
            if idle and started < operations:
                moves.append("invoke")
            if any(not p.applied for p in pending.values()):
                moves.append("apply")
            if any(p.applied for p in pending.values()):
                moves.append("complete")
            if in_flight:
                moves.append("late")
            move = self.rnd.choice(moves)
            if move == "invoke":
                proc = idle.pop(self.rnd.randrange(len(idle)))
                operation = Operation(proc, self._choose_op(), now, None)
                history.append(operation)
                pending[proc] = _Pending(operation)
                started += 1
            elif move == "apply":
                target = self.rnd.choice([p for p in pending.values() if not p.applied])
                target.result = self._apply(target.operation.op)
                target.applied = True
            elif move == "late":
                late = in_flight.pop(self.rnd.randrange(len(in_flight)))
                if self.rnd.random() < 0.5:
                    self._apply(late.operation.op)
            else:
                proc = self.rnd.choice([k for k, p in pending.items() if p.applied])
                done = pending.pop(proc)
                done.operation.complete = now
                done.operation.result = done.result
                idle.append(proc)
            # Any pending operation may be cut off; its process is retired (Jepsen does
            # the same: the old request may still land, so the id cannot be reused).
            if pending and self.rnd.random() < self.indeterminate:
                proc = self.rnd.choice(list(pending))
                cut = pending.pop(proc)
                if not cut.applied:
                    in_flight.append(cut)
                idle.append(next_proc)
                next_proc += 1
        return history


def linearizable_history(
    rnd: random.Random,
    operations: int,
    keys: list[str],
    procs: int = 4,
    indeterminate: float = 0.0,
    values: int | None = None,
) -> list[Operation]:
    return Simulation(rnd, keys, procs, indeterminate, values).run(operations)
