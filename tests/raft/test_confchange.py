"""Single-member configuration changes (etcd's raft_test.go conf change tests)."""

from __future__ import annotations

import random

import pytest

from etcdpy.raft.config import Config
from etcdpy.raft.errors import ProposalDropped
from etcdpy.raft.rawnode import Peer, RawNode
from etcdpy.raft.state import Role
from etcdpy.raft.storage import MemoryStorage
from etcdpy.raft.types import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMetadata,
)

from .netutil import Network, new_raft, persist

ADD = ConfChangeType.ADD_NODE
REMOVE = ConfChangeType.REMOVE_NODE
CONF = EntryType.CONF_CHANGE


def conf_entry(kind: ConfChangeType, node_id: int) -> Entry:
    return Entry(type=CONF, data=ConfChange(kind, node_id).encode())


def prop(*ents: Entry) -> Message:
    return Message(MessageType.PROP, frm=1, entries=list(ents))


def leader(ids: list[int] | None = None) -> object:
    r = new_raft(1, ids or [1, 2])
    r.become_candidate()
    r.become_leader()
    return r


def test_conf_change_proposal_sets_pending_index() -> None:
    r = leader()
    r.log.commit_to(r.log.last_index())
    r.log.applied_to(r.log.last_index())  # the no-op is applied
    r.step(prop(conf_entry(ADD, 3)))
    assert r.pending_conf_index == r.log.last_index()
    assert r.log.entries(r.log.last_index())[0].type == CONF


def test_second_conf_change_is_refused_while_first_unapplied() -> None:
    r = leader()
    r.log.commit_to(1)
    r.log.applied_to(1)
    r.step(prop(conf_entry(ADD, 3)))
    r.step(prop(conf_entry(ADD, 4)))
    last = r.log.entries(r.log.last_index())[0]
    # etcd turns the refused change into an empty normal entry.
    assert last.type == EntryType.NORMAL and last.data == b""
    assert r.pending_conf_index == r.log.last_index() - 1


def test_new_leader_accepts_conf_change_only_after_its_noop_is_applied() -> None:
    # Pitfall P4: a leader must commit an entry of its own term before a conf change.
    r = leader()
    noop = r.log.last_index()
    assert r.pending_conf_index == noop
    r.step(prop(conf_entry(ADD, 3)))
    refused = r.log.entries(r.log.last_index())[0]
    assert refused.type == EntryType.NORMAL
    r.log.commit_to(r.log.last_index())
    r.log.applied_to(noop)
    r.step(prop(conf_entry(ADD, 3)))
    assert r.log.entries(r.log.last_index())[0].type == CONF


def test_rawnode_refuses_conf_change_with_clear_error() -> None:
    st = MemoryStorage()
    node = RawNode(Config(id=1, storage=st, rng=random.Random(1)), peers=[1])
    node.campaign()
    # The bootstrap entries are committed but not applied yet: no campaign.
    assert node.status().role is Role.FOLLOWER
    drive(node, st)
    node.campaign()
    assert node.status().role is Role.LEADER
    with pytest.raises(ProposalDropped, match="not applied yet"):
        node.propose_conf_change(ConfChange(ADD, 2))


def test_add_node_is_idempotent_and_active() -> None:
    r = leader()
    r.apply_conf_change(ConfChange(ADD, 3))
    pr = r.trk.progress[3]
    assert pr.recent_active and pr.next == r.log.last_index() + 1 and pr.match == 0
    pr.match = 1
    r.apply_conf_change(ConfChange(ADD, 3))
    assert r.trk.progress[3].match == 1
    assert r.trk.conf_state() == ConfState([1, 2, 3])


def test_cancelled_conf_change_changes_nothing() -> None:
    r = leader()
    assert r.apply_conf_change(ConfChange(ADD, 0)) == ConfState([1, 2])


def test_remove_node_can_commit_more() -> None:
    r = leader([1, 2])
    r.read_messages()
    r.propose_data([b"x"])
    assert r.log.committed == 0  # 2 has not acknowledged anything
    r.apply_conf_change(ConfChange(REMOVE, 2))
    assert r.log.committed == 2 and r.trk.conf_state() == ConfState([1])


def test_removed_leader_steps_down() -> None:
    r = leader([1, 2, 3])
    r.apply_conf_change(ConfChange(REMOVE, 1))
    assert r.state is Role.FOLLOWER and not r.promotable()
    for _ in range(5 * r.election_timeout):
        r.tick()
    assert r.state is Role.FOLLOWER  # never campaigns again
    with pytest.raises(ProposalDropped):
        r.propose_data([b"x"])


