"""Elections: timeouts, vote rules, pre-vote and check-quorum (etcd's raft_test.go)."""

from __future__ import annotations

import pytest

from etcdpy.raft.core import Raft
from etcdpy.raft.state import Role
from etcdpy.raft.types import Entry, Message, MessageType

from .netutil import Network, ents_with_terms, new_raft, storage_with

BH = Network.BLACK_HOLE
HUP = MessageType.HUP
FOLLOWER, CANDIDATE, LEADER, PRE_CANDIDATE = (
    Role.FOLLOWER,
    Role.CANDIDATE,
    Role.LEADER,
    Role.PRE_CANDIDATE,
)


@pytest.mark.parametrize("pre_vote", [False, True])
@pytest.mark.parametrize(
    ("peers", "role", "term"),
    [
        ([None, None, None], LEADER, 1),
        ([None, None, BH], LEADER, 1),
        ([None, BH, BH], CANDIDATE, 1),
        ([None, BH, BH, None], CANDIDATE, 1),
        ([None, BH, BH, None, None], LEADER, 1),
    ],
)
def test_leader_election(peers: list[object], role: Role, term: int, pre_vote: bool) -> None:
    net = Network(list(peers), pre_vote=pre_vote)
    net.campaign(1)
    r = net[1]
    if pre_vote and role is CANDIDATE:
        # Without a quorum of pre-votes the term never moves.
        assert (r.state, r.term) == (PRE_CANDIDATE, 0)
    else:
        assert (r.state, r.term) == (role, term)


def test_randomized_election_timeout_range() -> None:
    r = new_raft(1, election=10)
    seen = set()
    for _ in range(500):
        r.become_follower(r.term + 1, 0)
        seen.add(r.randomized_election_timeout)
    # etcd: [T, 2T-1]; every value is reachable.
    assert seen == set(range(10, 20))


def test_follower_campaigns_after_randomized_timeout() -> None:
    r = new_raft(1, election=10)
    timeout = r.randomized_election_timeout
    for _ in range(timeout - 1):
        r.tick()
    assert r.state is FOLLOWER
    r.tick()
    assert r.state is CANDIDATE and r.term == 1


def test_leader_cycle() -> None:
    for pre_vote in (False, True):
        net = Network([None, None, None], pre_vote=pre_vote)
        for campaigner in (1, 2, 3):
            net.campaign(campaigner)
            for i in (1, 2, 3):
                expect = LEADER if i == campaigner else FOLLOWER
                assert net[i].state is expect, (pre_vote, campaigner, i)


def test_election_overwrites_newer_logs() -> None:
    # 1 and 2 hold an entry of term 1, 3 one of term 2 (it won term 2 with the votes
    # of 4 and 5, who got no entries). 1 loses term 2 (4 and 5 voted), wins term 3 and
    # its log overwrites 3's uncommitted entry.
    def member(node_id: int, term: int, vote: int, terms: list[int]) -> Raft:
        ids = [1, 2, 3, 4, 5]
        r = new_raft(node_id, ids, storage=storage_with(ids, ents_with_terms(*terms)))
        r.term = term
        r.vote = vote
        return r

    peers: list[object] = [
        member(1, 1, 0, [1]),
        member(2, 1, 0, [1]),
        member(3, 2, 0, [2]),
        member(4, 2, 3, []),
        member(5, 2, 3, []),
    ]
    net = Network(peers)
    net.campaign(1)
    assert net[1].state is FOLLOWER and net[1].term == 2
    net.campaign(1)
    assert net[1].state is LEADER and net[1].term == 3
    for i in range(1, 6):
        r = net[i]
        assert r.log.last_index() == 2 and r.log.term(1) == 1 and r.log.term(2) == 3, i


