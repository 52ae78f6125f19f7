"""Status endpoints report the real state of the cluster, and the log says what happened:
one line per election, per peer connect and disconnect, each with the member's name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdpy.version import ETCD_CLUSTER_VERSION, ETCD_SERVER_VERSION
from tests.cluster.kit import (
    call,
    followers,
    get,
    get_json,
    log_lines,
    poll,
    put,
    restart,
    same_index,
    self_stats,
    start_cluster,
    wait_leader,
    wait_log,
)
from tests.faults import kill_hard
from tests.procs import Proc, proc_group


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Proc]]:
    with proc_group(tmp_path_factory.mktemp("status")) as group:
        members = start_cluster(group, 3)
        wait_leader(members)
        yield members


def ids(members: list[Proc]) -> dict[str, str]:
    return {m.name: self_stats(m)["id"] for m in members}


def test_stats_self_shows_each_members_role(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    assert put(lead.client_url, "/status/self", "x").status == 201
    same_index(trio, "/status/self")
    listed = {x["name"]: x["id"] for x in get_json(lead.client_url, "/v2/members")["members"]}
    assert listed == ids(trio)
    for m in trio:
        s = self_stats(m)
        assert s["name"] == m.name
        assert s["leaderInfo"]["leader"] == listed[lead.name]
        if m is lead:
            assert s["state"] == "StateLeader"
            assert s["sendAppendRequestCnt"] > 0
        else:
            assert s["state"] == "StateFollower"
            assert s["recvAppendRequestCnt"] > 0


def test_stats_leader_has_the_followers_and_a_follower_answers_403(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    member_ids = ids(trio)
    before = get_json(lead.client_url, "/v2/stats/leader")
    assert before["leader"] == member_ids[lead.name]
    assert set(before["followers"]) == {member_ids[m.name] for m in followers(trio, lead)}
    for _ in range(5):
        assert put(lead.client_url, "/status/leader", "x").status in (200, 201)
    after = get_json(lead.client_url, "/v2/stats/leader")
    for fid, f in after["followers"].items():
        lat = f["latency"]
        assert 0 < lat["minimum"] <= lat["average"] <= lat["maximum"], lat
        assert lat["current"] > 0 and lat["standardDeviation"] >= 0
        assert f["counts"]["success"] > before["followers"][fid]["counts"]["success"]
    for m in followers(trio, lead):
        r = call(m.client_url, "GET", "/v2/stats/leader")
        assert (r.status, r.json()) == (403, {"message": "not current leader"})


def test_stats_store_counts_applied_writes_on_every_member(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    one, other = followers(trio, lead)
    assert put(one.client_url, "/status/store", "a").status in (200, 201)
    assert put(other.client_url, "/status/store", "b", prevValue="nope").status == 412
    assert call(lead.client_url, "DELETE", "/v2/keys/status/store").status == 200
    writes = (
        "setsSuccess",
        "compareAndSwapFail",
        "deleteSuccess",
        "createSuccess",
        "expireCount",
    )

    def alike() -> dict[str, int] | None:
        seen = [get_json(m.client_url, "/v2/stats/store") for m in trio]
        picked = [{k: s[k] for k in writes} for s in seen]
        return picked[0] if picked[0] == picked[1] == picked[2] else None

    # Write counters move on apply, so every member counts every write.
    counts = poll(alike, "the members' write counters to agree")
    assert counts["compareAndSwapFail"] >= 1 and counts["deleteSuccess"] >= 1
    # Reads are counted where they are served.
    before = {m.name: get_json(m.client_url, "/v2/stats/store")["getsSuccess"] for m in trio}
    for _ in range(3):
        assert get(one.client_url, "/status").status == 200
    after = {m.name: get_json(m.client_url, "/v2/stats/store")["getsSuccess"] for m in trio}
    assert after[one.name] == before[one.name] + 3
    assert after[other.name] == before[other.name]


def test_health_version_leader_and_machines_on_every_member(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    lead_id = self_stats(lead)["id"]
    for m in trio:
        h = call(m.client_url, "GET", "/health")
        assert (h.status, h.json()) == (200, {"health": "true"})
        assert get_json(m.client_url, "/version") == {
            "etcdserver": ETCD_SERVER_VERSION,
            "etcdcluster": ETCD_CLUSTER_VERSION,
        }
        assert get_json(m.client_url, "/v2/members/leader")["id"] == lead_id
        machines = call(m.client_url, "GET", "/v2/machines").body.decode()
        assert sorted(machines.split(", ")) == sorted(x.client_url for x in trio)


def test_a_member_without_quorum_reports_it_and_the_log_tells_the_story(
    tmp_path: Path,
) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)
        lead = wait_leader(members)
        member_ids = ids(members)
        survivor, gone = followers(members, lead)
        # One line per peer connection, with the member's name: the leader reaches each
        # follower, each follower reaches the leader (followers need not talk).
        links = [(lead, f) for f in followers(members, lead)]
        links += [(f, lead) for f in followers(members, lead)]
        for m, other in links:
            connected = f"peer {member_ids[other.name]} connected"
            line = wait_log(m, connected)
            assert f" | {m.name} | " in line
            assert len(log_lines(m, connected)) == 1
        kill_hard(gone.popen)
        # The leader notices the dead peer once, not at every retry.
        down = f"peer {member_ids[gone.name]} unreachable"
        wait_log(lead, down)
        assert put(lead.client_url, "/status/down", "x").status == 201  # retries meanwhile
        assert len(log_lines(lead, down)) == 1
        # A peer that dies is an event to log, not a bug: no traceback.
        assert "Traceback" not in lead.log_text(), lead.log_tail()
        kill_hard(lead.popen)

        def unhealthy() -> bool:
            h = call(survivor.client_url, "GET", "/health", timeout=5.0)
            return (h.status, h.json()) == (503, {"health": "false"})

        poll(unhealthy, f"{survivor.name} to report no health without a quorum")
        r = call(survivor.client_url, "GET", "/v2/members/leader")
        assert (r.status, r.json()) == (503, {"message": "During election"})
        assert self_stats(survivor)["state"] != "StateLeader"
        assert log_lines(survivor, "lost leader")

        # Back to a quorum: one election, logged once per member, and healthy again.
        again = restart(group, gone)
        now = wait_leader([survivor, again])
        for m in (survivor, again):
            poll(
                lambda m=m: call(m.client_url, "GET", "/health", timeout=5.0).status == 200,
                f"{m.name} to be healthy again",
            )
        term = get(now.client_url, "/").raft_term
        assert len(log_lines(now, f"became the leader at term {term}")) == 1
        other = survivor if now is again else again
        assert len(log_lines(other, f"elected leader {member_ids[now.name]} at term {term}")) == 1