def test_remove_aborts_transfer_to_removed_member() -> None:
    r = leader([1, 2, 3])
    r.step(Message(MessageType.TRANSFER_LEADER, frm=3))
    assert r.lead_transferee == 3
    r.apply_conf_change(ConfChange(REMOVE, 3))
    assert r.lead_transferee == 0


def test_unapplied_committed_conf_change_blocks_campaign() -> None:
    r = new_raft(1, [1, 2])
    r.become_follower(1, 2)
    r.step(
        Message(
            MessageType.APP,
            to=1,
            frm=2,
            term=1,
            index=0,
            log_term=0,
            commit=1,
            entries=[Entry(term=1, index=1, type=CONF, data=ConfChange(ADD, 3).encode())],
        )
    )
    r.read_messages()
    assert r.log.committed == 1 and r.log.applied == 0
    r.step(Message(MessageType.HUP, frm=1))
    assert r.state is Role.FOLLOWER
    persist(r)  # applied now
    r.step(Message(MessageType.HUP, frm=1))
    assert r.state is Role.CANDIDATE


def test_leader_probes_an_added_member_at_once() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    r = net[1]
    r.read_messages()
    r.apply_conf_change(ConfChange(ADD, 4))
    msgs = r.read_messages()
    assert [(m.type, m.to) for m in msgs] == [(MessageType.APP, 4)]


def drive(node: RawNode, st: MemoryStorage) -> list[Entry]:
    """Process Readies until idle (no network); returns the entries applied."""
    applied: list[Entry] = []
    for _ in range(100):
        if not node.has_ready():
            return applied
        rd = node.ready()
        if rd.snapshot is not None:
            st.apply_snapshot(rd.snapshot)
        st.append(rd.entries)
        if rd.hard_state is not None:
            st.set_hard_state(rd.hard_state)
        for e in rd.committed_entries:
            if e.type == CONF:
                node.apply_conf_change(ConfChange.decode(e.data))
            applied.append(e)
        node.advance(rd)
    raise AssertionError("the node never became idle")


def test_bootstrap_synthesizes_identical_initial_log() -> None:
    logs = []
    for member in (1, 2, 3):
        st = MemoryStorage()
        node = RawNode(
            Config(id=member, storage=st, rng=random.Random(member)),
            peers=[Peer(1, b"m1"), Peer(2, b"m2"), Peer(3, b"m3")],
        )
        rd = node.ready()
        assert rd.hard_state == HardState(1, 0, 3) and rd.must_sync
        assert [(e.index, e.term, e.type) for e in rd.entries] == [(i, 1, CONF) for i in (1, 2, 3)]
        assert rd.committed_entries == rd.entries
        ccs = [ConfChange.decode(e.data) for e in rd.entries]
        assert [(c.type, c.node_id, c.context) for c in ccs] == [
            (ADD, 1, b"m1"),
            (ADD, 2, b"m2"),
            (ADD, 3, b"m3"),
        ]
        logs.append([e.to_list() for e in rd.entries])
    assert logs[0] == logs[1] == logs[2]


def test_bootstrap_refuses_non_empty_storage() -> None:
    st = MemoryStorage()
    st.append([Entry(term=1, index=1)])
    with pytest.raises(Exception, match="cannot bootstrap"):
        RawNode(Config(id=1, storage=st), peers=[1])


def test_force_new_cluster_restart() -> None:
    # etcd's --force-new-cluster (facts §4.9): the persisted snapshot says {1, 2, 3};
    # the server appends RemoveNode(2), RemoveNode(3) at the persisted term after the
    # commit index, sets commit to the last index and restarts Raft from that storage.
    st = MemoryStorage()
    st.apply_snapshot(Snapshot(SnapshotMetadata(5, 2, ConfState([1, 2, 3])), b"state"))
    st.append([Entry(term=2, index=6, data=b"x"), Entry(term=2, index=7, data=b"y")])
    extra = [
        Entry(term=2, index=8, type=CONF, data=ConfChange(REMOVE, 2).encode()),
        Entry(term=2, index=9, type=CONF, data=ConfChange(REMOVE, 3).encode()),
    ]
    st.append(extra)
    st.set_hard_state(HardState(term=2, vote=0, commit=9))
    node = RawNode(
        Config(id=1, storage=st, applied=5, election_tick=5, rng=random.Random(1)), peers=None
    )
    applied = drive(node, st)
    assert [e.index for e in applied] == [6, 7, 8, 9]
    assert node.raft.trk.conf_state() == ConfState([1])
    for _ in range(20):
        node.tick()
        drive(node, st)
        if node.status().role is Role.LEADER:
            break
    assert node.status().role is Role.LEADER and node.status().term == 3
    node.propose(b"after")
    applied = drive(node, st)
    assert [e.data for e in applied][-1] == b"after"
