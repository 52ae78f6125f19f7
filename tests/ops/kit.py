"""What the operations tests share: the control tools as processes, single members with
the flags the administration guide uses, and whole-key-space comparisons.

    r = ctl("--endpoints", url, "member", "list")      # etcdpyctl, a real process
    r = etcdctl("--endpoints", url, "member", "list")  # the reference's etcdctl (v2)
    m = start_member(group, "n1", data_dir, "--force-new-cluster")
    assert dump(m.client_url) == before                 # every key, value and index

Members use the fast Raft timings of tests/cluster/kit.py; every wait polls against a
deadline; every process is killed by its PID when the test's group closes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.kit import FAST, call, get, poll, put
from tests.procs import LOOPBACK, REPO, Proc, ProcGroup, free_port, member_args

RUN_TIMEOUT_S = 60.0


@dataclass(slots=True)
class Run:
    rc: int
    out: str
    err: str


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["ETCDCTL_API"] = "2"
    if extra:
        env.update(extra)
    return env


def _run(cmd: Sequence[str], cwd: Path | None = None) -> Run:
    p = subprocess.run(
        list(cmd),
        capture_output=True,
        env=_env(),
        timeout=RUN_TIMEOUT_S,
        cwd=str(cwd) if cwd else None,
        stdin=subprocess.DEVNULL,
    )
    return Run(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))


def ctl(*args: str, cwd: Path | None = None) -> Run:
    """``etcdpyctl <args>`` as a process (exactly the entry point operators run)."""
    return _run([sys.executable, "-m", "etcdpy.cli.ctl", *args], cwd)


def etcdctl(*args: str) -> Run:
    """The reference ``etcdctl`` with ETCDCTL_API=2; skips the test if not installed."""
    binary = shutil.which("etcdctl")
    if binary is None:
        pytest.skip("the reference etcdctl is not installed (apt-get install etcd-client)")
    return _run([binary, *args])


def start_member(
    group: ProcGroup,
    name: str,
    data_dir: Path,
    *extra: str,
    client_port: int | None = None,
    peer_port: int | None = None,
    initial_cluster: str | None = None,
    state: str = "new",
    ready: bool = True,
) -> Proc:
    """One etcdpy member with etcd's flags (fast Raft timings) plus ``extra``."""
    cp = client_port or free_port()
    pp = peer_port or free_port()
    args = [*member_args(name, cp, pp, data_dir, initial_cluster, None, state), *FAST, *extra]
    return group.start(
        "etcdpy", name, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=ready
    )


def peer_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


# --- the key space -----------------------------------------------------------------------


def write_keys(url: str, prefix: str, count: int) -> None:
    """``count`` keys under ``prefix``, some in a subdirectory, one updated, one deleted
    (so the event history holds every kind of change)."""
    for i in range(count):
        key = f"{prefix}/k{i:04d}" if i % 3 else f"{prefix}/dir/k{i:04d}"
        r = put(url, key, f"v{i}")
        assert r.status in (200, 201), r.body
    assert put(url, f"{prefix}/k0001", "updated").status == 200
    assert call(url, "DELETE", f"/v2/keys{prefix}/k0002").status == 200


def dump(url: str) -> dict[str, tuple[Any, ...]]:
    """Every user key of a member's local store: key -> (value or dir, created, modified).
    A local read, so it shows what that member has applied."""
    r = get(url, "/", recursive="true", sorted="true")
    assert r.status == 200, r.body
    out: dict[str, tuple[Any, ...]] = {}

    def walk(node: dict[str, Any]) -> None:
        for child in node.get("nodes", []):
            if child.get("dir"):
                out[child["key"]] = ("dir", child["createdIndex"], child["modifiedIndex"])
                walk(child)
            else:
                out[child["key"]] = (
                    child["value"],
                    child["createdIndex"],
                    child["modifiedIndex"],
                )

    walk(r.json()["node"])
    return out


def wait_same_dump(members: Sequence[Proc], expected: dict[str, tuple[Any, ...]]) -> None:
    """Poll until every member's whole key space equals ``expected``."""

    def check() -> bool:
        for m in members:
            got = dump(m.client_url)
            assert got == expected, f"{m.name}: {_diff(expected, got)}"
        return True

    poll(check, f"the key space on {[m.name for m in members]}")


def _diff(want: dict[str, Any], got: dict[str, Any]) -> str:
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    changed = sorted(k for k in set(want) & set(got) if want[k] != got[k])[:5]
    return f"missing {missing}, extra {extra}, changed {changed}"


def members_of(url: str) -> list[dict[str, Any]]:
    r = call(url, "GET", "/v2/members")
    assert r.status == 200, r.body
    return sorted(r.json()["members"], key=lambda m: m["name"])


def healthy(url: str) -> bool:
    r = call(url, "GET", "/health")
    return r.status == 200 and r.json().get("health") == "true"


def wait_healthy(members: Sequence[Proc]) -> None:
    for m in members:
        poll(lambda m=m: healthy(m.client_url), f"{m.name} healthy")


def exit_line(m: Proc) -> str:
    """The member's last line of output: the sentence it exited with."""
    lines = [line for line in m.log_text().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def refused_start(m: Proc) -> str:
    """Wait for a member that must refuse to start; check it ended with status 1 and one
    clear sentence (no traceback); return that sentence."""
    code = m.wait()
    assert code == 1, f"{m.name} exited with {code}; log:\n{m.log_tail()}"
    text = m.log_text()
    assert "Traceback" not in text, text
    line = exit_line(m)
    assert line.startswith("etcdpy: "), line
    return line


def member_add(endpoint: str, name: str, peer: str, tool: str = "etcdpyctl") -> str:
    """``member add`` through a control tool; the ETCD_INITIAL_CLUSTER it prints."""
    run = ctl if tool == "etcdpyctl" else etcdctl
    r = run("--endpoints", endpoint, "member", "add", name, peer)
    assert r.rc == 0, r
    assert f"Added member named {name} with ID " in r.out, r.out
    assert 'ETCD_INITIAL_CLUSTER_STATE="existing"' in r.out, r.out
    for line in r.out.splitlines():
        if line.startswith("ETCD_INITIAL_CLUSTER="):
            return line.split("=", 1)[1].strip('"')
    raise AssertionError(f"no ETCD_INITIAL_CLUSTER in {r.out!r}")


def member_id_of(endpoint: str, name: str) -> str:
    ids = [m["id"] for m in members_of(endpoint) if m["name"] == name]
    assert len(ids) == 1, members_of(endpoint)
    return ids[0]
