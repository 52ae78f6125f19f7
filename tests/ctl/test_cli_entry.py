"""The real ``etcdpyctl`` entry point: help everywhere, version, exit statuses as a
process, stdin values, Ctrl-C, and a start-up that does not import the HTTP stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ctl.ctl_harness import OURS, REF, Background, base_env, run, wait_for
from tests.procs import Proc

COMMANDS = [
    ["backup"],
    ["cluster-health"],
    ["mk"],
    ["mkdir"],
    ["rm"],
    ["rmdir"],
    ["get"],
    ["ls"],
    ["set"],
    ["setdir"],
    ["update"],
    ["updatedir"],
    ["watch"],
    ["exec-watch"],
    ["member"],
    ["member", "list"],
    ["member", "add"],
    ["member", "remove"],
    ["member", "update"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_on_every_command(command: list[str]) -> None:
    for flag in ("--help", "-h"):
        r = run(OURS, [*command, flag])
        assert r.rc == 0, r
        assert r.out.startswith(f"Usage: etcdpyctl {' '.join(command)} "), r.out
        assert r.err == ""
    assert run(OURS, ["help", *command]).out == run(OURS, [*command, "--help"]).out


def test_top_level_help_and_version() -> None:
    r = run(OURS, ["--help"], subprocess_only=True)
    assert r.rc == 0
    for name in ("set", "exec-watch", "member", "cluster-health", "backup"):
        assert f"  {name} " in r.out
    assert run(OURS, []).out == r.out
    from etcdpy.version import __version__

    version = run(OURS, ["--version"], subprocess_only=True)
    assert (version.rc, version.out) == (0, f"etcdpyctl version: {__version__}\nAPI version: 2\n")


def test_exit_statuses_as_a_process(endpoint: str) -> None:
    ep = ["--endpoints", endpoint]
    assert run(OURS, [*ep, "set", "/entry/k", "v"], subprocess_only=True).rc == 0
    missing = run(OURS, [*ep, "get", "/entry/missing"], subprocess_only=True)
    assert missing.rc == 4
    assert missing.err == run(REF, [*ep, "get", "/entry/missing"]).err
    assert run(OURS, [*ep, "get"], subprocess_only=True).rc == 1
    assert run(OURS, [*ep, "nosuch"], subprocess_only=True).rc == 3
    bad = run(OURS, [*ep, "set", "--ttl", "x", "/k", "v"], subprocess_only=True)
    assert bad.rc == 1
    assert "Traceback" not in bad.err


def test_value_from_stdin(endpoint: str) -> None:
    ep = ["--endpoints", endpoint]
    data = b"line one\nline two\n"
    r = run(OURS, [*ep, "set", "/entry/stdin"], stdin=data, subprocess_only=True)
    assert (r.rc, r.out) == (0, data.decode() + "\n")
    assert run(REF, [*ep, "get", "/entry/stdin"]).out == data.decode() + "\n"


def test_ctrl_c_ends_a_watch_cleanly(endpoint: str, workdir: Path) -> None:
    watch = Background(OURS, ["--endpoints", endpoint, "watch", "/entry/never"], workdir)
    try:
        # Interrupt once the long poll is open (the member counts one more watcher).
        wait_for(lambda: watcher_count(endpoint) > 0, what="the watch request")
        result = watch.interrupt()
    finally:
        watch.kill()
    assert (result.rc, result.out, result.err) == (0, "", "")


def test_cluster_health_forever_until_ctrl_c(server: Proc, workdir: Path) -> None:
    proc = Background(OURS, ["--endpoints", server.client_url, "cluster-health", "-f"], workdir)
    try:
        wait_for(lambda: "next check after 10 second..." in proc.out(), what="first round")
        result = proc.interrupt()
    finally:
        proc.kill()
    assert result.rc == 0
    assert "cluster is healthy\n" in result.out
    assert "Traceback" not in result.err


def watcher_count(endpoint: str) -> int:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/v2/stats/store", timeout=5) as resp:
        return int(json.load(resp).get("watchers", 0))


def test_start_up_imports_only_what_it_needs() -> None:
    code = (
        "import sys\n"
        "from etcdpy.ctl.app import run\n"
        "rc = run(['--version'])\n"
        "heavy = [m for m in ('http.client', 'ssl', 'subprocess', 'etcdpy.ctl.cmd_member')"
        " if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=base_env(), check=True, timeout=30
    ).stdout.decode()
    assert out.splitlines()[-1] == "0 []"


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["nosuch"], ["get"], ["--endpoints", "x://", "ls"]]
)
def test_python_dash_m_etcdpy_ctl_is_etcdpyctl(args: list[str]) -> None:
    """``python -m etcdpy.ctl`` answers as the ``etcdpyctl`` entry point does."""

    def outcome(module: str) -> tuple[int, str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            env=base_env(),
            timeout=30,
        )
        return proc.returncode, proc.stdout, proc.stderr

    assert outcome("etcdpy.ctl") == outcome("etcdpy.cli.ctl")
