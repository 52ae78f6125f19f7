"""SIGKILL a process in the middle of heavy appends: every acknowledged save survives.

ETCDPY_HYPOTHESIS=ci or long runs more kill points than the default three.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from etcdpy.raft.types import HardState
from etcdpy.wal import WAL, WalSnapshot
from tests.wal.appender import plan
from tests.wal.wal_helpers import Model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNS = {"ci": 10, "long": 40}.get(os.environ.get("ETCDPY_HYPOTHESIS", ""), 3)


def run_and_kill(waldir: str, seed: int, kill_after: int) -> int:
    """Start the appender, SIGKILL it once ``kill_after`` saves are acknowledged, return
    how many saves it acknowledged in all."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.wal.appender", waldir, str(64 * 1024), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = 0
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        deadline = time.monotonic() + 60
        while acked < kill_after and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # Lines already in the pipe were printed after their save returned: acknowledged.
        for line in proc.stdout:
            if line.strip():
                acked = int(line)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the appender ended before it was killed"
    return acked


@pytest.mark.parametrize("run", range(RUNS))
def test_sigkill_loses_no_acknowledged_save(tmp_path: object, run: int) -> None:
    rng = random.Random(run)
    seed = rng.randrange(1 << 30)
    kill_after = rng.randint(20, 400)
    waldir = os.path.join(str(tmp_path), "wal")
    acked = run_and_kill(waldir, seed, kill_after)
    assert acked >= kill_after
    saves = plan(seed, acked + 1)
    model = Model()
    states = []
    for hs, es in saves:
        model.save(HardState(), es)
        states.append(model.snapshot())  # the entries record made it, the state did not
        model.save(hs, [])
        states.append(model.snapshot())
    w = WAL.open(waldir, WalSnapshot(), segment_size=64 * 1024)
    md, hs, es = w.read_all()
    # The log is ready to append after whatever repair the crash needed.
    w.save(HardState(hs.term, hs.vote, hs.commit), [])
    w.close()
    assert md == b"crash-test"
    # Exactly the state after the last acknowledged save, or after part or all of the
    # save that was in flight when the process died.
    allowed = states[2 * acked - 1 :]
    assert (hs, es) in allowed, (
        f"read back {len(es)} entries, hard state {hs}; acknowledged {acked} saves"
    )
