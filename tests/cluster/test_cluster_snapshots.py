"""Snapshots and compaction: a follower behind the compacted log is caught up by a
snapshot, and a member with 100k keys restarts from its newest snapshot plus the WAL
and serves within 5 s."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.cluster.kit import (
    FAST,
    HEAVY,
    get,
    get_json,
    load_keys,
    modified_index,
    poll,
    put,
    restart,
    start_cluster,
    wait_leader,
    wait_log,
)
from tests.faults import kill_hard
from tests.procs import Proc, proc_group

SNAP_NAME = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{16}\.snap$")
RESTART_BOUND_S = 5.0
SAVED = re.compile(r"saved a snapshot at index (\d+)")
WAL_TAIL_TARGET = 9000  # of --snapshot-count 10000


def snap_files(m: Proc) -> list[str]:
    return sorted(p.name for p in (m.data_dir / "snap").glob("*.snap"))


def key_count(m: Proc, directory: str) -> int:
    r = get(m.client_url, directory, timeout=60.0)
    assert r.status == 200, r.body[:200]
    return len(r.json()["node"].get("nodes", []))


def test_a_follower_behind_the_compacted_log_is_caught_up_by_a_snapshot(
    tmp_path: Path,
) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3, extra_args=(*FAST, "--snapshot-count", "1000"))
        lead = wait_leader(members)
        lagging = next(m for m in members if m is not lead)
        assert lagging.stop() == 0
        # More than the 5,000 entries kept behind a snapshot, plus a snapshot interval:
        # the leader's log no longer holds what the stopped follower needs next.
        index = load_keys(lead, "/catch", 6500)
        wait_log(lead, "saved a snapshot at index")
        assert snap_files(lead) and all(SNAP_NAME.match(n) for n in snap_files(lead))
        again = restart(group, lagging)
        members[members.index(lagging)] = again
        wait_log(lead, "sending snapshot at index")
        installed = wait_log(again, "installed the snapshot at index")
        assert f" | {again.name} | " in installed
        assert modified_index(members, "/catch-done") == index
        assert key_count(again, "/catch") == key_count(lead, "/catch")
        # It goes on from there with the log: a new write reaches it as an entry.
        w = put(again.client_url, "/after-snapshot", "entry")
        assert w.status == 201
        assert modified_index(members, "/after-snapshot") == w.etcd_index


def test_a_member_restarted_with_100k_keys_serves_within_5_s(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        [m] = start_cluster(group, 1, extra_args=(*FAST, "--snapshot-count", "10000"))
        began = time.monotonic()
        index = load_keys(m, "/big", 100_000)
        loaded_in = time.monotonic() - began
        count = key_count(m, "/big")
        assert count >= 100_000
        assert snap_files(m), "no snapshot was taken while loading"
        print(f"loaded {count} keys in {loaded_in:.1f} s ({count / loaded_in:.0f} writes/s)")
        # Rewrite keys until the WAL after the newest snapshot is nearly a whole
        # snapshot interval long: the restart then replays close to the most it can.
        last_snap = int(SAVED.findall(m.log_text())[-1])
        lag = get(m.client_url, "/big-done").raft_index - last_snap
        if lag < WAL_TAIL_TARGET:
            index = load_keys(m, "/big", WAL_TAIL_TARGET - lag)
        assert key_count(m, "/big") == count
        kill_hard(m.popen)  # a crash: the newest snapshot plus the WAL after it

        spawned = time.monotonic()
        again = restart(group, m, ready=False)

        def serving() -> bool:
            version = get_json(again.client_url, "/version", timeout=1.0)
            if version["etcdcluster"] == "not_decided":
                return False
            done = get(again.client_url, "/big-done", timeout=1.0)
            return done.status == 200 and done.json()["node"]["modifiedIndex"] == index

        poll(serving, "the restarted member to serve all its keys", RESTART_BOUND_S, 0.02)
        took = time.monotonic() - spawned
        print(f"restarted with {count} keys: serving in {took:.2f} s")
        snapshot_at = wait_log(again, "restarting member")
        print(snapshot_at.split("etcdpy.server.bootstrap: ")[-1])
        assert key_count(again, "/big") == count
        assert get(again.client_url, "/big/k1000").json()["node"]["value"] == "1000"


@pytest.mark.skipif(not HEAVY, reason="purging runs every 30 s; set ETCDPY_CLUSTER_HEAVY=1")
def test_old_snapshots_are_purged_and_the_member_restarts_after(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        extra = (*FAST, "--snapshot-count", "100", "--max-snapshots", "2")
        [m] = start_cluster(group, 1, extra_args=extra)
        index = load_keys(m, "/purge", 1000)
        assert len(snap_files(m)) > 2
        poll(lambda: len(snap_files(m)) <= 2, "old snapshots to be purged", 45.0, 0.5)
        kill_hard(m.popen)
        again = restart(group, m)
        assert get(again.client_url, "/purge-done").json()["node"]["modifiedIndex"] == index
