"""Leader election and replication: every write is consensus, whichever member takes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cluster.kit import (
    call,
    followers,
    get,
    get_json,
    poll,
    put,
    same_index,
    self_stats,
    start_cluster,
    store_index,
    stream_events,
    wait_leader,
)
from tests.faults import kill_hard
from tests.procs import Proc, proc_group


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Proc]]:
    with proc_group(tmp_path_factory.mktemp("trio")) as group:
        members = start_cluster(group, 3)
        wait_leader(members)
        yield members


def test_one_leader_that_every_member_follows(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    lead_id = self_stats(lead)["id"]
    terms = set()
    for m in trio:
        r = call(m.client_url, "GET", "/v2/members/leader")
        assert r.status == 200, (m.name, r.body)
        assert r.json()["id"] == lead_id
        assert r.json()["name"] == lead.name
        terms.add(get(m.client_url, "/").raft_term)
    assert len(terms) == 1, f"members report different terms: {terms}"
    assert [self_stats(m)["state"] for m in trio].count("StateLeader") == 1


def test_a_write_through_a_follower_is_on_every_member_at_one_index(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    one, other = followers(trio, lead)
    r = put(one.client_url, "/repl/a", "through-a-follower")
    assert r.status == 201, r.body
    index = r.etcd_index
    assert r.json()["node"]["modifiedIndex"] == index
    # Acknowledged means committed: a quorum read on another member sees it at once.
    q = get(other.client_url, "/repl/a", quorum="true")
    assert q.status == 200
    assert q.json()["node"]["value"] == "through-a-follower"
    assert q.json()["node"]["modifiedIndex"] == index
    # Every member applies it at the same store index (nothing else writes meanwhile).
    assert same_index(trio, "/repl/a") == index


def test_concurrent_writes_on_every_member_apply_in_one_order(trio: list[Proc]) -> None:
    wait_leader(trio)

    def writer(m: Proc, n: int) -> list[tuple[str, str, int]]:
        made = []
        for i in range(n):
            value = f"{m.name}-{i}"
            r = call(m.client_url, "POST", "/v2/keys/queue", form={"value": value})
            assert r.status == 201, (m.name, r.status, r.body)
            node = r.json()["node"]
            made.append((node["key"], value, node["createdIndex"]))
        return made

    with ThreadPoolExecutor(len(trio)) as pool:
        made = [x for part in pool.map(writer, trio, [15] * len(trio)) for x in part]

    def listing(m: Proc) -> list[tuple[str, str, int]]:
        r = get(m.client_url, "/queue", sorted="true")
        return [(n["key"], n["value"], n["createdIndex"]) for n in r.json()["node"]["nodes"]]

    # Every member ends with the same in-order keys: the same names (store indexes) and
    # values, i.e. one order of the 45 writes, whichever member each one went to.
    same_index(trio, "/queue")
    lists = [listing(m) for m in trio]
    assert lists[0] == lists[1] == lists[2]
    assert sorted(made, key=lambda x: x[2]) == lists[0]
    assert len({index for _, _, index in made}) == len(made)


def test_a_failed_compare_and_swap_changes_no_index(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    follower = followers(trio, lead)[0]
    assert put(lead.client_url, "/repl/cas", "one").status == 201
    before = same_index(trio, "/repl/cas")
    r = put(follower.client_url, "/repl/cas", "two", prevValue="zero")
    assert r.status == 412
    assert r.json()["errorCode"] == 101
    ok = put(follower.client_url, "/repl/cas", "two", prevValue="one")
    assert ok.status == 200
    assert ok.etcd_index == before + 1
    assert same_index(trio, "/repl/cas") == before + 1


def test_a_watch_on_a_follower_sees_a_write_made_through_another(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    watching, writing = followers(trio, lead)
    next_index = store_index(watching) + 1
    with ThreadPoolExecutor(1) as pool:
        # waitIndex makes the watch independent of when it reaches the member.
        watch = pool.submit(
            get, watching.client_url, "/watched", 15.0, wait="true", waitIndex=str(next_index)
        )
        w = put(writing.client_url, "/watched", "seen")
        assert w.status == 201
        r = watch.result(timeout=20)
    assert r.status == 200
    event = r.json()
    assert event["action"] == "set"
    assert event["node"]["value"] == "seen"
    assert event["node"]["modifiedIndex"] == w.etcd_index


def test_a_stream_watch_on_a_follower_gets_every_write_in_order(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    watching = followers(trio, lead)[0]
    start = store_index(watching) + 1
    count = 10
    with ThreadPoolExecutor(1) as pool:
        got = pool.submit(
            stream_events,
            watching.client_url,
            f"/v2/keys/stream?wait=true&stream=true&waitIndex={start}",
            count,
        )
        indexes = []
        for i in range(count):
            r = put(trio[i % len(trio)].client_url, "/stream", str(i))
            assert r.status in (200, 201)
            indexes.append(r.etcd_index)
        events = got.result(timeout=20)
    assert [e["node"]["value"] for e in events] == [str(i) for i in range(count)]
    assert [e["node"]["modifiedIndex"] for e in events] == indexes


def test_five_members_elect_one_leader_and_replicate(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 5)
        lead = wait_leader(members)
        indexes = []
        for m in members:
            r = put(m.client_url, f"/five/{m.name}", m.name)
            assert r.status == 201, (m.name, r.body)
            indexes.append(r.etcd_index)
        assert indexes == sorted(indexes) and len(set(indexes)) == 5
        last = same_index(members, f"/five/{members[-1].name}")
        assert last == indexes[-1]
        assert get_json(lead.client_url, "/v2/stats/leader")["followers"].keys() == {
            self_stats(m)["id"] for m in followers(members, lead)
        }


def _survivor_answers(m: Proc, key: str, value: str) -> None:
    """A member without a leader: local reads work, a write ends in error 300 (never a
    hang) within the request timeout."""
    r = get(m.client_url, key)
    assert r.status == 200 and r.json()["node"]["value"] == value
    began = time.monotonic()
    w = put(m.client_url, key, "no-quorum", timeout=30.0)
    took = time.monotonic() - began
    assert w.status == 500, w.body
    body = w.json()
    assert body["errorCode"] == 300
    assert body["message"] == "Raft Internal Error"
    assert body["cause"] in (
        "etcdserver: request timed out",
        "etcdserver: request timed out, possibly due to previous leader failure",
    ), body
    print(f"{m.name}: write without a quorum failed in {took:.2f} s with {body['cause']!r}")
    # The read still answers the old value afterwards: the failed write never applied.
    assert get(m.client_url, key).json()["node"]["value"] == value


def test_a_member_that_lost_its_quorum_reads_locally_and_refuses_writes(
    tmp_path: Path,
) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)
        lead = wait_leader(members)
        assert put(lead.client_url, "/alone", "before").status == 201
        same_index(members, "/alone")
        survivor, gone = followers(members, lead)
        kill_hard(lead.popen)
        kill_hard(gone.popen)
        _survivor_answers(survivor, "/alone", "before")


def test_a_leader_that_lost_its_quorum_steps_down(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)
        lead = wait_leader(members)
        assert put(lead.client_url, "/alone", "before").status == 201
        same_index(members, "/alone")
        for m in followers(members, lead):
            kill_hard(m.popen)
        # Check-quorum: without hearing from a majority for an election timeout, the
        # leader gives up its role instead of serving as if nothing happened.
        poll(
            lambda: self_stats(lead)["state"] != "StateLeader",
            f"{lead.name} to step down without a quorum",
        )
        _survivor_answers(lead, "/alone", "before")


def test_default_timings_elect_replicate_and_fail_over(tmp_path: Path) -> None:
    """The defaults (100 ms heartbeat, 1 s election timeout), end to end."""
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3, extra_args=())
        lead = wait_leader(members)
        rest = followers(members, lead)
        r = put(rest[0].client_url, "/defaults", "one")
        assert r.status == 201
        same_index(members, "/defaults")
        kill_hard(lead.popen)
        began = time.monotonic()
        new = wait_leader(rest)
        print(f"a new leader ({new.name}) after {time.monotonic() - began:.2f} s")
        w = poll(
            lambda: put(rest[1].client_url, "/defaults", "two", timeout=10.0).status == 200 or None,
            "a write through the new leader's follower",
        )
        assert w
        for m in rest:
            q = get(m.client_url, "/defaults", quorum="true")
            assert q.json()["node"]["value"] == "two"
