"""Snapshots: compaction, sending, installing, status reporting (etcd's raft_snap_test.go)."""

from __future__ import annotations

from etcdpy.raft.progress import PROBE, REPLICATE, SNAPSHOT
from etcdpy.raft.state import Role
from etcdpy.raft.types import ConfState, Message, MessageType, Snapshot, SnapshotMetadata

from .netutil import Network, ents_with_terms, new_raft, persist, storage_with

SNAP = MessageType.SNAP


def snap_at(index: int, term: int, voters: list[int], data: bytes = b"") -> Snapshot:
    return Snapshot(SnapshotMetadata(index, term, ConfState(voters)), data)


def test_follower_restores_snapshot() -> None:
    r = new_raft(1, [1, 2])
    r.step(Message(SNAP, to=1, frm=2, term=2, snapshot=snap_at(11, 11, [1, 2, 3])))
    assert r.lead == 2
    assert (r.log.last_index(), r.log.last_term(), r.log.committed) == (11, 11, 11)
    assert r.trk.conf_state().voters == [1, 2, 3]
    assert r.log.has_pending_snapshot() and not r.promotable()
    (resp,) = r.read_messages()
    assert resp.type == MessageType.APP_RESP and resp.index == 11


def test_restore_ignores_old_snapshot_and_fast_forwards_matching_one() -> None:
    r = new_raft(1, [1, 2], storage=storage_with([1, 2], ents_with_terms(1, 2, 3)))
    r.log.commit_to(1)
    assert not r._restore(snap_at(1, 1, [1, 2]))  # not newer than our commit
    assert not r._restore(snap_at(2, 2, [1, 2]))  # we have (2, 2): only commit moves
    assert r.log.committed == 2 and r.log.last_index() == 3
    assert r._restore(snap_at(3, 9, [1, 2]))  # conflicting term: replace the log
    assert (r.log.last_index(), r.log.last_term()) == (3, 9)


def test_snapshot_without_self_is_installed_but_not_promotable() -> None:
    # A member added after the snapshot was taken: it waits for its own AddNode.
    r = new_raft(4, [])
    r.step(Message(SNAP, to=4, frm=1, term=2, snapshot=snap_at(10, 2, [1, 2, 3])))
    assert r.log.last_index() == 10
    assert 4 not in r.trk.progress
    persist(r)
    assert not r.promotable()


def compacted_leader() -> tuple[Network, object]:
    """A 3-member cluster where 3 fell behind and the leader compacted its log."""
    net = Network([None, None, None])
    net.campaign(1)
    net.isolate(3)
    for i in range(10):
        net.propose(1, b"e%d" % i)
    leader = net[1]
    st = leader.log.storage
    st.create_snapshot(leader.log.applied, leader.trk.conf_state(), b"state@11")
    st.compact(leader.log.applied)
    return net, leader


def test_leader_sends_snapshot_to_follower_behind_compaction() -> None:
    _, leader = compacted_leader()
    pr = leader.trk.progress[3]
    pr.recent_active = True
    pr.become_probe()
    pr.next = 2
    leader.read_messages()
    leader._maybe_send_append(3, True)
    (m,) = leader.read_messages()
    assert m.type == SNAP and m.snapshot.metadata.index == 11 and m.snapshot.data == b"state@11"
    assert pr.state is SNAPSHOT and pr.pending_snapshot == 11
    assert pr.is_paused()


def test_leader_does_not_send_snapshot_to_inactive_follower() -> None:
    _, leader = compacted_leader()
    pr = leader.trk.progress[3]
    pr.recent_active = False
    pr.become_probe()
    pr.next = 2
    leader.read_messages()
    assert not leader._maybe_send_append(3, True)
    assert leader.read_messages() == [] and pr.state is PROBE


def test_snap_status_success_and_failure() -> None:
    for failed, want_next in ((False, 12), (True, 2)):
        _, leader = compacted_leader()
        pr = leader.trk.progress[3]
        pr.match = 1
        pr.become_snapshot(11)
        leader.step(Message(MessageType.SNAP_STATUS, frm=3, reject=failed))
        assert pr.state is PROBE and pr.next == want_next and pr.probe_sent
        assert leader.read_messages() == []  # waits for an answer or a heartbeat


def test_snapshot_progress_resumes_on_append_response() -> None:
    _, leader = compacted_leader()
    pr = leader.trk.progress[3]
    pr.become_snapshot(11)
    leader.step(Message(MessageType.APP_RESP, to=1, frm=3, term=1, index=11))
    assert pr.state is REPLICATE and pr.match == 11


def test_slow_follower_is_caught_up_by_snapshot() -> None:
    net, leader = compacted_leader()
    net.recover()
    # Heartbeats make 3 active again and reveal its lag; the leader sends a snapshot.
    for _ in range(5):
        net.beat(1)
    follower = net[3]
    assert any(m.type == SNAP and m.to == 3 for m in net.delivered)
    assert follower.log.committed == leader.log.committed == 11
    # The transport reports the snapshot delivered; replication resumes from the log.
    leader.step(Message(MessageType.SNAP_STATUS, frm=3, reject=False))
    net.propose(1, b"after")
    assert follower.log.committed == 12
    assert follower.log.entries(12)[0].data == b"after"
    assert leader.trk.progress[3].state is REPLICATE


def test_pending_snapshot_blocks_campaign() -> None:
    r = new_raft(1, [1, 2])
    r.step(Message(SNAP, to=1, frm=2, term=2, snapshot=snap_at(5, 2, [1, 2])))
    r.read_messages()
    for _ in range(3 * r.election_timeout):
        r.tick()
    assert r.state is Role.FOLLOWER and r.term == 2
