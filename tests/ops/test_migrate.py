"""Member migration as the administration guide describes it, and the out-of-date copy
it warns about.

Migration: stop the member, copy its data dir to the new place, change its peer URL with
``member update``, start it from the copy with the new URL: same member id, same data,
a healthy cluster. Then the warning: a member restarted from an older copy of its own
data dir (its log is behind what it acknowledged) is refused with a sentence naming
its data dir and the fix, the fix works, and the rest of the cluster never stops.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cluster.kit import get, poll, put, same_index, start_cluster, wait_leader
from tests.ops.kit import (
    ctl,
    dump,
    etcdctl,
    member_add,
    member_id_of,
    members_of,
    refused_start,
    start_member,
    wait_healthy,
    wait_same_dump,
    write_keys,
)
from tests.procs import LOOPBACK, free_port, proc_group


def test_guide_member_migration_then_an_out_of_date_copy_is_refused(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)
        lead = wait_leader(members)
        lead_id = member_id_of(lead.client_url, lead.name)
        write_keys(lead.client_url, "/app", 30)
        n3 = next(m for m in members if m is not lead)
        name = n3.name
        others = [m for m in members if m is not n3]
        n3_id = member_id_of(lead.client_url, name)
        initial = ",".join(f"{m.name}={m.peer_url}" for m in members)

        # Migration: stop, copy the data dir to the "new machine", update the peer URL
        # from a live member, start from the copy with the new URL.
        assert n3.stop() == 0
        moved = tmp_path / "new-machine" / "n3.etcd"
        shutil.copytree(n3.data_dir, moved)
        new_peer = free_port()
        new_url = f"http://{LOOPBACK}:{new_peer}"
        r = ctl("--endpoints", lead.client_url, "member", "update", n3_id, new_url)
        assert (r.rc, r.out) == (0, f"Updated member with ID {n3_id} in cluster\n"), r
        write_keys(lead.client_url, "/while-away", 10)
        n3 = start_member(
            group, name, moved, peer_port=new_peer, initial_cluster=initial, state="new"
        )
        assert member_id_of(lead.client_url, name) == n3_id
        assert get(n3.client_url, "/").status == 200
        poll(
            lambda: (
                [m["peerURLs"] for m in members_of(n3.client_url) if m["name"] == name]
                == [[new_url]]
            ),
            "the new peer URL in the migrated member's own view",
        )
        members = [*others, n3]
        wait_same_dump(members, dump(lead.client_url))
        wait_healthy(members)

        # The warning: keep an old copy, let the member acknowledge more, then start
        # it from the old copy.
        n3.kill()  # fsynced before acknowledged: a crash is as good as a stop
        stale = tmp_path / "stale-copy"
        shutil.copytree(moved, stale)
        n3 = start_member(group, name, moved, peer_port=new_peer, initial_cluster=initial)
        write_keys(lead.client_url, "/later", 40)
        same_index([*members[:2], n3], "/later/k0039")
        n3.kill()
        shutil.rmtree(moved)
        shutil.copytree(stale, moved)
        n3 = start_member(
            group, name, moved, peer_port=new_peer, initial_cluster=initial, ready=False
        )
        line = refused_start(n3)
        assert str(moved) in line and "out of date" in line, line
        assert "member remove" in line and "--initial-cluster-state existing" in line, line
        # The other members never stopped serving.
        assert put(lead.client_url, "/still/writable", "yes").status == 201

        # The fix the sentence names: remove, empty the data dir, add, start existing.
        # The reference's etcdctl drives the member commands this time.
        r = etcdctl("--endpoints", lead.client_url, "member", "remove", n3_id)
        assert (r.rc, r.out) == (0, f"Removed member {n3_id} from cluster\n"), r
        shutil.rmtree(moved)
        initial = member_add(lead.client_url, name, new_url, tool="etcdctl")
        n3 = start_member(
            group, name, moved, peer_port=new_peer, initial_cluster=initial, state="existing"
        )
        members = [*others, n3]
        poll(lambda: member_id_of(lead.client_url, name) != n3_id, f"{name} under a new id")
        wait_same_dump(members, dump(lead.client_url))
        wait_healthy(members)

        # Lastly, --force-new-cluster from a member's own data dir (not a backup): the
        # member keeps its id and data, and takes the peer URL it is told to advertise.
        before = dump(lead.client_url)
        for m in members:
            m.kill()
        moved_peer = free_port()
        alone = start_member(
            group, lead.name, lead.data_dir, "--force-new-cluster", peer_port=moved_peer
        )
        (only,) = members_of(alone.client_url)
        assert only["peerURLs"] == [f"http://{LOOPBACK}:{moved_peer}"]
        assert only["id"] == lead_id
        assert dump(alone.client_url) == before
