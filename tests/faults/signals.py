"""Freezing, thawing and killing member processes by PID, and waiting until it is true.

A signal is delivered asynchronously; these helpers return only once /proc shows the
effect (stopped, running again, dead), within a deadline.  They never reap a child they
did not get as a Popen: the harness that started it keeps that job (an asyncio child
watcher would otherwise lose the exit status).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_POLL = 0.005


class ProcessGone(Exception):
    """The process to signal does not exist (any more)."""


def process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (R, S, D, T, t, Z, ...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces or parentheses itself.
    return text[text.rindex(")") + 2]


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(_POLL)  # polling /proc for a condition, with a deadline


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        if process_state(pid) in ("Z", "X", None):
            raise ProcessLookupError
        os.kill(pid, signum)
    except ProcessLookupError:
        raise ProcessGone(
            f"process {pid} is not running, so it cannot get {signum.name}; "
            "was it already killed or did it exit?"
        ) from None


def pause(pid: int, timeout: float = 5.0) -> None:
    """SIGSTOP `pid` and wait until every one of its threads is stopped."""
    _signal(pid, signal.SIGSTOP)
    _wait_for(lambda: process_state(pid) in ("T", "t", "Z", None), timeout, f"stopping {pid}")
    if process_state(pid) in ("Z", None):
        raise ProcessGone(f"process {pid} exited while being stopped")


def resume(pid: int, timeout: float = 5.0) -> None:
    """SIGCONT `pid` and wait until it is no longer stopped."""
    _signal(pid, signal.SIGCONT)
    _wait_for(lambda: process_state(pid) not in ("T", "t"), timeout, f"resuming {pid}")


@contextmanager
def paused(pid: int, timeout: float = 5.0) -> Iterator[None]:
    """Keep `pid` stopped for the duration of the block; resumed even on error."""
    pause(pid, timeout)
    try:
        yield
    finally:
        if process_state(pid) is not None:
            resume(pid, timeout)


def kill_hard(
    target: int | subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10.0
) -> None:
    """kill -9 a process and wait until it is dead.

    With a Popen, the child is also reaped (its returncode set).  With a bare PID, the
    process counts as dead once it is a zombie or gone; reaping is left to its parent.
    Killing a process that is already dead is not an error.
    """
    if isinstance(target, subprocess.Popen):
        if target.poll() is None:
            target.kill()
        target.wait(timeout)
        return
    pid = target
    if process_state(pid) in ("Z", "X", None):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_for(lambda: process_state(pid) in ("Z", "X", None), timeout, f"killing {pid}")
