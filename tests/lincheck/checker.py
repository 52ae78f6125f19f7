"""Linearizability checking: Wing & Gong's search with Lowe's memoization, per part.

For each independent part of a history (one key of the KV model) the search walks a
linked list of call and return events in real-time order.  It tries to linearize, one
after another, operations whose call comes before the first pending return; after each
success it restarts from the head; when it reaches a return event, the operation ending
there could not be placed before everything that follows, so the search backtracks.  The
cache of (set of linearized operations, state) pairs (Lowe, "Testing for
linearizability", 2017; Porcupine) keeps it from exploring the same configuration twice,
which is what makes it fast on real histories.  Linearized sets are Python ints used as
bitsets.

An indeterminate operation has a call and no return: it may be linearized at any point
after its invocation, or never, and the search succeeds once every determinate operation
is placed.  Such optional operations are what makes a search long, so the cache also
prunes configurations dominated by one with fewer optional operations applied, and a few
rearrangements that any linearization admits cut the branching further (see check_part).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from tests.lincheck.model import UNKNOWN, KVModel, Model
from tests.lincheck.ops import Operation

Verdict = Literal["ok", "illegal", "unknown"]

# How many operations of the longest linearizable prefix an explanation shows.
_PREFIX_SHOWN = 8


@dataclass(slots=True)
class PartResult:
    part: Hashable
    verdict: Verdict
    operations: int
    elapsed: float
    # Unless "ok": the deepest point the search reached (if it got stuck at all).
    prefix: list[Operation] = field(default_factory=list)
    state_after_prefix: str = ""
    stuck: Operation | None = None

    def explain(self, origin: int = 0) -> str:
        if self.verdict == "ok":
            return f"part {self.part!r}: linearizable ({self.operations} operations)"
        if self.verdict == "unknown":
            lines = [
                f"part {self.part!r}: gave up after {self.elapsed:.1f} s "
                f"({self.operations} operations); raise max_seconds to decide it"
            ]
            if self.stuck is None:
                return lines[0]
            lines.append(
                f"  so far the longest linearizable prefix has {len(self.prefix)} operations"
            )
        else:
            lines = [
                f"part {self.part!r} ({self.operations} operations) is not linearizable: "
                f"the longest linearizable prefix has {len(self.prefix)} operations"
            ]
        shown = self.prefix[-_PREFIX_SHOWN:]
        if len(self.prefix) > len(shown):
            lines.append(f"  ... the last {len(shown)} of them:")
        lines.extend(f"    {_describe(o, origin)}" for o in shown)
        lines.append(f"  state after the prefix: {self.state_after_prefix}")
        if self.stuck is not None:
            lines.append(f"  could not place: {_describe(self.stuck, origin)}")
        return "\n".join(lines)


@dataclass(slots=True)
class CheckResult:
    verdict: Verdict
    parts: list[PartResult]
    elapsed: float
    origin: int = 0  # the earliest invocation; explanations print times relative to it

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def explain(self) -> str:
        """One paragraph per part that is not linearizable (or undecided)."""
        if self.verdict == "ok":
            ops = sum(p.operations for p in self.parts)
            return f"linearizable: {ops} operations in {len(self.parts)} parts"
        bad = [p for p in self.parts if p.verdict != "ok"]
        head = (
            f"{self.verdict}: {len(bad)} of {len(self.parts)} parts failed "
            "(times relative to the first invocation, in the history's clock units)"
        )
        return "\n".join([head, *(p.explain(self.origin) for p in bad)])


def _describe(operation: Operation, origin: int) -> str:
    end = "inf" if operation.complete is None else str(operation.complete - origin)
    if operation.complete is None:
        outcome = "?? (indeterminate)"
    elif operation.op.kind == "write":
        outcome = "ok"
    else:
        outcome = repr(operation.result)
    return (
        f"proc {operation.proc}: {operation.op.describe()} -> {outcome} "
        f"[{operation.invoke - origin}, {end}]"
    )


def check_history(
    history: Iterable[Operation],
    model: Model | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Decide whether `history` is linearizable with respect to `model` (KV by default).

    Each part is checked alone; `max_seconds` bounds the time spent per part, after which
    that part's verdict is "unknown".  The verdict is "illegal" as soon as one part is.
    """
    started = time.perf_counter()
    model = model if model is not None else KVModel()
    operations = list(history)
    for operation in operations:
        if operation.complete is not None and operation.complete < operation.invoke:
            raise ValueError(
                f"operation {operation.describe()} completes before it is invoked; "
                "record both times from the same monotonic clock"
            )
    origin = min((o.invoke for o in operations), default=0)
    parts = [
        check_part(part, ops, model, max_seconds)
        for part, ops in model.partition(operations).items()
    ]
    if any(p.verdict == "illegal" for p in parts):
        verdict: Verdict = "illegal"
    elif any(p.verdict == "unknown" for p in parts):
        verdict = "unknown"
    else:
        verdict = "ok"
    return CheckResult(verdict, parts, time.perf_counter() - started, origin)


