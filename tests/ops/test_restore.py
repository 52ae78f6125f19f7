"""The administration guide's disaster recovery, step by step, on real processes.

Back up a functioning member's data dir with ``etcdpyctl backup`` (while it runs), lose
the whole cluster, start the backup with ``--force-new-cluster``, check it, stop it, move
the data dir back, start it normally, then add members one by one with ``member add``
and ``--initial-cluster-state existing`` until there are three again; every key, value
and index survives on every member, and so does the watch history.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cluster.kit import call, get, poll, put, same_index, start_cluster, wait_leader
from tests.ops.kit import (
    ctl,
    dump,
    etcdctl,
    member_add,
    members_of,
    start_member,
    wait_healthy,
    wait_same_dump,
    write_keys,
)
from tests.procs import LOOPBACK, free_port, proc_group


def test_guide_backup_restore_and_grow_back_to_three(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        old = start_cluster(
            group,
            3,
            extra_args=(
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
                "--snapshot-count",
                "40",
            ),
        )
        lead = wait_leader(old)
        write_keys(lead.client_url, "/app", 90)
        n1 = old[0]
        # n1 has applied (so persisted, with its commit index) every acknowledged write.
        same_index(old, "/app/k0089")
        before = dump(n1.client_url)
        last_index = get(n1.client_url, "/app/k0089").json()["node"]["modifiedIndex"]

        # 1. Back up the data dir of a functioning member, as it runs.
        backup_dir = tmp_path / "etcd_backup"
        r = ctl("backup", "--data-dir", str(n1.data_dir), "--backup-dir", str(backup_dir))
        assert (r.rc, r.out, r.err) == (0, "", ""), r
        assert sorted(p.name for p in backup_dir.iterdir()) == ["snap", "wal"]

        # The disaster: every member is lost.
        for m in old:
            m.kill()

        # 2. Start the backup as a new one-member cluster.
        client, peer = free_port(), free_port()
        restored = start_member(
            group,
            "n1",
            backup_dir,
            "--force-new-cluster",
            client_port=client,
            peer_port=peer,
            initial_cluster=",".join(f"{m.name}={m.peer_url}" for m in old),
        )
        url = restored.client_url
        # 3. Check: every key with its value and indexes, one member with our peer URL,
        # a new member id and cluster id, the watch history, and writes work.
        assert dump(url) == before
        (only,) = members_of(url)
        assert (only["name"], only["peerURLs"]) == ("n1", [f"http://{LOOPBACK}:{peer}"])
        w = call(
            url, "GET", f"/v2/keys/app/k0002?wait=true&waitIndex={last_index - 1}", timeout=5.0
        )
        assert w.status == 200 and w.json()["action"] == "delete", w.body
        poll(lambda: put(url, "/after/restore", "yes").status == 201, "a write after restore")
        before = dump(url)

        # 4. Stop it, move the data back where it belongs, start it normally.
        assert restored.stop() == 0
        shutil.rmtree(n1.data_dir)
        shutil.move(str(backup_dir), str(n1.data_dir))
        normal = start_member(
            group,
            "n1",
            n1.data_dir,
            client_port=client,
            peer_port=peer,
            initial_cluster=",".join(f"{m.name}={m.peer_url}" for m in old),
        )
        assert dump(normal.client_url) == before
        assert [m["name"] for m in members_of(normal.client_url)] == ["n1"]
        wait_healthy([normal])

        # 5. Grow back to three: member add, then start with an empty data dir and
        # --initial-cluster-state existing, one at a time.
        members = [normal]
        for name in ("n2", "n3"):
            new_peer = free_port()
            initial = member_add(normal.client_url, name, f"http://{LOOPBACK}:{new_peer}")
            fresh = tmp_path / f"{name}-new.etcd"
            members.append(
                start_member(
                    group,
                    name,
                    fresh,
                    peer_port=new_peer,
                    initial_cluster=initial,
                    state="existing",
                )
            )
            wait_same_dump(members, before)
            # As the guide says: the next member only once this one has started (its
            # name published), or member add would print an incomplete cluster.
            poll(
                lambda name=name: name in [m["name"] for m in members_of(normal.client_url)],
                f"{name} published",
            )
        assert [m["name"] for m in members_of(normal.client_url)] == ["n1", "n2", "n3"]
        wait_healthy(members)
        # The grown cluster replicates new writes to every member.
        assert put(members[2].client_url, "/after/grow", "3").status == 201
        same_index(members, "/after/grow")
        wait_same_dump(members, dump(normal.client_url))

        # The reference's etcdctl (v2) drives the member commands against etcdpy too.
        listed = etcdctl("--endpoints", normal.client_url, "member", "list")
        assert listed.rc == 0 and listed.out.count("\n") == 3, listed
        assert listed.out == ctl("--endpoints", normal.client_url, "member", "list").out
        spare = f"http://{LOOPBACK}:{free_port()}"
        added = etcdctl("--endpoints", normal.client_url, "member", "add", "spare", spare)
        assert added.rc == 0 and "Added member named spare with ID " in added.out, added
        spare_id = added.out.split(" with ID ")[1].split()[0]
        moved = f"http://{LOOPBACK}:{free_port()}"
        r = etcdctl("--endpoints", normal.client_url, "member", "update", spare_id, moved)
        assert (r.rc, r.out) == (0, f"Updated member with ID {spare_id} in cluster\n"), r
        assert (
            f"{spare_id}[unstarted]: peerURLs={moved}"
            in etcdctl("--endpoints", normal.client_url, "member", "list").out
        )
        r = etcdctl("--endpoints", normal.client_url, "member", "remove", spare_id)
        assert (r.rc, r.out) == (0, f"Removed member {spare_id} from cluster\n"), r
        assert [m["name"] for m in members_of(normal.client_url)] == ["n1", "n2", "n3"]
