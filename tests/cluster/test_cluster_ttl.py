"""TTLs in the log: the leader proposes a SYNC with its clock when a key is due, and
every member expires the same keys at the same store index when it applies it.  With no
leader nothing expires (etcd: "keys can only be expired by a cluster leader")."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.kit import (
    call,
    followers,
    get,
    get_json,
    poll,
    put,
    restart,
    same_index,
    start_cluster,
    store_index,
    stream_events,
    wait_leader,
)
from tests.faults import kill_hard
from tests.procs import Proc, proc_group


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Proc]]:
    with proc_group(tmp_path_factory.mktemp("ttl")) as group:
        members = start_cluster(group, 3)
        wait_leader(members)
        yield members


def summary(events: list[Any]) -> list[tuple[str, str, int]]:
    return [(e["action"], e["node"]["key"], e["node"]["modifiedIndex"]) for e in events]


def test_expired_keys_go_at_the_same_index_on_every_member(trio: list[Proc]) -> None:
    lead = wait_leader(trio)
    writer = followers(trio, lead)[0]
    first = store_index(lead) + 1
    path = f"/v2/keys/ttl?wait=true&recursive=true&stream=true&waitIndex={first}"
    expected_events = 8  # 5 writes, then 3 expirations (a, the dir d, b)
    with ThreadPoolExecutor(len(trio)) as pool:
        watches = [
            pool.submit(stream_events, m.client_url, path, expected_events, 20.0) for m in trio
        ]
        assert put(writer.client_url, "/ttl/a", "1s", ttl="1").status == 201
        assert put(writer.client_url, "/ttl/b", "2s", ttl="2").status == 201
        assert put(writer.client_url, "/ttl/c", "stays").status == 201
        d = call(writer.client_url, "PUT", "/v2/keys/ttl/d", form={"dir": "true", "ttl": "1"})
        assert d.status == 201
        assert put(writer.client_url, "/ttl/d/x", "inside").status == 201
        seen = [summary(w.result(timeout=30)) for w in watches]
    # Every member saw the same events, expirations included, at the same indexes.
    assert seen[0] == seen[1] == seen[2], seen
    expired = [(key, index) for action, key, index in seen[0] if action == "expire"]
    assert sorted(key for key, _ in expired) == ["/ttl/a", "/ttl/b", "/ttl/d"]
    for m in trio:
        assert get(m.client_url, "/ttl/a").status == 404
        assert get(m.client_url, "/ttl/d/x").status == 404
        assert get(m.client_url, "/ttl/c").json()["node"]["value"] == "stays"
    same_index(trio, "/ttl")
    counts = {get_json(m.client_url, "/v2/stats/store")["expireCount"] for m in trio}
    assert len(counts) == 1 and counts.pop() >= 3


def test_keys_expire_only_through_a_leader(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)
        lead = wait_leader(members)
        w = put(lead.client_url, "/lonely", "x", ttl="1")
        assert w.status == 201
        same_index(members, "/lonely")
        survivor, gone = followers(members, lead)
        kill_hard(lead.popen)
        kill_hard(gone.popen)

        # Without a leader no SYNC is proposed: the key outlives its TTL (etcd shows a
        # ttl of 0 or less then), on this member's own clock, well past its expiration.
        def overdue() -> bool:
            r = get(survivor.client_url, "/lonely")
            assert r.status == 200, "the key expired without a leader"
            return r.json()["node"]["ttl"] <= -1

        poll(overdue, "the key to be a second overdue on the leaderless member")
        index_before = store_index(survivor)

        # With a quorum again, the new leader's SYNC expires it on every member alike.
        back = [restart(group, lead), restart(group, gone)]
        everyone = [survivor, *back]
        wait_leader(everyone)
        expires = []
        for m in everyone:
            r = get(
                m.client_url, "/lonely", timeout=20.0, wait="true", waitIndex=str(w.etcd_index + 1)
            )
            assert r.json()["action"] == "expire", r.body
            expires.append(r.json()["node"]["modifiedIndex"])
        assert len(set(expires)) == 1
        assert expires[0] > index_before
        for m in everyone:
            poll(
                lambda m=m: get(m.client_url, "/lonely").status == 404,
                f"{m.name} to have expired the key",
            )