def assert_linearizable(
    history: Iterable[Operation], model: Model | None = None, max_seconds: float | None = None
) -> CheckResult:
    """check_history, raising AssertionError with the explanation unless it is "ok"."""
    result = check_history(history, model, max_seconds)
    if not result.ok:
        raise AssertionError(result.explain())
    return result


def check_part(
    part: Hashable,
    operations: list[Operation],
    model: Model,
    max_seconds: float | None = None,
) -> PartResult:
    """The Wing-Gong-Lowe search over one part."""
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    n = len(operations)
    ops = [o.op for o in operations]
    results = [UNKNOWN if o.complete is None else o.result for o in operations]
    optional = [o.complete is None for o in operations]
    # Identical lost operations are interchangeable: any linearization can apply them in
    # the order they were invoked, so one may go in only after its earlier twin.
    twin_before = [-1] * n
    last_twin: dict[object, int] = {}
    for i in sorted(range(n), key=lambda i: operations[i].invoke):
        if optional[i]:
            twin_before[i] = last_twin.get(ops[i], -1)
            last_twin[ops[i]] = i

    # Events in real-time order: at equal times calls sort before returns, so an operation
    # that returns at the very instant another is invoked counts as concurrent with it.
    # An indeterminate operation has a call and no return: nothing forces it in.
    events = sorted(
        [(o.invoke, 0, i) for i, o in enumerate(operations)]
        + [(o.complete, 1, i) for i, o in enumerate(operations) if o.complete is not None]
    )
    size = len(events)
    head = size  # the sentinel node
    nxt = [-1] * (size + 1)
    prv = [-1] * (size + 1)
    is_call = [False] * size
    op_of = [0] * size
    match = [-1] * size
    call_node = [0] * n
    previous = head
    for node, (_, kind, i) in enumerate(events):
        nxt[previous] = node
        prv[node] = previous
        previous = node
        op_of[node] = i
        if kind == 0:
            is_call[node] = True
            call_node[i] = node
        else:
            match[call_node[i]] = node

    def lift(call: int) -> None:
        nxt[prv[call]] = nxt[call]
        if nxt[call] != -1:
            prv[nxt[call]] = prv[call]
        ret = match[call]
        if ret != -1:
            nxt[prv[ret]] = nxt[ret]
            if nxt[ret] != -1:
                prv[nxt[ret]] = prv[ret]

    def unlift(call: int) -> None:
        ret = match[call]
        if ret != -1:
            nxt[prv[ret]] = ret
            if nxt[ret] != -1:
                prv[nxt[ret]] = ret
        nxt[prv[call]] = call
        if nxt[call] != -1:
            prv[nxt[call]] = call

    # The search state: which determinate and which optional (indeterminate) operations
    # are linearized, and the model state they lead to.  The cache maps (determinate
    # set, state) to the optional sets seen with it.  A configuration is dominated by
    # one with the same determinate set and state and fewer optional operations, since
    # those can still be applied later or never; so a dominated one is never explored
    # (every completion of it is a completion of the dominating one, visited before).
    # Trying determinate candidates first means the dominating configurations tend to be
    # met first, which keeps lost requests from multiplying the search.
    #
    # More reductions keep the branching down, each sound because any completion can be
    # rearranged to fit it (identical lost operations go in invocation order, above):
    # - an available operation that looks at the state without changing it (a read, a
    #   failed cas: `Model.pure`) and is accepted now is taken now, with no alternative:
    #   moving it earlier changes nothing anyone sees;
    # - a lost operation directly followed by one that overwrites the state whatever it
    #   was (`Model.overwrites`) is pointless there: leaving it out dominates.
    pure_of = getattr(model, "pure", None)
    overwrites = getattr(model, "overwrites", None)
    pure = [bool(pure_of and not optional[i] and pure_of(ops[i], results[i])) for i in range(n)]
    blind = [bool(overwrites and overwrites(ops[i], results[i])) for i in range(n)]
    step = model.step

    verdict: Verdict = "illegal"
    state = model.init(part)
    done_required = 0
    done_optional = 0
    remaining = n - sum(optional)
    # Frames: (call node, state before it, phase it was chosen in); phase 2 = forced.
    stack: list[tuple[int, Hashable, int]] = []
    cache: dict[tuple[int, Hashable], list[int]] = {}
    best: tuple[list[int], Hashable, int] | None = None
    after_optional = False
    entry = -1
    phase = 0  # 0: trying determinate candidates, 1: optional ones
    entering = True  # a new configuration was just reached
    iterations = 0

    def push(node: int, new_state: Hashable, frame_phase: int) -> bool:
        """Linearize `node` next unless that configuration is dominated."""
        nonlocal state, done_required, done_optional, remaining, after_optional
        i = op_of[node]
        bit = 1 << i
        if optional[i]:
            new_required, new_optional = done_required, done_optional | bit
        else:
            new_required, new_optional = done_required | bit, done_optional
        key = (new_required, new_state)
        seen = cache.get(key)
        if seen is None:
            cache[key] = [new_optional]
        elif any(old & ~new_optional == 0 for old in seen):
            return False  # dominated (or identical): explored already
        else:
            # Keep an antichain: drop the sets the new one dominates.
            seen[:] = [old for old in seen if new_optional & ~old]
            seen.append(new_optional)
        stack.append((node, state, frame_phase))
        after_optional = optional[i]
        state = new_state
        done_required, done_optional = new_required, new_optional
        lift(node)
        if not optional[i]:
            remaining -= 1
        return True

    def pop() -> tuple[int, int]:
        nonlocal state, done_required, done_optional, remaining, after_optional
        node, state, frame_phase = stack.pop()
        after_optional = bool(stack) and optional[op_of[stack[-1][0]]]
        i = op_of[node]
        if optional[i]:
            done_optional &= ~(1 << i)
        else:
            done_required &= ~(1 << i)
            remaining += 1
        unlift(node)
        return node, frame_phase

    while True:
        iterations += 1
        if deadline is not None and iterations & 1023 == 0 and time.perf_counter() > deadline:
            verdict = "unknown"
            break
        failed = False
        if entering:
            entering = False
            if not remaining:
                verdict = "ok"
                break
            forced = -1
            node = nxt[head]
            while is_call[node]:  # there is a return ahead while anything is required
                i = op_of[node]
                if pure[i]:
                    accepted, new_state = step(state, ops[i], results[i])
                    if accepted:
                        forced = node
                        break
                node = nxt[node]
            if forced >= 0:
                if push(forced, state, 2):
                    entering = True
                    continue
                failed = True  # the only successor worth trying is dominated
            else:
                entry, phase = nxt[head], 0
        if not failed:
            if is_call[entry]:
                i = op_of[entry]
                twin = twin_before[i]
                if (
                    optional[i] is (phase == 1)
                    and (twin < 0 or done_optional >> twin & 1)
                    and not (blind[i] and after_optional)
                ):
                    accepted, new_state = step(state, ops[i], results[i])
                    if accepted and push(entry, new_state, phase):
                        entering = True
                        continue
                entry = nxt[entry]
                continue
            if phase == 0:
                entry, phase = nxt[head], 1
                continue
            # The operation returning here cannot be placed next, nor can anything
            # before it: this configuration is a dead end.
            if best is None or len(stack) > len(best[0]):
                best = ([op_of[c] for c, _, _ in stack], state, op_of[entry])
        # Backtrack to the latest configuration that still has candidates to try.
        while stack:
            node, frame_phase = pop()
            if frame_phase != 2:
                entry, phase = nxt[node], frame_phase
                break
        else:
            break  # the root failed: verdict stays "illegal"
    elapsed = time.perf_counter() - started
    if best is None or verdict == "ok":  # no dead end to report
        return PartResult(part, verdict, n, elapsed)
    prefix_ids, prefix_state, stuck_id = best
    return PartResult(
        part,
        verdict,
        n,
        elapsed,
        prefix=[operations[i] for i in prefix_ids],
        state_after_prefix=model.describe_state(prefix_state),
        stuck=operations[stuck_id],
    )
