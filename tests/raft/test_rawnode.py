"""The RawNode / Ready contract the server relies on (etcd's rawnode_test.go)."""

from __future__ import annotations

import logging
import random

import pytest

from etcdpy.raft import (
    Config,
    ConfigError,
    MemoryStorage,
    ProposalDropped,
    RaftError,
    RawNode,
    Ready,
    Role,
    SoftState,
)
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


def persist(node: RawNode, st: MemoryStorage, rd: Ready) -> None:
    if rd.snapshot is not None:
        st.apply_snapshot(rd.snapshot)
    st.append(rd.entries)
    if rd.hard_state is not None:
        st.set_hard_state(rd.hard_state)
    for e in rd.committed_entries:
        if e.type == EntryType.CONF_CHANGE:
            node.apply_conf_change(ConfChange.decode(e.data))


def settle(node: RawNode, st: MemoryStorage) -> list[Ready]:
    out = []
    for _ in range(50):
        if not node.has_ready():
            return out
        rd = node.ready()
        persist(node, st, rd)
        node.advance(rd)
        out.append(rd)
    raise AssertionError("no quiescence")


def single(member: int = 1, **kw: object) -> tuple[RawNode, MemoryStorage]:
    st = MemoryStorage()
    node = RawNode(Config(id=member, storage=st, rng=random.Random(member), **kw), peers=[member])  # type: ignore[arg-type]
    settle(node, st)
    return node, st


def test_first_ready_of_a_new_member() -> None:
    st = MemoryStorage()
    node = RawNode(Config(id=1, storage=st), peers=[1, 2, 3])
    assert node.has_ready()
    rd = node.ready()
    assert rd.soft_state is None  # a follower without leader, as before
    assert rd.hard_state == HardState(1, 0, 3) and rd.must_sync
    assert len(rd.entries) == 3 and rd.committed_entries == rd.entries
    assert rd.messages == [] and not rd.send_before_persist
    persist(node, st, rd)
    node.advance(rd)
    assert not node.has_ready()


def test_single_member_campaign_and_propose() -> None:
    node, st = single()
    node.campaign()
    rd = node.ready()
    assert rd.soft_state == SoftState(lead=1, role=Role.LEADER)
    assert rd.hard_state is not None and rd.hard_state.term == 2 and rd.hard_state.vote == 1
    assert rd.must_sync
    persist(node, st, rd)
    node.advance(rd)
    settle(node, st)
    node.propose(b"hello")
    rd = node.ready()
    assert [e.data for e in rd.entries] == [b"hello"]
    assert [e.data for e in rd.committed_entries] == [b"hello"]
    assert rd.soft_state is None and rd.must_sync
    persist(node, st, rd)
    node.advance(rd)
    assert node.status().applied == node.status().commit == st.last_index()


def test_commit_only_change_does_not_need_sync() -> None:
    st = MemoryStorage()
    node = RawNode(Config(id=1, storage=st, rng=random.Random(1)), peers=[1, 2])
    settle(node, st)
    node.step(
        Message(
            MessageType.APP,
            to=1,
            frm=2,
            term=2,
            index=2,
            log_term=1,
            entries=[Entry(term=2, index=3, data=b"x")],
            commit=2,
        )
    )
    rd = node.ready()
    assert rd.must_sync  # entries (and a new term)
    persist(node, st, rd)
    node.advance(rd)
    node.step(Message(MessageType.HEARTBEAT, to=1, frm=2, term=2, commit=3))
    rd = node.ready()
    assert rd.hard_state == HardState(2, 0, 3)
    assert not rd.must_sync and rd.entries == []  # commit index only: no fsync needed
    assert [e.data for e in rd.committed_entries] == [b"x"]


def test_ready_twice_without_advance_is_refused() -> None:
    node, st = single()
    node.campaign()
    rd = node.ready()
    assert not node.has_ready()  # nothing new until advance()
    with pytest.raises(RaftError, match="advance"):
        node.ready()
    node.propose(b"meanwhile")
    assert not node.has_ready()
    persist(node, st, rd)
    node.advance(rd)
    assert node.has_ready()


def test_steps_between_ready_and_advance_are_kept() -> None:
    node, st = single()
    node.campaign()
    settle(node, st)
    node.propose(b"a")
    rd = node.ready()
    node.propose(b"b")  # while "a" is being persisted
    persist(node, st, rd)
    node.advance(rd)
    rd2 = node.ready()
    assert [e.data for e in rd2.entries] == [b"b"]


