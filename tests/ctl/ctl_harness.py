"""Run etcdpyctl and the reference etcdctl side by side, and compare what they print.

Both tools talk to the same server.  A scenario is a list of command lines with a
``{p}`` placeholder; the reference runs it under one key prefix, etcdpyctl under
another, so they never see each other's keys.  Their transcripts are compared after
:func:`normalize`, which maps the prefixes to ``{p}`` and renames every store index by
order of first appearance (the two runs happen at different indexes, but the same
index must come back in the same places), and masks expiration times and TTLs.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("ETCDPY_CTL_TARGET", "reference")
# Run etcdpyctl as a separate process for every command (slower, exactly the entry point).
IN_SUBPROCESS = os.environ.get("ETCDPY_CTL_SUBPROCESS", "") == "1"
RUN_TIMEOUT_S = 30.0

OURS = "ours"
REF = "ref"


def etcdctl_binary() -> str:
    path = shutil.which("etcdctl")
    if path is None:
        pytest.skip("the reference etcdctl is not installed (apt-get install etcd-client)")
    return path


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["ETCDCTL_API"] = "2"
    if extra:
        env.update(extra)
    return env


def command(tool: str, args: Sequence[str]) -> list[str]:
    if tool == OURS:
        return [sys.executable, "-m", "etcdpy.cli.ctl", *args]
    return [etcdctl_binary(), *args]


@dataclass(slots=True)
class Run:
    rc: int
    out: str
    err: str


def run(
    tool: str,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = RUN_TIMEOUT_S,
    subprocess_only: bool = False,
) -> Run:
    """Run a tool to completion.  etcdpyctl runs inside this process (fast) unless
    ``subprocess_only`` or ETCDPY_CTL_SUBPROCESS=1 asks for the real entry point."""
    if tool == OURS and not subprocess_only and not IN_SUBPROCESS:
        return run_inprocess(args, env=env, stdin=stdin)
    proc = subprocess.run(
        command(tool, args),
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=base_env(env),
        timeout=timeout,
        cwd=str(REPO),
    )
    return Run(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def run_inprocess(
    args: Sequence[str], *, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> Run:
    """etcdpy.ctl.app.run with stdin/stdout/stderr and the environment swapped."""
    from etcdpy.ctl.app import run as ctl_run

    out, err = io.BytesIO(), io.BytesIO()
    wrappers = (
        io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8"),
        io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", write_through=True),
    )
    saved = (sys.stdin, sys.stdout, sys.stderr, dict(os.environ))
    sys.stdin, sys.stdout, sys.stderr = wrappers
    os.environ.clear()
    os.environ.update(base_env(env))
    try:
        try:
            rc = ctl_run(list(args))
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved[0], saved[1], saved[2]
        os.environ.clear()
        os.environ.update(saved[3])
        for wrapper in wrappers:
            wrapper.flush()
            wrapper.detach()  # keeps the BytesIO open after the wrapper is gone
    return Run(rc, out.getvalue().decode(errors="replace"), err.getvalue().decode(errors="replace"))


def both(args: Sequence[str], **kw: object) -> tuple[Run, Run]:
    """The same command line through the reference and through etcdpyctl."""
    return run(REF, args, **kw), run(OURS, args, **kw)  # type: ignore[arg-type]


# -- normalization ---------------------------------------------------------------------

_INDEX_PATTERNS = [
    re.compile(r'"(?:createdIndex|modifiedIndex)":(\d+)'),
    re.compile(r"^(?:Created-Index|Modified-Index|Index): (\d+)$", re.M),
    re.compile(r"\) \[(\d+)\]$", re.M),
    re.compile(r"/(\d{20})(?=\b|/|$)"),
    re.compile(r"ETCD_WATCH_MODIFIED_INDEX=(\d+)"),
    re.compile(r"\[\d+ != (\d+)\]"),
]


def normalize(text: str, prefix: str) -> str:
    text = text.replace(prefix, "{p}")
    text = re.sub(r'"expiration":"[^"]*"', '"expiration":"<time>"', text)
    text = re.sub(r'"ttl":\d+', '"ttl":<ttl>', text)
    text = re.sub(r"^TTL: [1-9]\d*$", "TTL: <ttl>", text, flags=re.M)
    names: dict[int, str] = {}
    spans: list[tuple[int, int, int]] = []
    for pattern in _INDEX_PATTERNS:
        for match in pattern.finditer(text):
            spans.append((match.start(1), match.end(1), int(match.group(1))))
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end, value in spans:
        if start < pos:
            continue
        name = names.setdefault(value, f"<i{len(names)}>")
        out += [text[pos:start], name]
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass(slots=True)
class Step:
    args: list[str]
    stdin: bytes | None = None
    unordered: bool = False  # sort stdout lines: unsorted listings come in map order


def step(*args: str, stdin: bytes | None = None, unordered: bool = False) -> Step:
    return Step(list(args), stdin, unordered)


def transcript(tool: str, endpoint: str, steps: Sequence[Step], prefix: str) -> str:
    parts: list[str] = []
    for s in steps:
        args = ["--endpoints", endpoint, *(a.replace("{p}", prefix) for a in s.args)]
        r = run(tool, args, stdin=s.stdin)
        out = r.out
        if s.unordered:
            out = "".join(sorted(out.splitlines(keepends=True)))
        parts.append(f"$ {' '.join(s.args)}\n[exit {r.rc}]\n{out}[stderr]\n{r.err}")
    return "\n".join(parts)


def compare(endpoint: str, steps: Sequence[Step], tag: str) -> str:
    """Run ``steps`` with both tools (own prefixes) and assert equal transcripts."""
    ref = normalize(transcript(REF, endpoint, steps, f"/ref-{tag}"), f"/ref-{tag}")
    ours = normalize(transcript(OURS, endpoint, steps, f"/ours-{tag}"), f"/ours-{tag}")
    assert_same(ours, ref)
    return ours


def assert_same(ours: str, ref: str) -> None:
    if ours != ref:
        diff = difflib.unified_diff(
            ref.splitlines(keepends=True), ours.splitlines(keepends=True), "etcdctl", "etcdpyctl"
        )
        raise AssertionError("etcdpyctl differs from etcdctl:\n" + "".join(diff))


# -- background processes (watch, exec-watch) ------------------------------------------


class Background:
    """A tool run in the background, its output in files, stopped with SIGINT (Ctrl-C)
    and reaped by PID; :meth:`kill` in a ``finally`` makes sure it never outlives a test."""

    def __init__(
        self,
        tool: str,
        args: Sequence[str],
        workdir: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.out_path = workdir / f"{tool}.out"
        self.err_path = workdir / f"{tool}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                command(tool, args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=base_env(env),
                cwd=str(REPO),
            )

    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait(self, timeout: float = 10.0) -> Run:
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout}s: {self.popen.args}") from None
        return Run(rc, self.out(), self.err())

    def interrupt(self, timeout: float = 10.0) -> Run:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10.0)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
