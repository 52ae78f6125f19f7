"""etcd's own v2 control tool works unchanged against etcdpy, and prints what it prints
against the reference etcd (indexes relative to each server's start, ids and URLs by
shape)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.compat import wire
from tests.procs import Proc, ProcGroup, etcdctl_binary, module_procs, reference_binary

__all__ = ["module_procs"]

pytestmark = pytest.mark.skipif(
    etcdctl_binary() is None, reason="etcdctl is not installed (apt-get install etcd-client)"
)

CTL_TIMEOUT_S = 15.0


@dataclass
class Out:
    code: int
    stdout: str
    stderr: str


def ctl(proc: Proc, *args: str, timeout: float = CTL_TIMEOUT_S) -> Out:
    env = dict(os.environ, ETCDCTL_API="2")
    r = subprocess.run(
        [etcdctl_binary() or "etcdctl", "--endpoints", proc.client_url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return Out(r.returncode, r.stdout, r.stderr)


@pytest.fixture(scope="module")
def servers(module_procs: ProcGroup) -> Iterator[dict[str, tuple[Proc, int]]]:
    """etcdpy (and the reference when installed), each with its store index at start."""
    procs = {"etcdpy": module_procs.etcdpy("ctl")}
    if reference_binary() is not None:
        procs["reference"] = module_procs.reference("ctl")
    out = {}
    for kind, p in procs.items():
        index = wire.request(p.client_port, "GET", "/v2/keys/").header("X-Etcd-Index")
        out[kind] = (p, int(index or 0))
    yield out


def normalize(text: str, proc: Proc, base: int) -> str:
    text = text.replace(proc.client_url, "<client>").replace(proc.peer_url, "<peer>")
    text = re.sub(r"\b[0-9a-f]{12,16}\b", "<id>", text)

    def rel(m: re.Match[str]) -> str:
        return f"{m.group(1)}{int(m.group(2)) - base}"

    text = re.sub(r"((?:Index|Created-Index|Modified-Index): )(\d+)", rel, text)
    text = re.sub(r'("(?:createdIndex|modifiedIndex)":)(\d+)', rel, text)
    text = re.sub(r"(\) \[)(\d+)", rel, text)
    return text


def run_both(servers: dict[str, tuple[Proc, int]], *args: str) -> Out:
    """Run on etcdpy; when the reference is there too, insist on the same output."""
    outs = {}
    for kind, (p, base) in servers.items():
        o = ctl(p, *args)
        outs[kind] = Out(o.code, normalize(o.stdout, p, base), normalize(o.stderr, p, base))
    if "reference" in outs:
        assert outs["etcdpy"] == outs["reference"], f"etcdctl {' '.join(args)}"
    return outs["etcdpy"]


def test_set_get(servers: dict[str, tuple[Proc, int]]) -> None:
    assert run_both(servers, "set", "/ctl/a", "b") == Out(0, "b\n", "")
    assert run_both(servers, "get", "/ctl/a").stdout == "b\n"


def test_get_missing_and_mk_conflict(servers: dict[str, tuple[Proc, int]]) -> None:
    out = run_both(servers, "get", "/ctl/none")
    assert out.code == 4 and "100: Key not found (/ctl/none)" in out.stderr
    run_both(servers, "mk", "/ctl/mk", "1")
    out = run_both(servers, "mk", "/ctl/mk", "2")
    assert out.code == 4 and "105: Key already exists (/ctl/mk)" in out.stderr


def test_mkdir_ls_recursive(servers: dict[str, tuple[Proc, int]]) -> None:
    run_both(servers, "mkdir", "/ctl/dir")
    run_both(servers, "set", "/ctl/dir/x", "1")
    run_both(servers, "set", "/ctl/dir/sub/y", "2")
    out = run_both(servers, "ls", "--sort", "-r", "-p", "/ctl/dir")
    assert out.stdout == "/ctl/dir/sub/\n/ctl/dir/sub/y\n/ctl/dir/x\n"


def test_update_rm_rmdir(servers: dict[str, tuple[Proc, int]]) -> None:
    run_both(servers, "set", "/ctl/u", "1")
    assert run_both(servers, "update", "/ctl/u", "2").stdout == "2\n"
    assert run_both(servers, "update", "/ctl/u-missing", "2").code == 4
    assert run_both(servers, "rm", "/ctl/u").stdout == "PrevNode.Value: 2\n"
    run_both(servers, "mkdir", "/ctl/empty")
    assert run_both(servers, "rmdir", "/ctl/empty").code == 0
    run_both(servers, "set", "/ctl/full/k", "v")
    assert run_both(servers, "rmdir", "/ctl/full").code == 4
    assert run_both(servers, "rm", "--recursive", "/ctl/full").code == 0


def test_json_and_extended_output(servers: dict[str, tuple[Proc, int]]) -> None:
    out = run_both(servers, "-o", "json", "set", "/ctl/j", "v")
    assert '"key":"/ctl/j"' in out.stdout
    out = run_both(servers, "-o", "extended", "get", "/ctl/j")
    assert out.stdout.startswith("Key: /ctl/j\n")


def test_ttl_and_swap(servers: dict[str, tuple[Proc, int]]) -> None:
    out = run_both(servers, "set", "--ttl", "100", "/ctl/t", "v")
    assert out.stdout == "v\n"
    assert run_both(servers, "set", "--swap-with-value", "v", "/ctl/t", "w").stdout == "w\n"
    out = run_both(servers, "set", "--swap-with-value", "nope", "/ctl/t", "x")
    assert out.code == 4 and "101: Compare failed" in out.stderr


def test_member_list_and_cluster_health(servers: dict[str, tuple[Proc, int]]) -> None:
    out = run_both(servers, "member", "list")
    assert "name=ctl peerURLs=<peer> clientURLs=<client> isLeader=true" in out.stdout
    out = run_both(servers, "cluster-health")
    assert out.code == 0 and "cluster is healthy" in out.stdout


def test_watch_sees_one_write(servers: dict[str, tuple[Proc, int]]) -> None:
    proc, _ = servers["etcdpy"]
    env = dict(os.environ, ETCDCTL_API="2")
    watcher = subprocess.Popen(
        [etcdctl_binary() or "etcdctl", "--endpoints", proc.client_url, "watch", "/ctl/w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # The watch is registered once the member counts it; then write.
        deadline = time.monotonic() + CTL_TIMEOUT_S
        while time.monotonic() < deadline:
            if _watchers(proc) >= 1:
                break
            time.sleep(0.05)
        assert ctl(proc, "set", "/ctl/w", "fired").code == 0
        out, err = watcher.communicate(timeout=CTL_TIMEOUT_S)
        assert watcher.returncode == 0, err
        assert out == "fired\n"
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(timeout=CTL_TIMEOUT_S)


def _watchers(proc: Proc) -> int:
    import json

    from tests.procs import http_get

    status, body = http_get(proc.client_url, "/v2/stats/store")
    assert status == 200
    return int(json.loads(body)["watchers"])
