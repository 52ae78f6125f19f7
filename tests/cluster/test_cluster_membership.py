"""Membership changes through Raft: add and join, remove (for ever), re-add with a wiped
data dir, move a member's peer URLs, and --strict-reconfig-check."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.kit import (
    FAST,
    Reply,
    call,
    get,
    get_json,
    modified_index,
    poll,
    put,
    restart,
    same_index,
    self_stats,
    start_cluster,
    wait_exit,
    wait_leader,
    wait_log,
)
from tests.procs import LOOPBACK, Proc, ProcGroup, free_port, member_args, proc_group

JSON = {"Content-Type": "application/json"}


def add_member(m: Proc, peer_url: str, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps({"peerURLs": [peer_url]}).encode()
    return call(m.client_url, "POST", "/v2/members", body=body, headers=headers or JSON)


def listed(m: Proc) -> dict[str, dict[str, object]]:
    return {x["id"]: x for x in get_json(m.client_url, "/v2/members")["members"]}


def join(group: ProcGroup, members: list[Proc], name: str, peer_port: int) -> Proc:
    """Start ``name`` with --initial-cluster-state existing (it must have been added)."""
    client_port = free_port()
    data_dir = group.base_dir / f"etcdpy-{name}.etcd"
    initial = ",".join(
        [*(f"{m.name}={m.peer_url}" for m in members), f"{name}=http://{LOOPBACK}:{peer_port}"]
    )
    args = member_args(name, client_port, peer_port, data_dir, initial, state="existing")
    return group.start(
        "etcdpy",
        name,
        [*args, *FAST],
        client_port=client_port,
        peer_port=peer_port,
        data_dir=data_dir,
    )


@dataclass
class Cluster:
    group: ProcGroup
    members: list[Proc]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with proc_group(tmp_path_factory.mktemp("members")) as group:
        members = start_cluster(group, 3)
        wait_leader(members)
        yield Cluster(group, members)


def test_an_added_member_joins_and_replicates_then_leaves_for_ever(cluster: Cluster) -> None:
    group, members = cluster.group, cluster.members
    assert put(members[0].client_url, "/before-join", "old").status == 201
    peer_port = free_port()
    url = f"http://{LOOPBACK}:{peer_port}"

    # A body that is not JSON by its Content-Type is refused before anything happens.
    bad = add_member(members[1], url, {"Content-Type": "text/plain"})
    assert (bad.status, bad.json()) == (
        415,
        {"message": "Bad Content-Type text/plain, accept application/json"},
    )
    r = add_member(members[1], url)
    assert r.status == 201, r.body
    new = r.json()
    assert new["peerURLs"] == [url] and new["name"] == "" and new["clientURLs"] == []
    # The change went through Raft: every member lists the new one.
    for m in members:
        poll(lambda m=m: new["id"] in listed(m), f"{m.name} to list the added member")
        wait_log(m, f"added member {new['id']}")
    dup = add_member(members[2], url)
    assert dup.status == 409, dup.body

    n4 = join(group, members, "n4", peer_port)
    assert self_stats(n4)["id"] == new["id"]
    # It caught up on what was written before it joined, and takes writes itself.
    assert get(n4.client_url, "/before-join", quorum="true").json()["node"]["value"] == "old"
    w = put(n4.client_url, "/after-join", "new")
    assert w.status == 201
    everyone = [*members, n4]
    assert modified_index(everyone, "/after-join") == w.etcd_index
    poll(lambda: listed(members[0])[new["id"]]["name"] == "n4", "n4 to publish its name")
    wait_leader(everyone)

    # Removing it: 204, it stops itself, and its id can never come back.
    gone = call(members[0].client_url, "DELETE", f"/v2/members/{new['id']}")
    assert gone.status == 204, gone.body
    # It stops with the sentence (and status) it would give on a restart.
    assert wait_exit(n4) == 1, n4.log_tail()
    assert "permanently removed" in n4.log_text()
    assert f"member {new['id']} was removed from cluster" in n4.log_text()
    for m in members:
        poll(lambda m=m: new["id"] not in listed(m), f"{m.name} to drop the removed member")
    again = call(members[1].client_url, "DELETE", f"/v2/members/{new['id']}")
    assert (again.status, again.json()) == (
        410,
        {"message": f"Member permanently removed: {new['id']}"},
    )
    # On the peer port, a message from the removed member is refused with 410 Gone.
    cid = call(members[0].client_url, "GET", "/v2/members").header("X-Etcd-Cluster-Id")
    refused = call(
        members[0].peer_url,
        "POST",
        "/raft",
        body=b"\x90",  # an empty msgpack batch
        headers={"X-Etcd-Cluster-ID": cid, "X-Server-From": new["id"]},
    )
    assert refused.status == 410
    assert f" | {members[0].name} | " in wait_log(members[0], "from removed member")
    unknown = call(members[1].client_url, "DELETE", "/v2/members/1234abcd")
    assert (unknown.status, unknown.json()) == (404, {"message": "No such member: 1234abcd"})

    # Restarted on its old data dir it cannot rejoin: it says why and exits.
    back = restart(group, n4, ready=False)
    assert wait_exit(back) == 1, back.log_tail()
    assert f"member {new['id']} was removed from cluster" in back.log_text()
    assert "ready to serve" not in back.log_text(), back.log_tail()
    assert all(new["id"] not in listed(m) for m in members)

    # With its data dir wiped and added again (a new id), it joins as a new member.
    shutil.rmtree(n4.data_dir)
    # (A runtime member id hashes the add time in seconds: the first add was long ago.)
    r2 = add_member(members[2], url)
    assert r2.status == 201, r2.body
    assert r2.json()["id"] != new["id"]
    n4b = join(group, members, "n4", peer_port)
    assert self_stats(n4b)["id"] == r2.json()["id"]
    w2 = put(members[0].client_url, "/readded", "yes")
    assert modified_index([*members, n4b], "/readded") == w2.etcd_index
    assert get(n4b.client_url, "/after-join").json()["node"]["value"] == "new"
    cluster.members.append(n4b)


def test_moving_a_members_peer_urls(cluster: Cluster) -> None:
    """The admin guide's member migration: update the peer URLs, restart the member
    listening there; its peers follow it to the new address."""
    group, members = cluster.group, cluster.members
    lead = wait_leader(members)
    mover = next(m for m in members if m is not lead)
    mover_id = self_stats(mover)["id"]
    new_port = free_port()
    new_url = f"http://{LOOPBACK}:{new_port}"
    taken = members[0].peer_url if members[0] is not mover else members[1].peer_url
    clash = call(
        lead.client_url,
        "PUT",
        f"/v2/members/{mover_id}",
        body=json.dumps({"peerURLs": [taken]}).encode(),
        headers=JSON,
    )
    assert clash.status == 409, clash.body
    r = call(
        lead.client_url,
        "PUT",
        f"/v2/members/{mover_id}",
        body=json.dumps({"peerURLs": [new_url]}).encode(),
        headers=JSON,
    )
    assert r.status == 204, r.body
    for m in members:
        poll(
            lambda m=m: listed(m)[mover_id]["peerURLs"] == [new_url],
            f"{m.name} to know the new peer URL",
        )
    mover.stop()
    args = list(mover.args)
    args[args.index("--listen-peer-urls") + 1] = new_url
    moved = group.start(
        "etcdpy",
        mover.name,
        args,
        client_port=mover.client_port,
        peer_port=new_port,
        data_dir=mover.data_dir,
    )
    members[members.index(mover)] = moved
    w = put(lead.client_url, "/moved", "here")
    assert w.status == 201
    assert modified_index(members, "/moved") == w.etcd_index


def test_strict_reconfig_check_refuses_changes_that_risk_the_quorum(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3, extra_args=(*FAST, "--strict-reconfig-check"))
        lead = wait_leader(members)
        unstarted = []
        # 3 started of 4, then of 5: still a quorum of started members, so allowed.
        for _ in range(2):
            r = add_member(lead, f"http://{LOOPBACK}:{free_port()}")
            assert r.status == 201, r.body
            unstarted.append(r.json()["id"])
        # 3 started of 6 is no quorum: refused at once, nothing proposed.
        before = listed(lead)
        refused = add_member(lead, f"http://{LOOPBACK}:{free_port()}")
        assert (refused.status, refused.json()) == (500, {"message": "Internal Server Error"})
        assert listed(lead) == before
        wait_log(lead, "not enough started members")
        # Removing a started member would leave 2 started of 4: refused too.
        follower_id = self_stats(next(m for m in members if m is not lead))["id"]
        r = call(lead.client_url, "DELETE", f"/v2/members/{follower_id}")
        assert r.status == 500, r.body
        # Removing an unstarted one leaves 3 started of 4: allowed.
        assert call(lead.client_url, "DELETE", f"/v2/members/{unstarted[0]}").status == 204
        # The cluster still takes writes: 3 started members of 4 are a quorum.
        assert put(lead.client_url, "/strict", "ok").status == 201
        same_index(members, "/strict")
