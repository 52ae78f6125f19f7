"""member list/add/update/remove and cluster-health on a three-member cluster.

A member is added without being started (quorum stays 3 of 4, so the cluster keeps
working), inspected, updated and removed again, by each tool in turn.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.ctl.ctl_harness import OURS, REF, Run, assert_same, both, run
from tests.procs import Proc, free_port

ADD_DEADLINE_S = 30.0


def ep(cluster: list[Proc]) -> list[str]:
    return ["--endpoints", cluster[0].client_url]


def same(args: list[str]) -> Run:
    ref, ours = both(args)
    assert_same(
        f"[exit {ours.rc}]\n{ours.out}[stderr]\n{ours.err}",
        f"[exit {ref.rc}]\n{ref.out}[stderr]\n{ref.err}",
    )
    return ours


def add_member(tool: str, cluster: list[Proc], name: str, peer_url: str) -> Run:
    """member add, retried while etcd refuses reconfiguration of a young cluster (5 s)."""
    end = time.monotonic() + ADD_DEADLINE_S
    while True:
        r = run(tool, [*ep(cluster), "member", "add", name, peer_url])
        if r.rc == 0 or time.monotonic() > end:
            return r
        assert "has no leader" in r.err or "unhealthy" in r.err, r
        time.sleep(0.5)


def test_member_list_and_cluster_health(cluster: list[Proc]) -> None:
    out = same([*ep(cluster), "member", "list"]).out
    lines = out.splitlines()
    assert len(lines) == 3
    assert sum(line.endswith("isLeader=true") for line in lines) == 1
    for member in cluster:
        assert f"name={member.name} peerURLs={member.peer_url} " in out
        assert f"clientURLs={member.client_url} " in out
    health = same([*ep(cluster), "cluster-health"])
    assert health.rc == 0
    assert health.out.endswith("cluster is healthy\n")
    assert same([*ep(cluster), "member", "list", "extra"]).rc == 1


@pytest.mark.parametrize("tool", [REF, OURS])
def test_add_update_remove_an_unstarted_member(cluster: list[Proc], tool: str) -> None:
    name = f"new-{tool}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    added = add_member(tool, cluster, name, peer_url)
    assert added.rc == 0, added
    match = re.fullmatch(
        r"Added member named (\S+) with ID ([0-9a-f]+) to cluster\n\n"
        r'ETCD_NAME="(\S+)"\nETCD_INITIAL_CLUSTER="([^"]+)"\n'
        r'ETCD_INITIAL_CLUSTER_STATE="existing"\n',
        added.out,
    )
    assert match, added.out
    assert match.group(1) == match.group(3) == name
    member_id = match.group(2)
    initial = match.group(4).split(",")
    assert sorted(initial) == sorted(
        [f"{name}={peer_url}", *(f"{m.name}={m.peer_url}" for m in cluster)]
    )
    try:
        listing = same([*ep(cluster), "member", "list"]).out
        assert f"{member_id}[unstarted]: peerURLs={peer_url}\n" in listing
        health = same([*ep(cluster), "cluster-health"])
        assert health.rc == 5
        assert f"member {member_id} is unreachable: no available published client urls\n" in (
            health.out
        )
        assert health.out.endswith("cluster is degraded\n")

        moved = f"http://127.0.0.1:{free_port()}"
        updated = run(tool, [*ep(cluster), "member", "update", member_id, moved])
        assert (updated.rc, updated.out) == (0, f"Updated member with ID {member_id} in cluster\n")
        assert (
            f"{member_id}[unstarted]: peerURLs={moved}\n"
            in run(OURS, [*ep(cluster), "member", "list"]).out
        )
    finally:
        removed = run(tool, [*ep(cluster), "member", "remove", member_id])
    assert (removed.rc, removed.out) == (0, f"Removed member {member_id} from cluster\n")
    assert member_id not in same([*ep(cluster), "member", "list"]).out
    # A removed ID is gone for good: both tools refuse it the same way.
    assert same([*ep(cluster), "member", "remove", member_id]).rc == 1


def test_member_errors(cluster: list[Proc]) -> None:
    first = cluster[0]
    member_id = next(
        line.split(":")[0]
        for line in run(REF, [*ep(cluster), "member", "list"]).out.splitlines()
        if f"name={first.name} " in line
    )
    for args in (
        ["member", "add"],
        ["member", "add", "x"],
        ["member", "add", "x", "bad"],
        ["member", "add", "x", "ftp://127.0.0.1:1"],
        ["member", "add", "x", "http://127.0.0.1"],
        ["member", "add", "x", "http://127.0.0.1:1/path"],
        ["member", "remove"],
        ["member", "remove", "ffffffff"],
        ["member", "remove", first.name],
        ["member", "update"],
        ["member", "update", "ffff", "http://127.0.0.1:9"],
        ["member", "update", member_id, "ftp://x:1"],
        ["member", "update", member_id, cluster[1].peer_url],
    ):
        assert same([*ep(cluster), *args]).rc == 1, args


def test_member_without_subcommand_shows_help(cluster: list[Proc]) -> None:
    ref, ours = both([*ep(cluster), "member"])
    assert ref.rc == ours.rc == 0
    for sub in ("list", "add", "remove", "update"):
        assert sub in ours.out
