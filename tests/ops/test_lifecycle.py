"""A member's data dir over its life, as the administration guide's "Lifecycle" says: a
member whose data dir is lost or corrupt must be removed and re-added with an empty
data dir, and then catches up. Starting it anyway, or with a data dir of another
cluster, is refused with one sentence and status 1, while the rest of the cluster keeps
serving. (Another member's data dir and damaged files: test_damage.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cluster.kit import put, start_cluster, wait_leader
from tests.ops.kit import (
    ctl,
    dump,
    member_add,
    member_id_of,
    refused_start,
    start_member,
    wait_healthy,
    wait_same_dump,
    write_keys,
)
from tests.procs import Proc, ProcGroup, proc_group


def replace(group: ProcGroup, leader: Proc, lost: Proc, tmp_path: Path) -> Proc:
    """The guide's remedy with etcdpyctl: remove the member, add it again, start it with
    an empty data dir and --initial-cluster-state existing."""
    mid = member_id_of(leader.client_url, lost.name)
    r = ctl("--endpoints", leader.client_url, "member", "remove", mid)
    assert (r.rc, r.out) == (0, f"Removed member {mid} from cluster\n"), r
    initial = member_add(leader.client_url, lost.name, lost.peer_url)
    empty = tmp_path / f"{lost.name}-empty.etcd"
    return start_member(
        group,
        lost.name,
        empty,
        client_port=lost.client_port,
        peer_port=lost.peer_port,
        initial_cluster=initial,
        state="existing",
    )


def test_a_lost_member_is_refused_then_replaced_and_a_foreign_data_dir_is_refused(
    tmp_path: Path,
) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)
        lead = wait_leader(members)
        a, b = (m for m in members if m is not lead)
        initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
        write_keys(lead.client_url, "/life", 30)
        wait_same_dump(members, dump(lead.client_url))

        # Lost: a's disk is gone; started again with its flags it would rejoin empty
        # after having acknowledged entries. Refused, naming the fix.
        a.kill()
        shutil.rmtree(a.data_dir)
        again = start_member(
            group,
            a.name,
            a.data_dir,
            client_port=a.client_port,
            peer_port=a.peer_port,
            initial_cluster=initial,
            ready=False,
        )
        line = refused_start(again)
        assert "out of date" in line and "member remove" in line, line

        # The remedy: remove, add, start with an empty data dir; it catches up.
        a = replace(group, lead, a, tmp_path)
        assert put(a.client_url, "/life/after", "back").status == 201
        wait_same_dump([lead, a, b], dump(lead.client_url))

        # Another cluster: a data dir made at b's address by a member of another cluster
        # (another token). Its first start is refused by the peers it names; started
        # again with this cluster's flags, the data dir decides and is refused again.
        b.kill()  # a crash leaves the data dir as good as a clean stop
        foreign = tmp_path / "foreign.etcd"
        ports = {"client_port": b.client_port, "peer_port": b.peer_port}
        token = ("--initial-cluster-token", "another-cluster")
        first = start_member(
            group, b.name, foreign, *token, initial_cluster=initial, ready=False, **ports
        )
        line = refused_start(first)
        assert "are members of another cluster and refuse this member" in line, line
        second = start_member(group, b.name, foreign, initial_cluster=initial, ready=False, **ports)
        line = refused_start(second)
        assert f"data dir {foreign}" in line and "its own data dir" in line, line
        # One stranger at a member's address does not stop the others.
        assert lead.alive() and a.alive()
        assert put(lead.client_url, "/life/still", "ok").status == 201
        b = start_member(group, b.name, b.data_dir, initial_cluster=initial, **ports)
        members = [lead, a, b]
        wait_same_dump(members, dump(lead.client_url))
        wait_healthy(members)