def three_member_leader() -> tuple[RawNode, MemoryStorage]:
    st = MemoryStorage()
    node = RawNode(Config(id=1, storage=st, rng=random.Random(1)), peers=[1, 2, 3])
    settle(node, st)
    node.campaign()
    rd = node.ready()
    persist(node, st, rd)
    node.advance(rd)
    assert rd.messages and not rd.send_before_persist  # pre-votes: only once durable
    term = node.status().term + 1
    for peer in (2, 3):
        node.step(Message(MessageType.PRE_VOTE_RESP, to=1, frm=peer, term=term))
    rd = node.ready()
    persist(node, st, rd)
    node.advance(rd)
    assert all(m.type == MessageType.VOTE for m in rd.messages) and not rd.send_before_persist
    node.step(Message(MessageType.VOTE_RESP, to=1, frm=2, term=term))
    assert node.status().role is Role.LEADER
    return node, st


def test_leader_messages_may_leave_before_persist() -> None:
    node, st = three_member_leader()
    rd = node.ready()
    assert rd.send_before_persist
    assert {m.type for m in rd.messages} == {MessageType.APP}
    persist(node, st, rd)
    node.advance(rd)
    node.propose(b"x")
    rd = node.ready()
    assert rd.send_before_persist and [e.data for e in rd.entries] == [b"x"]
    # Many proposals between two Readies become one append per follower.
    persist(node, st, rd)
    node.advance(rd)
    for peer in (2, 3):
        node.step(
            Message(
                MessageType.APP_RESP, to=1, frm=peer, term=node.status().term, index=st.last_index()
            )
        )
    settle(node, st)
    node.propose_batch([b"p%d" % i for i in range(64)])
    rd = node.ready()
    apps = [m for m in rd.messages if m.type == MessageType.APP]
    assert len(apps) == 2 and all(len(m.entries) == 64 for m in apps)


def test_leader_with_follower_era_messages_sends_after_persist() -> None:
    # A follower acknowledges an append, then becomes the single voter and leader
    # before the Ready is taken: the acknowledgement still claims durability.
    st = MemoryStorage()
    node = RawNode(Config(id=1, storage=st, rng=random.Random(1)), peers=[1, 2])
    settle(node, st)
    node.step(
        Message(
            MessageType.APP,
            to=1,
            frm=2,
            term=2,
            index=2,
            log_term=1,
            entries=[Entry(term=2, index=3, data=b"x")],
            commit=2,
        )
    )
    node.apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 2))
    node.campaign()
    assert node.status().role is Role.LEADER
    rd = node.ready()
    assert any(m.type == MessageType.APP_RESP for m in rd.messages)
    assert not rd.send_before_persist


def test_propose_without_leader_is_dropped() -> None:
    st = MemoryStorage()
    node = RawNode(Config(id=1, storage=st), peers=[1, 2, 3])
    settle(node, st)
    with pytest.raises(ProposalDropped, match="no leader"):
        node.propose(b"x")
    with pytest.raises(ProposalDropped):
        node.read_index(b"ctx")


def test_forwarded_proposal_dropped_silently() -> None:
    node, _ = three_member_leader()
    node.transfer_leader(2)
    # A follower's forwarded proposal arriving during the transfer is dropped without
    # raising into the server's receive path.
    node.step(Message(MessageType.PROP, to=1, frm=3, entries=[Entry(data=b"x")]))


def test_local_message_types_cannot_come_from_peers() -> None:
    node, _ = single()
    for t in (MessageType.HUP, MessageType.BEAT, MessageType.CHECK_QUORUM):
        with pytest.raises(RaftError, match="local"):
            node.step(Message(t, to=1, frm=2))


def test_read_index_through_ready() -> None:
    node, st = single()
    node.campaign()
    settle(node, st)
    node.read_index(b"q1")
    rd = node.ready()
    assert [(s.index, s.request_ctx) for s in rd.read_states] == [(st.last_index(), b"q1")]
    node.advance(rd)
    assert not node.has_ready()


def test_status_reports_progress_on_leader() -> None:
    node, _ = three_member_leader()
    st = node.status()
    assert (st.id, st.role, st.lead, st.vote) == (1, Role.LEADER, 1, 1)
    assert set(st.progress) == {1, 2, 3} and st.progress[1].match == st.progress[1].next - 1
    node.report_unreachable(2)
    node.report_snapshot(3, failed=True)  # not in snapshot state: ignored
    assert node.status().progress[3].state == st.progress[3].state


