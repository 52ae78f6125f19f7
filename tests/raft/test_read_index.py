"""ReadIndex (ReadOnlySafe) and leader transfer (etcd's raft_test.go)."""

from __future__ import annotations

import pytest

from etcdpy.raft.errors import ProposalDropped
from etcdpy.raft.state import Role
from etcdpy.raft.types import Entry, Message, MessageType

from .netutil import Network, new_raft

READ_INDEX = MessageType.READ_INDEX
TRANSFER = MessageType.TRANSFER_LEADER


def read(net: Network, member: int, ctx: bytes) -> None:
    net.send(Message(READ_INDEX, to=member, frm=member, entries=[Entry(data=ctx)]))


def test_read_index_on_leader_and_followers() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    for i, member in enumerate((1, 2, 3, 1, 2)):
        net.propose(1, b"w%d" % i)
        ctx = b"ctx%d" % i
        read(net, member, ctx)
        r = net[member]
        assert [(s.index, s.request_ctx) for s in r.read_states] == [(net[1].log.committed, ctx)]
        r.read_states = []


def test_read_index_needs_heartbeat_quorum() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.isolate(1)
    read(net, 1, b"lonely")
    # A deposed leader could be serving stale data: no answer without a quorum.
    assert net[1].read_states == []
    net.recover()
    net.beat(1)  # the heartbeat carries the pending context; acks arrive now
    assert [s.request_ctx for s in net[1].read_states] == [b"lonely"]


def test_later_ack_answers_earlier_requests() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.ignore(MessageType.HEARTBEAT_RESP)
    read(net, 1, b"a")
    read(net, 1, b"b")
    assert net[1].read_states == []
    net.recover()
    net.beat(1)  # heartbeats carry the last context; its quorum answers both
    assert [s.request_ctx for s in net[1].read_states] == [b"a", b"b"]


def test_single_member_answers_at_once() -> None:
    net = Network([None])
    net.campaign(1)
    read(net, 1, b"solo")
    assert [(s.index, s.request_ctx) for s in net[1].read_states] == [(1, b"solo")]


def test_new_leader_defers_read_index_until_it_commits() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.ignore(MessageType.APP_RESP)
    net.campaign(2)
    leader = net[2]
    assert leader.state is Role.LEADER and not leader._committed_entry_in_current_term()
    read(net, 2, b"early")
    assert leader.read_states == [] and len(leader.pending_read_index) == 1
    net.recover()
    net.beat(2)  # acks of the no-op commit it; the held request goes out then
    assert leader._committed_entry_in_current_term()
    assert [(s.index, s.request_ctx) for s in leader.read_states] == [
        (leader.log.committed, b"early")
    ]


def test_read_index_dropped_without_leader() -> None:
    r = new_raft(1)
    with pytest.raises(ProposalDropped):
        r.step(Message(READ_INDEX, entries=[Entry(data=b"x")]))
    r.become_candidate()
    with pytest.raises(ProposalDropped):
        r.step(Message(READ_INDEX, entries=[Entry(data=b"x")]))


def test_malformed_read_index_response_is_ignored() -> None:
    r = new_raft(1)
    r.become_follower(1, 2)
    r.step(Message(MessageType.READ_INDEX_RESP, to=1, frm=2, term=1, index=5))
    assert r.read_states == []


# -- leader transfer ------------------------------------------------------------------


def transfer(net: Network, via: int, to: int) -> None:
    net.send(Message(TRANSFER, to=via, frm=to))


@pytest.mark.parametrize("check_quorum", [False, True])
def test_transfer_to_up_to_date_member(check_quorum: bool) -> None:
    net = Network([None, None, None], check_quorum=check_quorum, pre_vote=True)
    net.campaign(1)
    transfer(net, 1, 2)
    assert net[2].state is Role.LEADER and net[2].term == 2
    assert net[1].state is Role.FOLLOWER and net[1].lead == 2
    # Back again, asked through a follower.
    net.propose(2)
    transfer(net, 3, 1)
    assert net[1].state is Role.LEADER and net[1].term == 3


def test_transfer_to_slow_follower_waits_for_catch_up() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.isolate(3)
    net.propose(1)
    net.propose(1)
    net.recover()
    leader = net[1]
    assert leader.trk.progress[3].match != leader.log.last_index()
    transfer(net, 1, 3)
    assert net[3].state is Role.LEADER
    assert any(m.type == MessageType.TIMEOUT_NOW for m in net.delivered)


def test_transfer_to_self_or_unknown_member_is_ignored() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    transfer(net, 1, 1)
    assert net[1].state is Role.LEADER and net[1].lead_transferee == 0
    transfer(net, 1, 9)
    assert net[1].state is Role.LEADER and net[1].lead_transferee == 0


def test_transfer_times_out_and_drops_proposals_meanwhile() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.isolate(3)
    leader = net[1]
    transfer(net, 1, 3)
    assert leader.lead_transferee == 3
    with pytest.raises(ProposalDropped, match="transferring leadership"):
        leader.propose_data([b"x"])
    for _ in range(leader.heartbeat_timeout):
        leader.tick()
    assert leader.lead_transferee == 3
    for _ in range(leader.election_timeout - leader.heartbeat_timeout):
        leader.tick()
    assert leader.lead_transferee == 0 and leader.state is Role.LEADER
    leader.propose_data([b"x"])


def test_second_transfer_replaces_or_repeats() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.isolate(3)
    leader = net[1]
    transfer(net, 1, 3)
    elapsed = leader.election_elapsed
    leader.tick()
    transfer(net, 1, 3)  # same target: the timer is not reset
    assert leader.lead_transferee == 3 and leader.election_elapsed == elapsed + 1
    net.recover()
    net.isolate(3)
    transfer(net, 1, 2)  # another target: aborts the first and succeeds
    assert net[2].state is Role.LEADER


def test_transfer_campaign_ignores_lease_and_pre_vote() -> None:
    net = Network([None, None, None], check_quorum=True, pre_vote=True)
    net.campaign(1)
    net.delivered.clear()
    net.send(Message(MessageType.TIMEOUT_NOW, to=2, frm=1, term=1))
    # 3 heard from 1 a moment ago but still votes: the leader asked for this.
    assert net[2].state is Role.LEADER and net[2].term == 2
    votes = [m for m in net.delivered if m.type == MessageType.VOTE]
    assert votes and all(m.context == b"CampaignTransfer" for m in votes)
    assert not any(m.type == MessageType.PRE_VOTE for m in net.delivered)


def test_candidate_ignores_timeout_now() -> None:
    r = new_raft(1)
    r.become_candidate()
    term = r.term
    r.step(Message(MessageType.TIMEOUT_NOW, to=1, frm=2, term=term))
    assert r.state is Role.CANDIDATE and r.term == term
