"""Recording a history while clients run, and saving it for a post-mortem.

Clients call `invoke` just before sending a request and `complete` (definite answer),
`fail_unknown` (timeout, connection reset, 5xx: the request may still take effect) or
`fail` (certainly never applied, e.g. connection refused before a byte was sent) right
after.  Operations still open when `history()` is taken count as indeterminate.
The methods are cheap and thread-safe, so asyncio tasks and threads can share one
recorder.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lincheck.ops import Op, Operation, Proc


@dataclass(slots=True)
class Call:
    """The handle `Recorder.invoke` returns; `result` is set inside `Recorder.call`."""

    index: int
    result: Any = None


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: list[Operation | None] = []
        self._open: set[int] = set()

    def invoke(self, proc: Proc, op: Op) -> Call:
        now = time.monotonic_ns()
        with self._lock:
            index = len(self._operations)
            self._operations.append(Operation(proc, op, now, None))
            self._open.add(index)
        return Call(index)

    def complete(self, handle: Call, result: Any = None) -> None:
        now = time.monotonic_ns()
        with self._lock:
            operation = self._close(handle)
            operation.complete = now
            operation.result = result

    def fail_unknown(self, handle: Call) -> None:
        """The outcome is unknown: it stays in the history as indeterminate."""
        with self._lock:
            self._close(handle)

    def fail(self, handle: Call) -> None:
        """The operation certainly did not take effect: it leaves the history."""
        with self._lock:
            self._close(handle)
            self._operations[handle.index] = None

    def _close(self, handle: Call) -> Operation:
        if handle.index not in self._open:
            raise ValueError(
                f"operation #{handle.index} was already completed or failed; "
                "call complete/fail_unknown/fail once per invoke"
            )
        self._open.discard(handle.index)
        operation = self._operations[handle.index]
        assert operation is not None
        return operation

    @asynccontextmanager
    async def call(self, proc: Proc, op: Op) -> AsyncIterator[Call]:
        """Record one operation around a block that sets `call.result`.

        Leaving the block normally completes it; any exception marks it indeterminate
        (and propagates), which is the safe reading of a timeout or a dropped connection.
        """
        handle = self.invoke(proc, op)
        try:
            yield handle
        except BaseException:
            self.fail_unknown(handle)
            raise
        self.complete(handle, handle.result)

    def history(self) -> list[Operation]:
        """A snapshot of the operations recorded so far, in invocation order."""
        with self._lock:
            return [
                Operation(o.proc, o.op, o.invoke, o.complete, o.result)
                for o in self._operations
                if o is not None
            ]

    def __len__(self) -> int:
        with self._lock:
            return sum(o is not None for o in self._operations)

    def dump(self, path: Path | str) -> None:
        """Write the history as JSON lines (see `load_history`), e.g. for a failed test."""
        dump_history(self.history(), path)


def dump_history(history: list[Operation], path: Path | str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for o in history:
            record = {
                "proc": o.proc,
                "kind": o.op.kind,
                "key": o.op.key,
                "value": o.op.value,
                "expected": o.op.expected,
                "invoke": o.invoke,
                "complete": o.complete,
                "result": o.result,
            }
            out.write(json.dumps(record) + "\n")


def load_history(path: Path | str) -> list[Operation]:
    history: list[Operation] = []
    with open(path, encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                op = Op(r["kind"], r["key"], r["value"], r["expected"])
                history.append(Operation(r["proc"], op, r["invoke"], r["complete"], r["result"]))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(
                    f"{path}:{number} is not a history record ({error}); "
                    "expected the JSON lines written by dump_history"
                ) from None
    return history