@pytest.mark.parametrize("vote_type", [MessageType.VOTE, MessageType.PRE_VOTE])
@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE, PRE_CANDIDATE, LEADER])
def test_vote_from_any_state(vote_type: MessageType, role: Role) -> None:
    r = new_raft(1)
    r.term = 1
    if role is FOLLOWER:
        r.become_follower(r.term, 3)
    elif role is PRE_CANDIDATE:
        r.become_pre_candidate()
    elif role is CANDIDATE:
        r.become_candidate()
    else:
        r.become_candidate()
        r.become_leader()
    r.read_messages()
    orig_term = r.term
    new_term = r.term + 1
    r.step(Message(vote_type, to=1, frm=2, term=new_term, log_term=new_term, index=42))
    msgs = r.read_messages()
    assert len(msgs) == 1
    resp = msgs[0]
    assert resp.type == (
        MessageType.VOTE_RESP if vote_type == MessageType.VOTE else MessageType.PRE_VOTE_RESP
    )
    assert not resp.reject and resp.term == new_term
    if vote_type == MessageType.VOTE:
        assert (r.state, r.term, r.vote) == (FOLLOWER, new_term, 2)
    else:
        # A pre-vote never changes the voter's state.
        assert r.term == orig_term and r.state is role


@pytest.mark.parametrize(
    ("index", "log_term", "vote_for", "reject"),
    [
        # Our log: terms 2 at index 1 and 2. The candidate must be at least as up to date.
        (0, 0, 0, True),
        (0, 1, 0, True),
        (0, 2, 0, True),
        (0, 3, 0, False),
        (1, 0, 0, True),
        (1, 1, 0, True),
        (1, 2, 0, True),
        (1, 3, 0, False),
        (2, 0, 0, True),
        (2, 1, 0, True),
        (2, 2, 0, False),
        (2, 3, 0, False),
        (3, 0, 0, True),
        (3, 1, 0, True),
        (3, 2, 0, False),
        (3, 3, 0, False),
        # Already voted: only the same candidate again.
        (3, 2, 2, False),
        (3, 2, 1, True),
        (3, 3, 1, True),
    ],
)
def test_recv_vote_rules(index: int, log_term: int, vote_for: int, reject: bool) -> None:
    for vote_type in (MessageType.VOTE, MessageType.PRE_VOTE):
        st = storage_with([1, 2], [Entry(term=2, index=1), Entry(term=2, index=2)])
        r = new_raft(1, [1, 2], storage=st)
        r.vote = vote_for
        r.step(Message(vote_type, to=1, frm=2, term=0, index=index, log_term=log_term))
        msgs = r.read_messages()
        assert len(msgs) == 1 and msgs[0].reject is reject, (vote_type, index, log_term)


def test_dueling_candidates() -> None:
    a, b, c = new_raft(1), new_raft(2), new_raft(3)
    net = Network([a, b, c])
    net.cut(1, 3)
    net.campaign(1)
    net.campaign(3)
    # 1 won with 2's vote; 3 lost (2 already voted at term 1).
    assert a.state is LEADER and c.state is CANDIDATE
    net.recover()
    # 3 campaigns at term 2; its log is shorter than 1's and 2's, so it loses.
    net.campaign(3)
    assert (a.state, a.term) == (FOLLOWER, 2)
    assert (b.state, b.term) == (FOLLOWER, 2)
    assert (c.state, c.term) == (FOLLOWER, 2)
    assert a.log.committed == 1 and c.log.committed == 0 and c.log.last_index() == 0


def test_dueling_pre_candidates() -> None:
    a, b, c = (new_raft(i, pre_vote=True) for i in (1, 2, 3))
    net = Network([a, b, c])
    net.cut(1, 3)
    net.campaign(1)
    net.campaign(3)
    assert a.state is LEADER and c.state is FOLLOWER
    net.recover()
    # 3's pre-vote fails (shorter log): it does not disrupt the term.
    net.campaign(3)
    assert (a.state, a.term) == (LEADER, 1)
    assert (c.state, c.term) == (FOLLOWER, 1)


def test_candidate_concede() -> None:
    net = Network([None, None, None])
    net.isolate(1)
    net.campaign(1)
    net.campaign(3)
    net.recover()
    net.beat(3)  # 1 learns of the leader of the same term and concedes
    net.propose(3, b"force follower")
    net.beat(3)
    assert net[1].state is FOLLOWER and net[1].term == 1
    assert [e.data for e in net[1].log.entries(1)] == [b"", b"force follower"]


