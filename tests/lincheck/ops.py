"""Operations on the v2 key space as a client sees them, and one recorded call of each.

An `Op` is what a client asked for; an `Operation` is one call in a history: who made it,
when it was invoked, when it completed (None when the outcome is unknown) and what the
client saw.  Results per kind:

- ``read``:   the value read, or None when the key did not exist (v2 error 100).
- ``write``:  ignored (an unconditional set always succeeds once it takes effect).
- ``cas``:    True when the swap happened, False on "Compare failed" (101) or "Key not
  found" (100).  ``expected=None`` means create-if-absent (``prevExist=false``), whose
  failure is "Key already exists" (105).
- ``delete``: True when a key was removed, False on "Key not found" (100), None when the
  caller does not know or care which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

OpKind = Literal["read", "write", "cas", "delete"]
Proc = int | str


@dataclass(slots=True, frozen=True)
class Op:
    kind: OpKind
    key: str
    value: str | None = None  # the value written (write) or swapped in (cas)
    expected: str | None = None  # cas only: prevValue, or None for prevExist=false

    def describe(self) -> str:
        if self.kind == "read":
            return f"read({self.key!r})"
        if self.kind == "write":
            return f"write({self.key!r}, {self.value!r})"
        if self.kind == "cas":
            return f"cas({self.key!r}, {self.expected!r} -> {self.value!r})"
        return f"delete({self.key!r})"


def read(key: str) -> Op:
    return Op("read", key)


def write(key: str, value: str) -> Op:
    return Op("write", key, value)


def cas(key: str, expected: str | None, new: str) -> Op:
    return Op("cas", key, new, expected)


def delete(key: str) -> Op:
    return Op("delete", key)


@dataclass(slots=True)
class Operation:
    proc: Proc
    op: Op
    invoke: int  # time.monotonic_ns() (or any monotonic integer clock) at the call
    complete: int | None  # at the answer; None = indeterminate (Jepsen's :info)
    result: Any = None

    @property
    def indeterminate(self) -> bool:
        return self.complete is None

    def describe(self) -> str:
        if self.complete is None:
            outcome = "?? (indeterminate)"
        elif self.op.kind == "write":
            outcome = "ok"
        else:
            outcome = repr(self.result)
        end = "inf" if self.complete is None else str(self.complete)
        return f"proc {self.proc}: {self.op.describe()} -> {outcome} [{self.invoke}, {end}]"
