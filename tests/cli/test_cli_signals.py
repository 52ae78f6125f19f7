"""The daemon's own plumbing around run_member, with a stand-in server in a real process:
SIGTERM/SIGINT stop it with status 0 after run_member has cleaned up, and an error the
operator can fix ends as one sentence with status 1.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

Starter = Callable[..., "subprocess.Popen[str]"]

# Replaces etcdpy.server.run with a member that reports on stdout and waits, or fails.
STAND_IN = textwrap.dedent(
    """
    import asyncio, sys, types

    async def run_member(cfg):
        if cfg.name == "fail":
            raise OSError(98, "address already in use on 127.0.0.1:1")
        print("serving", cfg.name, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            print("cleaned up", flush=True)

    module = types.ModuleType("etcdpy.server.run")
    module.run_member = run_member
    sys.modules["etcdpy.server.run"] = module
    from etcdpy.cli.daemon import main
    main()
    """
)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Starter]:
    procs: list[subprocess.Popen[str]] = []

    def _start(*args: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        env["PYTHONPATH"] = str(REPO)
        proc = subprocess.Popen(
            [sys.executable, "-c", STAND_IN, "-data-dir", str(tmp_path / "d"), *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    try:
        yield _start
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()


def wait_for_line(proc: subprocess.Popen[str], expected: str, deadline_s: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + deadline_s
    while (remaining := deadline - time.monotonic()) > 0:
        if not select.select([proc.stdout], [], [], remaining)[0]:
            break
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line:  # End of output: the process has ended.
            break
    pytest.fail(
        f"no {expected!r} from the member; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_member_cleanly(start: Starter, sig: signal.Signals) -> None:
    proc = start("-name", "n1")
    wait_for_line(proc, "serving n1", 30)
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "cleaned up"
    assert "Traceback" not in err
    assert f"I | n1 | etcdpy.cli: received {sig.name}, shutting down" in err


def test_operator_error_from_the_server_is_one_sentence(start: Starter) -> None:
    proc = start("-name", "fail")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err == "etcdpy: [Errno 98] address already in use on 127.0.0.1:1\n"
