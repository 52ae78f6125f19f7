"""Start and stop real members (etcdpy or the reference etcd) on loopback, for any test.

Every member listens on 127.0.0.1 on ports found free at start, writes its log to a file
in the test's tmp dir, and is killed by its PID when the test (or session) ends::

    def test_x(procs):                       # the fixture kills everything in finally
        m = procs.etcdpy("n1")               # started and answering /version
        r = procs.reference("ref")           # skips the test if etcd is not installed
        ms = procs.cluster(3, kind="etcdpy") # n1..n3 with one --initial-cluster

For a module- or session-wide member use :class:`ProcGroup` directly in a fixture with
``try/finally: group.close()``. Nothing here waits with a bare sleep: readiness and exits
are polled against a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0

_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now, never the same twice per process."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found on 127.0.0.1 after 200 tries")


def reference_binary() -> str | None:
    """Path of the reference ``etcd`` (3.4, serving v2 with --enable-v2), or None."""
    return shutil.which("etcd")


def etcdctl_binary() -> str | None:
    return shutil.which("etcdctl")


@dataclass
class Proc:
    """One running member process."""

    name: str
    kind: str  # "etcdpy" or "reference"
    popen: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    client_port: int
    peer_port: int
    args: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def client_url(self) -> str:
        return f"http://{LOOPBACK}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{LOOPBACK}:{self.peer_port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Wait for the exit status; None if still running after ``timeout``."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; the exit code."""
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.kill()
            code = self.popen.wait(timeout=STOP_TIMEOUT_S)
        return code

    def kill(self) -> None:
        """SIGKILL and reap (a crash, as far as the member can tell)."""
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=STOP_TIMEOUT_S)

    def rss_kib(self) -> int:
        """Resident set size now, from /proc (Linux)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for pid {self.pid}")


def member_args(
    name: str,
    client_port: int,
    peer_port: int,
    data_dir: Path,
    initial_cluster: str | None = None,
    token: str | None = None,
    state: str = "new",
) -> list[str]:
    """etcd's flags for a member on loopback (the same for etcdpy and the reference)."""
    client = f"http://{LOOPBACK}:{client_port}"
    peer = f"http://{LOOPBACK}:{peer_port}"
    args = [
        "--name",
        name,
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        initial_cluster or f"{name}={peer}",
        "--initial-cluster-state",
        state,
    ]
    if token is not None:
        args += ["--initial-cluster-token", token]
    return args


def http_get(url: str, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_ready(proc: Proc, deadline_s: float = READY_TIMEOUT_S, path: str = "/version") -> None:
    """Poll ``path`` until it answers 200 (for /version: with the cluster version
    decided, so the bootstrap's store writes are all done and indexes are stable); fail
    with the log tail if the member dies or the deadline passes."""
    end = time.monotonic() + deadline_s
    last = ""
    while time.monotonic() < end:
        if not proc.alive():
            raise RuntimeError(
                f"{proc.kind} member {proc.name} exited with {proc.popen.returncode} "
                f"before answering {path}; log:\n{proc.log_tail()}"
            )
        try:
            status, body = http_get(proc.client_url, path, timeout=1.0)
            if status == 200 and not (path == "/version" and b"not_decided" in body):
                return
            last = f"{status} {body[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.05)
    raise RuntimeError(
        f"{proc.kind} member {proc.name} not ready on {proc.client_url}{path} within "
        f"{deadline_s}s (last: {last}); log:\n{proc.log_tail()}"
    )


def _spawn(
    cmd: Sequence[str], log_path: Path, env: dict[str, str] | None
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(log_path.parent),
        )


class ProcGroup:
    """Members started for one test (or module/session); :meth:`close` kills them all."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.procs: list[Proc] = []

    def start(
        self,
        kind: str,
        name: str,
        args: Sequence[str] | None = None,
        *,
        client_port: int | None = None,
        peer_port: int | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        ready: bool = True,
        extra_args: Sequence[str] = (),
    ) -> Proc:
        """Start one member; ``args`` replaces the default flags from :func:`member_args`."""
        client_port = client_port or free_port()
        peer_port = peer_port or free_port()
        data_dir = data_dir or self.base_dir / f"{kind}-{name}.etcd"
        if args is None:
            args = member_args(name, client_port, peer_port, data_dir)
        args = [*args, *extra_args]
        if kind == "reference":
            binary = reference_binary()
            if binary is None:
                pytest.skip("the reference etcd is not installed (apt-get install etcd-server)")
            cmd = [binary, "--enable-v2=true", *args]
            full_env = dict(os.environ)
        else:
            cmd = [sys.executable, "-m", "etcdpy", *args]
            full_env = dict(os.environ)
            full_env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
            )
        if env:
            full_env.update(env)
        log_path = self.base_dir / f"{kind}-{name}.log"
        popen = _spawn(cmd, log_path, full_env)
        proc = Proc(name, kind, popen, log_path, data_dir, client_port, peer_port, list(args))
        self.procs.append(proc)
        if ready:
            wait_ready(proc)
        return proc

    def etcdpy(self, name: str = "n1", args: Sequence[str] | None = None, **kw: Any) -> Proc:
        return self.start("etcdpy", name, args, **kw)

    def reference(self, name: str = "ref", args: Sequence[str] | None = None, **kw: Any) -> Proc:
        return self.start("reference", name, args, **kw)

    def cluster(self, size: int, kind: str = "etcdpy", token: str | None = None) -> list[Proc]:
        """``size`` members n1..nN bootstrapped together; waits until all answer."""
        ports = [(free_port(), free_port()) for _ in range(size)]
        names = [f"n{i + 1}" for i in range(size)]
        initial = ",".join(
            f"{n}=http://{LOOPBACK}:{pp}" for n, (_, pp) in zip(names, ports, strict=True)
        )
        members = []
        for n, (cp, pp) in zip(names, ports, strict=True):
            data_dir = self.base_dir / f"{kind}-{n}.etcd"
            args = member_args(n, cp, pp, data_dir, initial, token)
            members.append(
                self.start(
                    kind, n, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
                )
            )
        for m in members:
            wait_ready(m)
        return members

    def close(self) -> None:
        """Kill every member still running (SIGKILL by PID), newest first."""
        for p in reversed(self.procs):
            p.kill()


@contextlib.contextmanager
def proc_group(base_dir: Path) -> Iterator[ProcGroup]:
    group = ProcGroup(base_dir)
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcGroup]:
    """Members for one test, killed when it ends."""
    with proc_group(tmp_path) as group:
        yield group


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcGroup]:
    """Members shared by a module, killed when it ends."""
    with proc_group(tmp_path_factory.mktemp("procs")) as group:
        yield group


@pytest.fixture(scope="session")
def session_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcGroup]:
    """Members shared by the session, killed when it ends."""
    with proc_group(tmp_path_factory.mktemp("procs")) as group:
        yield group