def test_single_node_candidate_and_commit() -> None:
    net = Network([None])
    net.campaign(1)
    assert net[1].state is LEADER
    net.propose(1)
    net.propose(1)
    assert net[1].log.committed == 3


def test_step_ignores_old_term_messages() -> None:
    r = new_raft(1)
    r.term = 2
    r.step(Message(MessageType.APP, to=1, frm=2, term=1))
    assert r.state is FOLLOWER and r.term == 2 and r.lead == 0


@pytest.mark.parametrize("msg_type", [MessageType.APP, MessageType.HEARTBEAT])
def test_candidate_resets_on_append_of_same_term(msg_type: MessageType) -> None:
    a, b, c = new_raft(1), new_raft(2), new_raft(3)
    net = Network([a, b, c])
    net.campaign(1)
    net.isolate(3)
    net.propose(1)
    net.recover()
    for _ in range(2 * c.election_timeout):
        c.tick()
    c.read_messages()
    assert c.state is CANDIDATE
    c.step(Message(msg_type, to=3, frm=1, term=c.term))
    assert c.state is FOLLOWER and c.lead == 1


@pytest.mark.parametrize(
    "msg_type", [MessageType.VOTE, MessageType.APP, MessageType.HEARTBEAT, MessageType.SNAP]
)
def test_all_roles_step_down_on_higher_term(msg_type: MessageType) -> None:
    for role in (FOLLOWER, CANDIDATE, LEADER):
        r = new_raft(1)
        if role is CANDIDATE:
            r.become_candidate()
        elif role is LEADER:
            r.become_candidate()
            r.become_leader()
        r.step(Message(msg_type, to=1, frm=2, term=3, log_term=3, index=3))
        assert r.state is FOLLOWER and r.term == 3, (role, msg_type)
        expect_lead = 0 if msg_type == MessageType.VOTE else 2
        assert r.lead == expect_lead


def test_check_quorum_leader_steps_down_when_quorum_lost() -> None:
    a, b, c = (new_raft(i, check_quorum=True) for i in (1, 2, 3))
    net = Network([a, b, c])
    net.campaign(1)
    assert a.state is LEADER
    net.isolate(1)
    # The first check marks everyone inactive; the next one finds no quorum.
    for _ in range(a.election_timeout):
        a.tick()
    assert a.state is LEADER
    for _ in range(a.election_timeout):
        a.tick()
    assert a.state is FOLLOWER


def test_check_quorum_leader_stays_when_quorum_active() -> None:
    a, b, c = (new_raft(i, check_quorum=True) for i in (1, 2, 3))
    net = Network([a, b, c])
    net.campaign(1)
    for _ in range(3 * a.election_timeout):
        a.tick()
        net.send(*net.filter(a.read_messages()))
    assert a.state is LEADER


def test_check_quorum_lease_ignores_disruptive_vote() -> None:
    a, b, c = (new_raft(i, check_quorum=True) for i in (1, 2, 3))
    for r in (a, b, c):
        r.randomized_election_timeout = r.election_timeout + 1
    net = Network([a, b, c])
    net.campaign(1)
    assert a.state is LEADER
    # 3 times out and campaigns; 2 just heard from the leader and refuses.
    for _ in range(c.randomized_election_timeout):
        c.tick()
    net.send(*net.filter(c.read_messages()))
    assert a.state is LEADER and c.state is CANDIDATE and b.term == 1
    # Once 2's own lease expired too, 3 wins a new term.
    for _ in range(b.election_timeout):
        b.tick()
    b.read_messages()
    net.campaign(3)
    assert c.state is LEADER and c.term == 3


def test_free_stuck_candidate_with_check_quorum() -> None:
    a, b, c = (new_raft(i, check_quorum=True) for i in (1, 2, 3))
    for r in (a, b, c):
        r.randomized_election_timeout = r.election_timeout + 1
    net = Network([a, b, c])
    net.campaign(1)
    net.isolate(1)
    for _ in range(b.election_timeout + 1):
        b.tick()
    b.read_messages()
    net.campaign(3)
    assert c.state is CANDIDATE and c.term == 2
    net.campaign(3)
    assert c.term == 3
    net.recover()
    # The old leader's heartbeat is answered with 3's higher term: 1 steps down and
    # then 3 can win.
    net.beat(1)
    assert a.state is FOLLOWER and a.term == c.term
    net.campaign(3)
    assert c.state is LEADER


