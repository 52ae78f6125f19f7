"""Real clusters on loopback, etcdpy side by side with the reference etcd.

Run from the repository root::

    python benchmarks/cluster.py                 # every row, 1 s warm-up + 5 s each
    python benchmarks/cluster.py --quick         # 2 s rows, for a smoke run
    python benchmarks/cluster.py --runs 3 --json /tmp/cluster.json
    python benchmarks/cluster.py --rows 3m-write # only the rows whose key contains this
    python benchmarks/cluster.py --profile 1m-write   # py-spy on the etcdpy leader

Each row starts a fresh etcdpy cluster (1 or 3 members, fresh data dirs under a temp
dir on disk, real fsync), finds the leader, writes the 64 keys once, warms up, then
drives it for ``--duration`` seconds with ``--clients`` keep-alive HTTP clients over as
many keys (64-byte values; see ``loadgen.py``); it kills the cluster by PID and does the
same with the reference etcd (``etcd --enable-v2=true``) started with the same flags.
It prints writes or reads per second, p50/p99 latency, the ratios etcdpy/etcd, the CPU
the members used and the CPU other processes took meanwhile (on a shared machine the
main source of spread), after the generator's own ceiling against a trivial C server.
Prints numbers; asserts nothing about speed.

Rows run in the order etcdpy, etcd, next row; ``--runs N`` repeats the whole table N
times and reports medians with their spread. Use ``--etcdpy-rev`` on a working tree that
others are editing, and ``--settle`` on a machine that others are loading.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadgen import (  # noqa: E402  (benchmarks/ is the script's own directory)
    VALUE_64,
    LoadError,
    LoadResult,
    LoadSpec,
    TrivialServer,
    run_wrk,
    wrk_binary,
    wrk_version,
)

from tests.procs import (  # noqa: E402
    LOOPBACK,
    Proc,
    ProcGroup,
    free_port,
    member_args,
    reference_binary,
    wait_ready,
)

KINDS = ("etcdpy", "reference")
LABEL = {"etcdpy": "etcdpy", "reference": "etcd"}
LEADER_TIMEOUT_S = 20.0
# etcd 2.x's default, which etcdpy keeps; etcd 3.4 defaults to 100000, so both get it
# explicitly and snapshot at the same rate.
DEFAULT_SNAPSHOT_COUNT = 10_000
GOAL_THROUGHPUT_RATIO = 0.5
GOAL_P99_RATIO = 2.0
PROFILE_RATE_HZ = 200
# "Quiet" for --settle: other work uses less than a quarter of one core.
QUIET_BUSY_PERCENT = 25.0


class BenchError(Exception):
    """A cluster could not be started or measured; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a load shape on a cluster size."""

    key: str
    title: str
    members: int
    method: str
    query: str = ""
    spread: bool = False  # clients round-robin over all members instead of the leader


ROWS: tuple[Row, ...] = (
    Row("1m-write", "1 member   write", 1, "PUT"),
    Row("1m-read", "1 member   read", 1, "GET"),
    Row("1m-qread", "1 member   quorum read", 1, "GET", "?quorum=true"),
    Row("3m-write-leader", "3 members  write  -> leader", 3, "PUT"),
    Row("3m-write-all", "3 members  write  -> all", 3, "PUT", spread=True),
    Row("3m-read-leader", "3 members  read   -> leader", 3, "GET"),
    Row("3m-read-all", "3 members  read   -> all", 3, "GET", spread=True),
    Row("3m-qread-leader", "3 members  quorum -> leader", 3, "GET", "?quorum=true"),
    Row("3m-qread-all", "3 members  quorum -> all", 3, "GET", "?quorum=true", spread=True),
)


@dataclass(slots=True)
class Measurement:
    """One row measured once on one kind of server."""

    row: str
    kind: str
    run: int
    load: LoadResult
    cpu_percent: list[float]  # per member, leader first (100 = one core)
    # CPU used meanwhile by the processes of others on a shared machine (not kernel
    # threads): the reason two runs of one row can differ.
    others_cpu_percent: float = 0.0
    # Kernel threads meanwhile (mostly this load's fsyncs and loopback).
    kernel_cpu_percent: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "kind": self.kind,
            "run": self.run,
            **self.load.to_dict(),
            "cpu_percent": [round(c, 1) for c in self.cpu_percent],
            "others_cpu_percent": round(self.others_cpu_percent, 1),
            "kernel_cpu_percent": round(self.kernel_cpu_percent, 1),
        }


@dataclass(slots=True)
class Settings:
    duration_s: int
    warmup_s: int
    clients: int
    snapshot_count: int
    base_dir: Path
    keep: bool
    extra_flags: list[str] = field(default_factory=list)
    # Where etcdpy members import etcdpy from (PYTHONPATH); None: this working tree.
    etcdpy_tree: Path | None = None
    etcdpy_source: str = ""
    # Up to this many seconds before each measurement, wait for the machine to be quiet.
    settle_s: float = 0.0


# ---------------------------------------------------------------- clusters


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the parenthesised command name; utime and stime are 14th and 15th.
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat: user, nice, system,
    irq, softirq; idle, iowait and time stolen by a hypervisor left out)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    return (sum(fields[:3]) + fields[5] + fields[6]) / os.sysconf("SC_CLK_TCK")


def _kernel_seconds() -> float:
    """CPU seconds of kernel threads (children of kthreadd: ext4's jbd2, kworkers,
    ksoftirqd): disk and loopback work a load causes, whoever caused it. Interrupt time
    needs no separate term: the kernel charges it to the task it interrupted."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if entry.name == "2" or rest[1] == "2":  # kthreadd or one of its threads
            total += int(rest[11]) + int(rest[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float, busy_percent: float = QUIET_BUSY_PERCENT) -> float:
    """Wait (at most ``limit_s``) until the machine's CPUs were less than ``busy_percent``
    busy over one second; the last second's busy percentage (100 = one core)."""
    deadline = time.monotonic() + limit_s
    while True:
        before = _machine_busy_seconds()
        time.sleep(1.0)  # the measurement window itself
        busy = 100.0 * (_machine_busy_seconds() - before)
        if busy < busy_percent or time.monotonic() >= deadline:
            return busy


def _get_json(proc: Proc, path: str) -> Any:
    conn = http.client.HTTPConnection(LOOPBACK, proc.client_port, timeout=2.0)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise BenchError(f"GET {path} on {proc.kind} {proc.name} answered {r.status}")
        return json.loads(body)
    finally:
        conn.close()


def _leader_first(members: list[Proc]) -> list[Proc]:
    """The members with the leader first, once one member says it leads (bounded wait)."""
    deadline = time.monotonic() + LEADER_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        for i, m in enumerate(members):
            try:
                state = _get_json(m, "/v2/stats/self").get("state")
            except (OSError, ValueError, BenchError) as exc:
                last = f"{m.name}: {exc}"
                continue
            if state == "StateLeader":
                return [m, *members[:i], *members[i + 1 :]]
        time.sleep(0.05)
    raise BenchError(
        f"no {members[0].kind} member reported StateLeader on /v2/stats/self within "
        f"{LEADER_TIMEOUT_S:.0f} s (last: {last}); logs are in {members[0].log_path.parent}"
    )


def _write_keys(leader: Proc, clients: int) -> None:
    """Create every client's key once, so read rows find them."""
    conn = http.client.HTTPConnection(LOOPBACK, leader.client_port, timeout=10.0)
    body = f"value={VALUE_64}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        for i in range(clients):
            conn.request("PUT", f"/v2/keys/bench/k{i}", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status not in (200, 201):
                raise BenchError(f"PUT /v2/keys/bench/k{i} on {leader.kind} answered {r.status}")
    finally:
        conn.close()


def _start_cluster(group: ProcGroup, kind: str, size: int, settings: Settings) -> list[Proc]:
    ports = [(free_port(), free_port()) for _ in range(size)]
    names = [f"n{i + 1}" for i in range(size)]
    initial = ",".join(
        f"{n}=http://{LOOPBACK}:{pp}" for n, (_, pp) in zip(names, ports, strict=True)
    )
    flags = ["--snapshot-count", str(settings.snapshot_count), *settings.extra_flags]
    env = (
        {"PYTHONPATH": str(settings.etcdpy_tree)}
        if kind == "etcdpy" and settings.etcdpy_tree is not None
        else None
    )
    members = []
    for n, (cp, pp) in zip(names, ports, strict=True):
        data_dir = group.base_dir / f"{kind}-{n}.etcd"
        args = member_args(n, cp, pp, data_dir, initial, "bench")
        members.append(
            group.start(
                kind,
                n,
                args,
                client_port=cp,
                peer_port=pp,
                data_dir=data_dir,
                ready=False,
                extra_args=flags,
                env=env,
            )
        )
    for m in members:
        wait_ready(m)
    return members


class Cluster:
    """A fresh cluster of one kind for one row; ``close`` kills it by PID."""

    def __init__(self, kind: str, size: int, settings: Settings, tag: str) -> None:
        self.dir = settings.base_dir / tag
        self.settings = settings
        self.group = ProcGroup(self.dir)
        try:
            self.members = _leader_first(_start_cluster(self.group, kind, size, settings))
            _write_keys(self.members[0], settings.clients)
        except BaseException:
            self.close()
            raise

    def targets(self, spread: bool) -> list[str]:
        chosen = self.members if spread else self.members[:1]
        return [f"{LOOPBACK}:{m.client_port}" for m in chosen]

    def cpu_seconds(self) -> list[float]:
        return [_cpu_seconds(m.pid) for m in self.members]

    def check_alive(self) -> None:
        for m in self.members:
            if not m.alive():
                raise BenchError(
                    f"{m.kind} member {m.name} exited with {m.popen.returncode} during the "
                    f"run; log tail:\n{m.log_tail()}"
                )

    def close(self) -> None:
        self.group.close()
        if not self.settings.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def measure(row: Row, kind: str, run: int, settings: Settings) -> Measurement:
    cluster = Cluster(kind, row.members, settings, f"{row.key}-{kind}-run{run}")
    try:
        spec = LoadSpec(row.method, cluster.targets(row.spread), settings.clients, row.query)
        if settings.warmup_s > 0:
            run_wrk(spec, settings.warmup_s)
        before = cluster.cpu_seconds()
        busy_before, kernel_before = _machine_busy_seconds(), _kernel_seconds()
        load = run_wrk(spec, settings.duration_s)
        after = cluster.cpu_seconds()
        busy_after, kernel_after = _machine_busy_seconds(), _kernel_seconds()
        cluster.check_alive()
    finally:
        cluster.close()

    def percent(seconds: float) -> float:
        return 100.0 * seconds / load.duration_s

    cpu = [percent(a - b) for a, b in zip(after, before, strict=True)]
    kernel = percent(kernel_after - kernel_before)
    busy = percent(busy_after - busy_before)
    others = max(0.0, busy - sum(cpu) - load.generator_cpu_percent - kernel)
    return Measurement(row.key, kind, run, load, cpu, others, kernel)


# ---------------------------------------------------------------- output


def _fmt_ops(v: float) -> str:
    return f"{v:,.0f}"


def _fmt_ms(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def _spread(xs: Sequence[float]) -> str:
    """Min-max range as a percentage of the median (blank for a single run)."""
    if len(xs) < 2:
        return ""
    m = _median(xs)
    return f"±{50.0 * (max(xs) - min(xs)) / m:.0f}%" if m else ""


@dataclass(slots=True)
class RowSummary:
    row: Row
    ops: dict[str, list[float]]
    p50: dict[str, list[float]]
    p99: dict[str, list[float]]
    cpu: dict[str, list[float]]  # total over members, per run
    others: dict[str, list[float]]  # CPU of other processes meanwhile, per run
    failures: dict[str, int]  # errors + non-2xx answers over all runs

    @property
    def ratio(self) -> float:
        ref = _median(self.ops["reference"])
        return _median(self.ops["etcdpy"]) / ref if ref else 0.0

    @property
    def p99_ratio(self) -> float:
        ref = _median(self.p99["reference"])
        return _median(self.p99["etcdpy"]) / ref if ref else 0.0

    @property
    def meets_goal(self) -> bool:
        return self.ratio >= GOAL_THROUGHPUT_RATIO and self.p99_ratio <= GOAL_P99_RATIO

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row.key, "title": self.row.title.strip()}
        for kind in KINDS:
            out[LABEL[kind]] = {
                "ops_per_s_median": round(_median(self.ops[kind]), 1),
                "ops_per_s_runs": [round(x, 1) for x in self.ops[kind]],
                "p50_ms_median": _median(self.p50[kind]),
                "p99_ms_median": _median(self.p99[kind]),
                "cpu_percent_median": round(_median(self.cpu[kind]), 1),
                "failed_requests": self.failures[kind],
            }
        out["throughput_ratio"] = round(self.ratio, 3)
        out["p99_ratio"] = round(self.p99_ratio, 3)
        out["meets_goal"] = self.meets_goal
        return out


def summarize(row: Row, ms: Sequence[Measurement]) -> RowSummary:
    mine = [m for m in ms if m.row == row.key]
    by: dict[str, list[Measurement]] = collections.defaultdict(list)
    for m in mine:
        by[m.kind].append(m)
    return RowSummary(
        row,
        ops={k: [m.load.ops_per_s for m in by[k]] for k in KINDS},
        p50={k: [m.load.p50_ms for m in by[k]] for k in KINDS},
        p99={k: [m.load.p99_ms for m in by[k]] for k in KINDS},
        cpu={k: [sum(m.cpu_percent) for m in by[k]] for k in KINDS},
        others={k: [m.others_cpu_percent for m in by[k]] for k in KINDS},
        failures={k: sum(m.load.errors + m.load.bad_status for m in by[k]) for k in KINDS},
    )


def table(summaries: Sequence[RowSummary]) -> str:
    head = (
        f"{'row':<28} {'etcdpy/s':>9} {'':>5} {'etcd/s':>9} {'':>5} {'ratio':>6}  "
        f"{'etcdpy p50/p99 ms':>17}  {'etcd p50/p99 ms':>15}  {'p99x':>5}  "
        f"{'cpu% py/etcd':>12}  {'others%':>7}  goal"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        py, ref = "etcdpy", "reference"
        lat_py = f"{_fmt_ms(_median(s.p50[py]))} / {_fmt_ms(_median(s.p99[py]))}"
        lat_ref = f"{_fmt_ms(_median(s.p50[ref]))} / {_fmt_ms(_median(s.p99[ref]))}"
        cpu = f"{_median(s.cpu[py]):.0f}/{_median(s.cpu[ref]):.0f}"
        others = f"{_median(s.others[py] + s.others[ref]):.0f}"
        goal = "ok" if s.meets_goal else "BEHIND"
        if s.failures[py] or s.failures[ref]:
            goal += f" (failed requests: etcdpy {s.failures[py]}, etcd {s.failures[ref]})"
        lines.append(
            f"{s.row.title:<28} {_fmt_ops(_median(s.ops[py])):>9} {_spread(s.ops[py]):>5} "
            f"{_fmt_ops(_median(s.ops[ref])):>9} {_spread(s.ops[ref]):>5} {s.ratio:>6.2f}  "
            f"{lat_py:>17}  {lat_ref:>15}  {s.p99_ratio:>5.2f}  {cpu:>12}  {others:>7}  {goal}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- machine and ceiling


def export_revision(rev: str, dest: Path) -> str:
    """Extract ``etcdpy/`` as committed at ``rev`` into ``dest`` (``git archive``, which
    leaves the shared working tree alone); the full commit id."""
    git = ["git", "-C", str(REPO)]
    found = subprocess.run(
        [*git, "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if found.returncode != 0:
        raise BenchError(
            f"--etcdpy-rev {rev!r} is not a commit of {REPO}; name a commit or branch."
        )
    commit = found.stdout.strip()
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        [*git, "archive", "--format=tar", commit, "etcdpy"], capture_output=True, timeout=60
    )
    if archive.returncode != 0:
        raise BenchError(f"git archive of {commit} failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def _working_tree_state() -> str:
    out = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _etcd_version() -> str:
    binary = reference_binary()
    if binary is None:
        return "not installed"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.replace("Version: ", "") or "unknown"


def _fs_type(path: Path) -> str:
    out = subprocess.run(
        ["df", "--output=fstype", str(path)], capture_output=True, text=True, timeout=10
    )
    lines = out.stdout.split()
    return lines[-1] if out.returncode == 0 and len(lines) > 1 else "unknown"


def machine_info(base_dir: Path) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "etcd": _etcd_version(),
        "wrk": wrk_version(),
        "data_dir_fs": _fs_type(base_dir),
        "loadavg_at_start": list(os.getloadavg()),
    }


def generator_ceiling(settings: Settings) -> dict[str, Any]:
    """The generator's own rate against a trivial server sharing this machine."""
    with TrivialServer.started(free_port()) as server:
        if server is None:
            return {"note": "not measured: no C compiler (cc) to build trivial_http.c"}
        out: dict[str, Any] = {}
        for method in ("GET", "PUT"):
            spec = LoadSpec(method, [server.target], settings.clients)
            out[method] = run_wrk(spec, settings.duration_s).to_dict()
        return out


def _ceiling_line(ceiling: dict[str, Any]) -> str:
    if "note" in ceiling:
        return f"generator ceiling: {ceiling['note']}"
    parts = []
    for m in ("GET", "PUT"):
        c = ceiling[m]
        # CPU microseconds wrk spends per request, to judge what it takes from the servers.
        us = 1e4 * c["generator_cpu_percent"] / c["ops_per_s"] if c["ops_per_s"] else 0.0
        parts.append(
            f"{m} {c['ops_per_s']:,.0f}/s (p99 {_fmt_ms(c['p99_ms'])} ms, wrk {us:.0f} µs CPU "
            "per request)"
        )
    return (
        "generator ceiling (wrk vs a one-thread C server on the same cores): "
        + ", ".join(parts)
        + "; a row near this rate measures the generator"
    )


# ---------------------------------------------------------------- profile


def _frame_name(frame: str) -> str:
    """``func (path:line)`` without the line, with the path shortened to the repo or
    site-packages."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in (str(REPO) + "/", "site-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


# Frames every stack of a thread starts with; inclusive time says nothing about them.
_ENTRY_FRAMES = (
    "_run_module_as_main",
    "_run_code",
    "<module> ",
    "main (etcdpy/cli",
    "_run (etcdpy/cli",
    "Runner.run ",
    "run (asyncio",
    "Thread._bootstrap",
    "Thread.run ",
)


@dataclass(slots=True)
class ProfileSummary:
    total: int  # non-idle samples over all threads
    threads: list[tuple[str, int]]  # (label, samples), busiest first
    own: list[tuple[str, int]]  # innermost frame
    inclusive: list[tuple[str, int]]  # anywhere on the stack, entry frames left out


def top_functions(raw: str, n: int = 15) -> ProfileSummary:
    """Summarize py-spy's raw (collapsed, ``--threads``) output: samples per thread, the
    top ``n`` functions by own samples and by inclusive samples."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    per_thread: collections.Counter[str] = collections.Counter()
    loop_threads: set[str] = set()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames.pop(0) if frames[0].startswith("thread (") else "thread (?)"
        names = [_frame_name(f) for f in frames] or ["<no python frame>"]
        if any(f.startswith("Runner.run ") for f in names):
            loop_threads.add(thread)
        total += count
        per_thread[thread] += count
        own[names[-1]] += count
        for f in set(names):
            if not f.startswith(_ENTRY_FRAMES):
                inclusive[f] += count
    threads = [
        (("event loop " if t in loop_threads else "other ") + t, c)
        for t, c in per_thread.most_common()
    ]
    return ProfileSummary(total, threads, own.most_common(n), inclusive.most_common(n))


def profile(row: Row, settings: Settings, seconds: int, native: bool = False) -> str:
    """py-spy on the etcdpy leader while ``row``'s load runs; a printable report."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise BenchError("py-spy is not installed; install it with `pip install py-spy`.")
    cluster = Cluster("etcdpy", row.members, settings, f"profile-{row.key}")
    try:
        spec = LoadSpec(row.method, cluster.targets(row.spread), settings.clients, row.query)
        run_wrk(spec, max(1, settings.warmup_s))
        out_path = cluster.dir / "py-spy.raw"
        # The load outlasts the recording on both sides so every sample sees full load;
        # wrk runs in a subprocess, so a thread is enough to run it beside py-spy.
        loaded: list[LoadResult] = []
        loader = threading.Thread(
            target=lambda: loaded.append(run_wrk(spec, seconds + 3)), daemon=True
        )
        loader.start()
        time.sleep(1.0)  # wrk's clients connect and reach full load before sampling
        rec = subprocess.run(
            [
                spy,
                "record",
                "--pid",
                str(cluster.members[0].pid),
                "--duration",
                str(seconds),
                "--rate",
                str(PROFILE_RATE_HZ),
                "--threads",
                # Native unwinding needs the target paused per sample (py-spy refuses
                # --native with --nonblocking); otherwise never pause the member.
                *(["--native"] if native else ["--nonblocking"]),
                "--format",
                "raw",
                "--output",
                str(out_path),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        loader.join(timeout=seconds + 60)
        if rec.returncode != 0 or not out_path.exists():
            raise BenchError(f"py-spy record failed ({rec.returncode}): {rec.stderr.strip()}")
        raw = out_path.read_text()
    finally:
        cluster.close()
    prof = top_functions(raw)
    if prof.total == 0:
        raise BenchError(f"py-spy recorded no samples of the leader; its output is in {out_path}")
    rate = (
        f"{loaded[0].ops_per_s:,.0f} ops/s, p50 {_fmt_ms(loaded[0].p50_ms)} ms, "
        f"p99 {_fmt_ms(loaded[0].p99_ms)} ms"
        if loaded
        else "unknown (wrk did not finish)"
    )
    wall = seconds * PROFILE_RATE_HZ  # samples of a thread that is never idle
    lines = [
        f"py-spy on the etcdpy leader ({row.title.strip()}, {settings.clients} clients, "
        f"{seconds} s at {PROFILE_RATE_HZ} Hz{', native frames' if native else ''}); "
        f"load during recording: {rate}",
        "non-idle samples per thread (% of the recording's wall time):",
    ]
    lines += [f"  {100.0 * c / wall:5.1f}%  {label}" for label, c in prof.threads]
    lines += [f"top {len(prof.own)} functions by own time (% of {prof.total} non-idle samples):"]
    lines += [f"  {100.0 * c / prof.total:5.1f}%  {name}" for name, c in prof.own]
    lines += [f"top {len(prof.inclusive)} functions by inclusive time (entry frames left out):"]
    lines += [f"  {100.0 * c / prof.total:5.1f}%  {name}" for name, c in prof.inclusive]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="etcdpy vs the reference etcd on real loopback clusters (wrk load)."
    )
    p.add_argument("--duration", type=int, default=5, help="seconds measured per row (5)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of load before each row (1)")
    p.add_argument("--quick", action="store_true", help="2 s rows for a smoke run")
    p.add_argument("--runs", type=int, default=1, help="measure every row this many times")
    p.add_argument("--clients", type=int, default=64, help="concurrent clients (64)")
    p.add_argument(
        "--rows",
        default="",
        help="only rows whose key contains this (comma-separated); keys: "
        + ", ".join(r.key for r in ROWS),
    )
    p.add_argument(
        "--snapshot-count",
        type=int,
        default=DEFAULT_SNAPSHOT_COUNT,
        help=f"--snapshot-count passed to both servers ({DEFAULT_SNAPSHOT_COUNT})",
    )
    p.add_argument(
        "--flag", action="append", default=[], help="an extra member flag for both servers"
    )
    p.add_argument("--json", type=Path, help="write the raw numbers to this file")
    p.add_argument("--dir", type=Path, help="parent of the temp data dirs (default: /tmp)")
    p.add_argument("--keep", action="store_true", help="keep data dirs and member logs")
    p.add_argument(
        "--etcdpy-rev",
        metavar="REV",
        help="run etcdpy as committed at REV (git archive) instead of the working tree",
    )
    p.add_argument("--no-ceiling", action="store_true", help="skip the generator ceiling")
    p.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each measurement wait up to S seconds for the machine to be quiet "
        f"(< {QUIET_BUSY_PERCENT:.0f}%% of a core busy); for shared machines",
    )
    p.add_argument(
        "--profile",
        metavar="ROW",
        help="instead of the table: py-spy on the etcdpy leader under ROW's load",
    )
    p.add_argument("--profile-seconds", type=int, default=10, help="py-spy duration (10)")
    p.add_argument(
        "--profile-native",
        action="store_true",
        help="py-spy --native: C frames too (pauses the member per sample: slower)",
    )
    return p.parse_args(argv)


def _select(rows_arg: str) -> list[Row]:
    if not rows_arg:
        return list(ROWS)
    wanted = [w.strip() for w in rows_arg.split(",") if w.strip()]
    chosen = [r for r in ROWS if any(w in r.key for w in wanted)]
    if not chosen:
        raise BenchError(
            f"--rows {rows_arg!r} matches no row; use part of one of: "
            + ", ".join(r.key for r in ROWS)
        )
    return chosen


@dataclass(slots=True)
class Progress:
    """One line per measurement, so a long run shows where it is."""

    total: int
    done: int = 0

    def report(self, m: Measurement) -> None:
        self.done += 1
        print(
            f"  [{self.done}/{self.total}] {m.row:<16} {LABEL[m.kind]:<6} run {m.run}: "
            f"{m.load.ops_per_s:>9,.0f}/s  p50 {_fmt_ms(m.load.p50_ms)} ms  "
            f"p99 {_fmt_ms(m.load.p99_ms)} ms  cpu: members {sum(m.cpu_percent):.0f}% "
            f"({'/'.join(f'{c:.0f}' for c in m.cpu_percent)}), "
            f"wrk {m.load.generator_cpu_percent:.0f}%, kernel {m.kernel_cpu_percent:.0f}%, "
            f"others {m.others_cpu_percent:.0f}%"
            + (
                f"  failed {m.load.errors + m.load.bad_status}"
                if m.load.errors or m.load.bad_status
                else ""
            ),
            flush=True,
        )


def _measurements(
    rows: Sequence[Row], runs: int, settings: Settings, progress: Progress
) -> Iterator[Measurement]:
    # Runs are the outer loop, so a burst of load from elsewhere on a shared machine
    # spoils one run of every row rather than every run of one row.
    for run in range(1, runs + 1):
        for row in rows:
            for kind in KINDS:
                if settings.settle_s > 0:
                    busy = wait_quiet(settings.settle_s)
                    if busy >= QUIET_BUSY_PERCENT:
                        print(f"  (machine still {busy:.0f}% busy after {settings.settle_s:g} s)")
                m = measure(row, kind, run, settings)
                progress.report(m)
                yield m


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds through every ``finally``, so the members get killed by PID.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = _parse_args(argv)
    if args.quick:
        args.duration = 2
    try:
        if wrk_binary() is None:
            raise BenchError("wrk is not installed; install it with `apt-get install -y wrk`.")
        if reference_binary() is None:
            raise BenchError(
                "the reference etcd is not installed; install it with "
                "`apt-get install -y etcd-server` (etcd 3.4 serves v2 with --enable-v2)."
            )
        if args.duration < 1 or args.runs < 1 or args.clients < 1 or args.warmup < 0:
            raise BenchError(
                "--duration, --runs and --clients must be at least 1 and --warmup at least 0."
            )
        base = Path(tempfile.mkdtemp(prefix="etcdpy-bench-", dir=args.dir))
        settings = Settings(
            args.duration,
            args.warmup,
            args.clients,
            args.snapshot_count,
            base,
            args.keep,
            list(args.flag),
        )
        settings.settle_s = args.settle
        if args.etcdpy_rev:
            commit = export_revision(args.etcdpy_rev, base / "etcdpy-src")
            settings.etcdpy_tree = base / "etcdpy-src"
            settings.etcdpy_source = f"commit {commit[:12]}"
        else:
            settings.etcdpy_source = f"working tree {_working_tree_state()}"
        try:
            if args.profile:
                row = _select(args.profile)[0]
                print(profile(row, settings, args.profile_seconds, args.profile_native))
                return 0
            return _run_table(args, settings)
        finally:
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
            else:
                print(f"data dirs and logs kept in {base}")
    except (BenchError, LoadError, RuntimeError) as exc:
        # RuntimeError: tests.procs' member that died or never answered, with its log tail.
        print(f"cluster benchmark: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cluster benchmark: interrupted; every member started was killed.", file=sys.stderr)
        return 130


def _run_table(args: argparse.Namespace, settings: Settings) -> int:
    rows = _select(args.rows)
    info = machine_info(settings.base_dir)
    print(
        f"cluster benchmark: {settings.clients} clients, {settings.warmup_s} s warm-up + "
        f"{settings.duration_s} s per row, {args.runs} run(s); {info['cpus']} CPUs, "
        f"load average {info['loadavg_at_start'][0]:.2f}; {info['etcd']}; {info['wrk']}; "
        f"data dirs on {info['data_dir_fs']} under {settings.base_dir}; etcdpy from "
        f"{settings.etcdpy_source}"
    )
    if info["data_dir_fs"] == "tmpfs":
        print("WARNING: the data dirs are on tmpfs, where fsync costs nothing; use --dir.")
    ceiling: dict[str, Any] = {}
    if not args.no_ceiling:
        ceiling = generator_ceiling(settings)
        print(_ceiling_line(ceiling), flush=True)
    progress = Progress(len(rows) * args.runs * len(KINDS))
    measurements = list(_measurements(rows, args.runs, settings, progress))
    summaries = [summarize(r, measurements) for r in rows]
    print()
    print(table(summaries))
    print(
        f"\nratio = etcdpy/etcd ops/s (goal >= {GOAL_THROUGHPUT_RATIO}); p99x = etcdpy p99 / "
        f"etcd p99 (goal <= {GOAL_P99_RATIO}); medians over runs, ±% = half the min-max "
        "range; cpu% = all members' CPU (100 = one core); others% = CPU of other user processes "
        "meanwhile (median; kernel threads left out), the noise on a shared machine."
    )
    others = [m.others_cpu_percent for m in measurements]
    print(
        f"other processes on the machine used {_median(others):.0f}% CPU (median; max "
        f"{max(others):.0f}%) while rows ran; load average now {os.getloadavg()[0]:.2f}."
    )
    if args.json:
        doc = {
            "machine": info,
            "settings": {
                "duration_s": settings.duration_s,
                "warmup_s": settings.warmup_s,
                "clients": settings.clients,
                "runs": args.runs,
                "snapshot_count": settings.snapshot_count,
                "extra_flags": settings.extra_flags,
                "value_bytes": len(VALUE_64),
                "etcdpy": settings.etcdpy_source,
            },
            "generator_ceiling": ceiling,
            "rows": [s.to_dict() for s in summaries],
            "measurements": [m.to_dict() for m in measurements],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
