"""watch and exec-watch: history with --after-index, forever watches, Ctrl-C, the
ETCD_WATCH_* environment, and etcdctl's key/command split."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.ctl.ctl_harness import (
    OURS,
    REF,
    Background,
    assert_same,
    normalize,
    run,
    wait_for,
)


def current_index(endpoint: str, key: str) -> int:
    """The store index now, read from ``-o extended`` (the X-Etcd-Index header)."""
    r = run(REF, ["--endpoints", endpoint, "-o", "extended", "set", key, "mark"])
    match = re.search(r"^Index: (\d+)$", r.out, re.M)
    assert match, r
    return int(match.group(1))


def history_transcript(tool: str, endpoint: str, prefix: str) -> str:
    ep = ["--endpoints", endpoint]
    start = current_index(endpoint, f"{prefix}/mark")
    for args in (
        ["set", f"{prefix}/w", "1"],
        ["set", f"{prefix}/w", "2"],
        ["mkdir", f"{prefix}/d"],
        ["set", f"{prefix}/d/x", "3"],
        ["rm", f"{prefix}/w"],
    ):
        assert run(REF, [*ep, *args]).rc == 0
    lines = []
    for mode in ("simple", "extended", "json"):
        for offset, flags, key in (
            (0, [], f"{prefix}/w"),
            (1, [], f"{prefix}/w"),
            (2, [], f"{prefix}/w"),
            (2, ["-r"], prefix),
            (3, ["-r"], f"{prefix}/d"),
        ):
            watch = ["watch", *flags, "--after-index", str(start + offset), key]
            r = run(tool, [*ep, "-o", mode, *watch])
            lines.append(f"$ {mode} +{offset} {flags}\n[exit {r.rc}]\n{r.out}[stderr]\n{r.err}")
    return normalize("\n".join(lines), prefix)


def test_watch_after_index_replays_history(endpoint: str) -> None:
    ref = history_transcript(REF, endpoint, "/watch-ref")
    ours = history_transcript(OURS, endpoint, "/watch-ours")
    assert_same(ours, ref)


def forever_transcript(tool: str, endpoint: str, prefix: str, workdir: Path) -> str:
    ep = ["--endpoints", endpoint]
    start = current_index(endpoint, f"{prefix}-mark")
    watch = Background(
        tool, [*ep, "watch", "-f", "-r", "--after-index", str(start), prefix], workdir / tool
    )
    try:
        for args in (
            ["set", f"{prefix}/a", "1"],
            ["mkdir", f"{prefix}/dir"],
            ["set", f"{prefix}/dir/b", "2"],
            ["update", f"{prefix}/a", "3"],
            ["rm", f"{prefix}/a"],
        ):
            assert run(REF, [*ep, *args]).rc == 0
        wait_for(lambda: watch.out().count("\n") >= 8, what=f"{tool} watch output")
        result = watch.interrupt()
    finally:
        watch.kill()
    assert result.rc == 0, result
    assert "Traceback" not in result.err
    return normalize(result.out, prefix)


def test_watch_forever_until_ctrl_c(endpoint: str, workdir: Path) -> None:
    ref = forever_transcript(REF, endpoint, "/wf-ref", workdir)
    ours = forever_transcript(OURS, endpoint, "/wf-ours", workdir)
    assert_same(ours, ref)
    assert ours.splitlines()[:2] == ["[set] {p}/a", "1"]


def exec_watch_records(tool: str, endpoint: str, prefix: str, workdir: Path) -> tuple[str, str]:
    ep = ["--endpoints", endpoint]
    start = current_index(endpoint, f"{prefix}-mark")
    record = workdir / f"{tool}.records"
    script = (
        'printf "%s|%s|%s|%s\\n" "$ETCD_WATCH_ACTION" "$ETCD_WATCH_KEY" '
        f'"$ETCD_WATCH_VALUE" "$ETCD_WATCH_MODIFIED_INDEX" >> {shlex.quote(str(record))}'
    )
    # "-r <key> --": the bool flag carries the key along, so "--" survives and splits.
    args = [*ep, "exec-watch", "--after-index", str(start), "-r", prefix, "--", "sh", "-c", script]
    proc = Background(tool, args, workdir / tool)
    try:
        for cmd in (
            ["set", f"{prefix}/a", "hello world"],
            ["mkdir", f"{prefix}/dir"],
            ["set", f"{prefix}/dir/b", "2"],
            ["rm", f"{prefix}/a"],
        ):
            assert run(REF, [*ep, *cmd]).rc == 0

        def recorded() -> int:
            return record.read_text().count("\n") if record.exists() else 0

        wait_for(lambda: recorded() >= 3, what=f"{tool} exec-watch commands")
        result = proc.interrupt()
    finally:
        proc.kill()
    assert result.rc == 0, result
    # The commands run concurrently, so their lines may land in any order.
    lines = []
    for line in sorted(record.read_text().splitlines()):
        head, _, index = line.rpartition("|")
        lines.append(f"{head}|+{int(index) - start}")
    return normalize("\n".join(lines), prefix), result.err


def test_exec_watch_runs_the_command_with_etcd_watch_env(endpoint: str, workdir: Path) -> None:
    ref, ref_err = exec_watch_records(REF, endpoint, "/ew-ref", workdir)
    ours, ours_err = exec_watch_records(OURS, endpoint, "/ew-ours", workdir)
    assert_same(ours, ref)
    assert "create|{p}/a|hello world|" not in ours
    assert "set|{p}/a|hello world|" in ours
    assert "delete|{p}/a||+4" in ours
    assert normalize(ours_err, "/ew-ours") == normalize(ref_err, "/ew-ref")
    assert "Ignored dir /ew-ours/dir change" in ours_err


def watched_url(tool: str, endpoint: str, args: list[str], workdir: Path) -> str:
    """The first long-poll URL a watch command sends (from --debug), then Ctrl-C."""
    proc = Background(tool, ["--debug", "--no-sync", "--endpoints", endpoint, *args], workdir)
    try:
        wait_for(lambda: "wait=true" in proc.err(), what=f"{tool} {args}")
        proc.interrupt()
    finally:
        proc.kill()
    line = next(ln for ln in proc.err().splitlines() if "wait=true" in ln)
    return line.split(" ", 5)[-1]


def test_exec_watch_splits_key_and_command_like_etcdctl(endpoint: str, workdir: Path) -> None:
    forms = [
        ["exec-watch", "-r", "/ek", "--", "true", "x"],  # key /ek (documented form)
        ["exec-watch", "/ek", "--", "true", "x"],  # "--" lost: key is "x"
        ["exec-watch", "true", "x", "/ek"],  # no "--": key is the last word
        ["exec-watch", "--after-index", "7", "/ek", "true"],
    ]
    for i, form in enumerate(forms):
        ref = watched_url(REF, endpoint, form, workdir / f"ref{i}")
        ours = watched_url(OURS, endpoint, form, workdir / f"ours{i}")
        assert ours == ref, form


def test_exec_watch_reports_a_command_that_cannot_start(endpoint: str) -> None:
    ep = ["--endpoints", endpoint]
    start = current_index(endpoint, "/ew-fail-mark")
    run(REF, [*ep, "set", "/ew-fail/k", "v"])
    for command in (["/nonexistent/prog"], ["no-such-program-xyz"]):
        args = [*ep, "exec-watch", "--after-index", str(start), "-r", "/ew-fail", "--", *command]
        ref = run(REF, args)
        ours = run(OURS, args)
        assert (ours.rc, ours.out, ours.err) == (ref.rc, ref.out, ref.err)
        assert ours.rc == 1