def test_restart_resumes_where_it_stopped() -> None:
    node, st = three_member_leader()
    settle(node, st)
    node.propose(b"a")
    node.propose(b"b")
    rd = node.ready()
    persist(node, st, rd)
    node.advance(rd)
    for peer in (2, 3):
        node.step(
            Message(
                MessageType.APP_RESP, to=1, frm=peer, term=node.status().term, index=st.last_index()
            )
        )
    applied = [e for r in settle(node, st) for e in r.committed_entries]
    before = node.status()
    assert [e.data for e in applied][-2:] == [b"a", b"b"]
    # Rebuild from "disk": a snapshot at index 3 plus the entries after it.
    snap = st.create_snapshot(3, ConfState([1, 2, 3]), b"state@3")
    disk = MemoryStorage()
    disk.apply_snapshot(snap)
    disk.set_hard_state(HardState(before.term, before.vote, before.commit))
    disk.append(st.entries(4, st.last_index() + 1))
    again = RawNode(Config(id=1, storage=disk, applied=3, rng=random.Random(1)))
    st2 = again.status()
    assert (st2.term, st2.vote, st2.commit, st2.applied) == (
        before.term,
        before.vote,
        before.commit,
        3,
    )
    assert st2.role is Role.FOLLOWER
    rd = again.ready()
    assert rd.hard_state is None  # nothing new to persist
    assert [e.index for e in rd.committed_entries] == list(range(4, before.commit + 1))
    assert rd.entries == [] and not rd.must_sync


def test_snapshot_is_deferred_while_committed_entries_are_applied() -> None:
    # Found by the simulation: a MsgSnap arriving between ready() and advance() must not
    # replace the configuration while the server applies older conf changes.
    st = MemoryStorage()
    node = RawNode(Config(id=3, storage=st, rng=random.Random(3)))
    add2 = ConfChange(ConfChangeType.ADD_NODE, 2).encode()
    node.step(
        Message(
            MessageType.APP,
            to=3,
            frm=1,
            term=2,
            index=0,
            log_term=0,
            commit=2,
            entries=[
                Entry(
                    term=2,
                    index=1,
                    type=EntryType.CONF_CHANGE,
                    data=ConfChange(ConfChangeType.ADD_NODE, 1).encode(),
                ),
                Entry(term=2, index=2, type=EntryType.CONF_CHANGE, data=add2),
            ],
        )
    )
    rd = node.ready()
    assert [e.index for e in rd.committed_entries] == [1, 2]
    snap = Snapshot(SnapshotMetadata(9, 2, ConfState([1, 3])), b"s")  # 2 removed later
    node.step(Message(MessageType.SNAP, to=3, frm=1, term=2, snapshot=snap))
    persist(node, st, rd)
    node.advance(rd)
    assert node.raft.trk.conf_state() == ConfState([1, 2])
    # Sent again once the batch is applied, it is installed.
    node.step(Message(MessageType.SNAP, to=3, frm=1, term=2, snapshot=snap))
    rd = node.ready()
    assert rd.snapshot is snap and node.raft.trk.conf_state() == ConfState([1, 3])


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"id": 0}, "id is 0"),
        ({"heartbeat_tick": 0}, "heartbeat_tick"),
        ({"election_tick": 1}, "election_tick"),
        ({"max_inflight_msgs": 0}, "max_inflight_msgs"),
        ({"storage": None}, "storage"),
    ],
)
def test_config_errors_are_one_clear_sentence(kw: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = {"id": 1, "storage": MemoryStorage()}
    args.update(kw)
    with pytest.raises(ConfigError, match=fragment) as exc:
        RawNode(Config(**args))  # type: ignore[arg-type]
    message = str(exc.value)
    assert message.endswith(".") and "\n" not in message


def test_corrupt_hard_state_is_reported() -> None:
    st = MemoryStorage()
    st.append([Entry(term=1, index=1)])
    st.set_hard_state(HardState(term=1, vote=0, commit=5))
    with pytest.raises(RaftError, match="commit index 5 is out of range"):
        RawNode(Config(id=1, storage=st))


def test_no_log_lines_below_info_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="etcdpy.raft")
    node, st = single()
    node.campaign()
    settle(node, st)
    assert any("became leader at term 2" in r.getMessage() for r in caplog.records)