def test_non_promotable_member_with_check_quorum() -> None:
    a = new_raft(1, [1, 2], check_quorum=True)
    b = new_raft(2, [1], check_quorum=True)  # 2 is not in its own configuration
    net = Network([a, b])
    b.randomized_election_timeout = b.election_timeout + 1
    for _ in range(b.election_timeout):
        b.tick()
    net.campaign(1)
    assert a.state is LEADER and b.state is FOLLOWER and b.lead == 1
    for _ in range(5 * b.election_timeout):
        b.tick()
    assert b.state is FOLLOWER  # never campaigns


def test_pre_vote_rejoining_member_does_not_disrupt() -> None:
    # Pitfall P6: a member partitioned away keeps timing out; with pre-vote its term
    # never grows, so rejoining does not depose the leader.
    a, b, c = (new_raft(i, pre_vote=True, check_quorum=True) for i in (1, 2, 3))
    net = Network([a, b, c])
    net.campaign(1)
    net.isolate(3)
    for _ in range(5):
        net.campaign(3)
    assert c.term == 1 and c.state is PRE_CANDIDATE
    net.recover()
    net.beat(1)
    net.propose(1)
    assert a.state is LEADER and a.term == 1
    assert c.state is FOLLOWER and c.log.committed == a.log.committed


def test_without_pre_vote_rejoining_member_disrupts() -> None:
    a, b, c = (new_raft(i, check_quorum=True) for i in (1, 2, 3))
    net = Network([a, b, c])
    net.campaign(1)
    net.isolate(3)
    net.campaign(3)
    net.campaign(3)
    assert c.term == 3
    net.recover()
    net.beat(1)  # answered with term 3: the leader steps down
    assert a.state is FOLLOWER and a.term == 3


def test_pre_vote_with_split_vote() -> None:
    a, b, c = (new_raft(i, pre_vote=True) for i in (1, 2, 3))
    net = Network([a, b, c])
    net.campaign(1)
    net.isolate(1)
    # 2 and 3 both pre-win then split the real vote of term 2.
    net.cut(2, 3)
    net.campaign(2)
    net.campaign(3)
    assert b.state is PRE_CANDIDATE and c.state is PRE_CANDIDATE
    net.recover()
    net.isolate(1)
    net.campaign(2)
    assert b.state is LEADER and b.term == 2
    assert c.state is FOLLOWER


def test_pre_candidate_with_lower_term_gets_answer() -> None:
    # A pre-vote from a lower term is rejected with our term, so the sender catches up
    # instead of being stuck (etcd #8243).
    r = new_raft(1)
    r.term = 5
    r.step(Message(MessageType.PRE_VOTE, to=1, frm=2, term=3, index=10, log_term=3))
    msgs = r.read_messages()
    assert len(msgs) == 1
    assert msgs[0].type == MessageType.PRE_VOTE_RESP and msgs[0].reject and msgs[0].term == 5


def test_leader_answers_stale_append_with_its_term() -> None:
    r = new_raft(1, check_quorum=True)
    r.term = 5
    r.step(Message(MessageType.APP, to=1, frm=2, term=3))
    msgs = r.read_messages()
    assert [(m.type, m.term) for m in msgs] == [(MessageType.APP_RESP, 5)]


def test_campaign_while_leader_is_noop() -> None:
    r = new_raft(1, [1])
    r.step(Message(HUP, frm=1))
    assert r.state is LEADER
    term = r.term
    r.step(Message(HUP, frm=1))
    assert r.state is LEADER and r.term == term


def test_state_transition_guards() -> None:
    r = new_raft(1)
    r.become_candidate()
    r.become_leader()
    with pytest.raises(Exception, match="leader -> candidate"):
        r.become_candidate()
    f = new_raft(2)
    with pytest.raises(Exception, match="follower -> leader"):
        f.become_leader()
