"""SIGSTOP/SIGCONT and kill -9 helpers on a throwaway child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.faults import ProcessGone, kill_hard, pause, paused, process_state, resume

# A child that keeps two threads busy, so that "stopped" has to mean all of them.
BUSY = """
import threading, time
def spin():
    while True:
        time.sleep(0.01)
threading.Thread(target=spin, daemon=True).start()
spin()
"""


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        yield process
    finally:
        kill_hard(process)


def thread_states(pid: int) -> set[str]:
    states = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/stat") as stat:
            text = stat.read()
        states.add(text[text.rindex(")") + 2])
    return states


def test_pause_and_resume(child: subprocess.Popen[bytes]) -> None:
    pause(child.pid)
    assert process_state(child.pid) == "T"
    assert thread_states(child.pid) == {"T"}
    resume(child.pid)
    assert process_state(child.pid) in ("R", "S")
    with paused(child.pid):
        assert process_state(child.pid) == "T"
    assert process_state(child.pid) != "T"


def test_paused_resumes_on_error(child: subprocess.Popen[bytes]) -> None:
    with pytest.raises(RuntimeError), paused(child.pid):
        raise RuntimeError("test body failed")
    assert process_state(child.pid) != "T"


def test_kill_hard_a_popen_reaps_it(child: subprocess.Popen[bytes]) -> None:
    pause(child.pid)  # a stopped process dies from SIGKILL all the same
    kill_hard(child)
    assert child.returncode == -9
    assert process_state(child.pid) is None
    kill_hard(child)  # already dead: fine


def test_kill_hard_a_bare_pid_leaves_the_reaping_to_the_parent(
    child: subprocess.Popen[bytes],
) -> None:
    kill_hard(child.pid)
    assert process_state(child.pid) in ("Z", None)
    kill_hard(child.pid)  # a zombie is dead already: fine
    assert child.wait(5) == -9


def test_signalling_a_dead_process_is_a_clear_error(child: subprocess.Popen[bytes]) -> None:
    # Killed but not reaped: the PID cannot be reused by someone else meanwhile.
    kill_hard(child.pid)
    with pytest.raises(ProcessGone, match=f"process {child.pid} is not running"):
        pause(child.pid)
    with pytest.raises(ProcessGone):
        resume(child.pid)
