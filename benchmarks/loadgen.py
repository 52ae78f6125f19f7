"""The HTTP load generator behind ``benchmarks/cluster.py``: wrk, one thread per client.

A Python generator on a 2-core machine saturates at a few thousand requests/s and would
measure itself, so the load comes from ``wrk`` (Debian package ``wrk``) driven by
``wrk_v2.lua``: one single-threaded wrk process per target member with that member's
share of the keep-alive connections, and a grid of wrk's latency percentiles from each,
merged into one distribution. :class:`TrivialServer` (``trivial_http.c``, built with the system C
compiler) answers a fixed 200 as fast as one core allows, so :func:`run_wrk` against it
measures the generator's ceiling on this machine.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "wrk_v2.lua"
TRIVIAL_SOURCE = HERE / "trivial_http.c"
# A request still unanswered after this long counts as a wrk timeout error, not a latency.
REQUEST_TIMEOUT_S = 10
VALUE_64 = "v" * 64


class LoadError(Exception):
    """The load generator could not run or its output could not be read."""


@dataclass(slots=True)
class LoadSpec:
    """What the clients send. Clients are dealt round-robin over ``targets`` (so a
    spread over 3 members with 64 clients is 22/21/21); the clients on one target share
    one wrk process and take keys ``<prefix><first>..`` one after another, and key
    numbers never repeat across targets."""

    method: str  # "GET" or "PUT"
    targets: Sequence[str]  # "127.0.0.1:port" of each member to load
    clients: int = 64
    query: str = ""  # e.g. "?quorum=true"
    prefix: str = "/v2/keys/bench/k"
    value: str = VALUE_64

    def shares(self) -> list[tuple[str, int, int]]:
        """(target, first key, clients) for every target that gets at least one client."""
        n = len(self.targets)
        out, first = [], 0
        for i, target in enumerate(self.targets):
            count = self.clients // n + (1 if i < self.clients % n else 0)
            if count:
                out.append((target, first, count))
            first += count
        return out


@dataclass(slots=True)
class LoadResult:
    """The totals of one load (all its wrk processes together); latencies in ms."""

    requests: int
    ops_per_s: float
    duration_s: float
    errors: int  # connect, read, write and timeout errors
    bad_status: int  # answers with a status >= 400
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    # CPU the generator itself used (100 = one core): on a small machine it competes with
    # the servers, so a reader needs it next to their numbers.
    generator_cpu_percent: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _ProcessResult:
    """What one wrk process printed; latencies in microseconds."""

    requests: int
    duration_s: float
    errors: int
    bad_status: int
    mean_us: float
    max_us: int
    grid: list[tuple[float, int]]  # (percentile, latency) ascending


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    binary = wrk_binary()
    if binary is None:
        return "not installed"
    # wrk prints its version first in its usage text: "wrk <version> [epoll] Copyright...".
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    first = (out.stdout or out.stderr).split("[", 1)[0].strip()
    return first or "unknown"


def _parse_result(stdout: str) -> _ProcessResult:
    for line in stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            grid = []
            for point in fields["lat_grid"].split(","):
                p, v = point.split(":")
                grid.append((float(p), int(v)))
            return _ProcessResult(
                requests=int(fields["requests"]),
                duration_s=int(fields["duration_us"]) / 1e6,
                errors=sum(
                    int(fields[k]) for k in ("err_connect", "err_read", "err_write", "err_timeout")
                ),
                bad_status=int(fields["err_status"]),
                mean_us=float(fields["lat_mean"]),
                max_us=int(fields["lat_max"]),
                grid=grid,
            )
    raise LoadError(f"wrk printed no BENCH-RESULT line; its output was:\n{stdout[-2000:]}")


def _cdf(r: _ProcessResult, x: float) -> float:
    """Fraction (in percent) of ``r``'s requests at or below ``x``, interpolated linearly
    between its grid points."""
    lo_p, lo_v = 0.0, 0.0
    for p, v in r.grid:
        if v > x:
            if v == lo_v:
                return lo_p
            return lo_p + (p - lo_p) * (x - lo_v) / (v - lo_v)
        lo_p, lo_v = p, float(v)
    if x >= r.max_us or r.max_us == lo_v:
        return 100.0
    return lo_p + (100.0 - lo_p) * (x - lo_v) / (r.max_us - lo_v)


def merged_percentile(parts: Sequence[_ProcessResult], p: float) -> float:
    """The ``p``-th percentile (microseconds) of all parts' latencies together.

    Each part's distribution is known at its grid points (linear in between); the merged
    CDF is the request-weighted mean of the parts' CDFs, inverted by linear interpolation
    between the parts' grid latencies. For one part this returns its own grid value at
    ``p`` exactly."""
    live = [r for r in parts if r.requests > 0]
    total = sum(r.requests for r in live)
    if total == 0:
        return 0.0

    def merged(x: float) -> float:
        return sum(r.requests * _cdf(r, x) for r in live) / total

    prev_x, prev_f = 0.0, 0.0
    for x in sorted({float(v) for r in live for _, v in r.grid} | {float(r.max_us) for r in live}):
        f = merged(x)
        if f >= p - 1e-9:
            if f - prev_f <= 1e-12:
                return x
            return prev_x + (x - prev_x) * (p - prev_f) / (f - prev_f)
        prev_x, prev_f = x, f
    return float(max(r.max_us for r in live))


def _merge(parts: Sequence[_ProcessResult]) -> LoadResult:
    requests = sum(r.requests for r in parts)
    ms = 1000.0
    return LoadResult(
        requests=requests,
        # Each process ran its own clock for the same -d; their rates add up.
        ops_per_s=sum(r.requests / r.duration_s for r in parts if r.duration_s > 0),
        duration_s=max(r.duration_s for r in parts),
        errors=sum(r.errors for r in parts),
        bad_status=sum(r.bad_status for r in parts),
        mean_ms=(sum(r.mean_us * r.requests for r in parts) / requests / ms) if requests else 0.0,
        p50_ms=merged_percentile(parts, 50) / ms,
        p90_ms=merged_percentile(parts, 90) / ms,
        p99_ms=merged_percentile(parts, 99) / ms,
        p999_ms=merged_percentile(parts, 99.9) / ms,
        max_ms=max(r.max_us for r in parts) / ms,
    )


def run_wrk(spec: LoadSpec, seconds: int) -> LoadResult:
    """Run ``spec`` for ``seconds`` (whole seconds, as wrk takes them): one wrk process per
    target, all at once, their totals merged."""
    binary = wrk_binary()
    if binary is None:
        raise LoadError("wrk is not installed; install it with `apt-get install -y wrk` and rerun.")
    if seconds < 1:
        raise LoadError(f"a load run must last at least 1 s (got {seconds}); raise --duration.")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs: list[tuple[list[str], subprocess.Popen[str]]] = []
    try:
        for target, first, count in spec.shares():
            env = dict(os.environ)
            env.update(
                BENCH_METHOD=spec.method,
                BENCH_PREFIX=spec.prefix,
                BENCH_FIRST_KEY=str(first),
                BENCH_KEYS=str(count),
                BENCH_QUERY=spec.query,
                BENCH_VALUE=spec.value,
            )
            cmd = [
                binary,
                "-t1",
                f"-c{count}",
                f"-d{seconds}s",
                f"--timeout={REQUEST_TIMEOUT_S}s",
                "-s",
                str(LUA_SCRIPT),
                f"http://{target}/",
            ]
            popen = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            procs.append((cmd, popen))
        parts = []
        for cmd, popen in procs:
            try:
                stdout, stderr = popen.communicate(timeout=seconds + REQUEST_TIMEOUT_S + 30)
            except subprocess.TimeoutExpired as exc:
                raise LoadError(
                    f"wrk did not finish in {exc.timeout:.0f} s: {' '.join(cmd)}"
                ) from exc
            if popen.returncode != 0:
                raise LoadError(f"wrk exited with {popen.returncode}: {stderr.strip() or stdout}")
            parts.append(_parse_result(stdout))
    finally:
        for _, popen in procs:
            if popen.poll() is None:
                popen.kill()
                popen.wait(timeout=10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _merge(parts)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.duration_s > 0:
        result.generator_cpu_percent = 100.0 * used / result.duration_s
    return result


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class TrivialServer:
    """``trivial_http.c`` compiled into a temp dir and started on a free loopback port."""

    def __init__(self, popen: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        self.popen = popen
        self.port = port
        self.workdir = workdir

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    @contextlib.contextmanager
    def started(cls, port: int) -> Iterator[TrivialServer | None]:
        """Yield the running server, or None when there is no C compiler; killed by PID."""
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            yield None
            return
        workdir = Path(tempfile.mkdtemp(prefix="etcdpy-bench-trivial-"))
        popen: subprocess.Popen[bytes] | None = None
        try:
            binary = workdir / "trivial_http"
            built = subprocess.run(
                [compiler, "-O2", "-o", str(binary), str(TRIVIAL_SOURCE)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if built.returncode != 0:
                raise LoadError(f"could not build {TRIVIAL_SOURCE.name}: {built.stderr.strip()}")
            popen = subprocess.Popen([str(binary), str(port)], stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not _port_open(port):
                if popen.poll() is not None or time.monotonic() > deadline:
                    raise LoadError(f"the trivial server did not listen on 127.0.0.1:{port}.")
                time.sleep(0.02)
            yield cls(popen, port, workdir)
        finally:
            if popen is not None and popen.poll() is None:
                os.kill(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
            shutil.rmtree(workdir, ignore_errors=True)
