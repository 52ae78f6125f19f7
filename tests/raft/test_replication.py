"""Log replication, commit rules, back-off and flow control (etcd's raft_test.go,
raft_paper_test.go and raft_flow_control_test.go)."""

from __future__ import annotations

import pytest

from etcdpy.raft.errors import ProposalDropped
from etcdpy.raft.progress import PROBE, REPLICATE
from etcdpy.raft.state import Role
from etcdpy.raft.types import Entry, Message, MessageType

from .netutil import Network, ents_with_terms, new_raft, persist, storage_with

APP = MessageType.APP
APP_RESP = MessageType.APP_RESP
PROP = MessageType.PROP


def leader_of_3(**kw: object) -> tuple[Network, object]:
    net = Network([None, None, None], **kw)
    net.campaign(1)
    return net, net[1]


def test_log_replication_and_commit() -> None:
    net, _ = leader_of_3()
    net.propose(1, b"a")
    net.campaign(2)
    net.propose(1, b"b")  # forwarded by 1 (now a follower) to the leader 2
    for i in (1, 2, 3):
        r = net[i]
        data = [e.data for e in r.log.entries(1) if e.data]
        assert data == [b"a", b"b"], i
        assert r.log.committed == 4  # two no-ops (terms 1 and 2) and two proposals


def test_proposal_by_proxy_and_dropped_without_leader() -> None:
    net, _ = leader_of_3()
    net.propose(2, b"via follower")
    assert net[1].log.committed == 2
    assert net[3].log.entries(2)[0].data == b"via follower"
    lone = new_raft(1)
    with pytest.raises(ProposalDropped, match="no leader"):
        lone.step(Message(PROP, frm=1, entries=[Entry(data=b"x")]))
    lone.become_candidate()
    with pytest.raises(ProposalDropped, match="campaigning"):
        lone.propose_data([b"x"])


def test_cannot_commit_entries_of_older_term_by_counting() -> None:
    # Raft §5.4.2: a leader only commits entries of its own term by counting replicas.
    net = Network([None, None, None, None, None])
    net.campaign(1)
    net.cut(1, 3)
    net.cut(1, 4)
    net.cut(1, 5)
    net.propose(1)
    net.propose(1)
    assert net[1].log.committed == 1  # only its no-op, committed before the cut
    net.recover()
    net.ignore(APP)  # 2 will not replicate anything
    net.campaign(2)
    assert net[2].state is Role.LEADER and net[2].term == 2
    # 2 holds the term-1 entries 2 and 3 (from 1) but may not commit them yet.
    assert net[2].log.committed == 1
    net.recover()
    net.beat(2)
    net.propose(2)
    assert net[2].log.committed == 5  # its own entry commits the older ones too


def test_commit_rule_matrix() -> None:
    # (matches, log terms, leader term) -> commit index.
    cases = [
        ([1], [1], 1, 1),
        ([1], [1], 2, 0),
        ([2], [1, 2], 2, 2),
        ([1], [2], 2, 1),
        ([2, 1, 1], [1, 2], 1, 1),
        ([2, 1, 1], [1, 1], 2, 0),
        ([2, 1, 2], [1, 2], 2, 2),
        ([2, 1, 2], [1, 1], 2, 0),
        ([2, 1, 1, 1], [1, 2], 1, 1),
        ([2, 1, 1, 1], [1, 1], 2, 0),
        ([2, 1, 1, 2], [1, 2], 1, 1),
        ([2, 1, 1, 2], [1, 1], 2, 0),
        ([2, 1, 2, 2], [1, 2], 2, 2),
        ([2, 1, 2, 2], [1, 1], 2, 0),
    ]
    for matches, terms, term, want in cases:
        ids = list(range(1, len(matches) + 1))
        r = new_raft(1, ids, storage=storage_with(ids, ents_with_terms(*terms)))
        r.term = term
        for i, m in zip(ids, matches, strict=True):
            r.trk.progress[i].match = m
            r.trk.progress[i].next = m + 1
        r._maybe_commit()
        assert r.log.committed == want, (matches, terms, term)


def test_follower_handles_append() -> None:
    # (index, log_term, commit, entries) on a log with terms [1, 2]:
    # -> (our last index, our commit, rejected)
    cases = [
        ((2, 3, 2, []), (2, 0, True)),  # previous entry mismatch
        ((3, 3, 3, []), (2, 0, True)),  # beyond our log
        ((1, 1, 1, []), (2, 1, False)),
        ((0, 0, 1, [(1, 2)]), (1, 1, False)),  # conflict replaces entry 1
        ((2, 2, 3, [(3, 2), (4, 2)]), (4, 3, False)),
        ((2, 2, 4, [(3, 2)]), (3, 3, False)),
        ((1, 1, 4, [(2, 2)]), (2, 2, False)),
        ((1, 1, 3, []), (2, 1, False)),  # commit capped by the last new entry
        ((2, 2, 2, []), (2, 2, False)),
    ]
    for (index, log_term, commit, ents), (last, committed, reject) in cases:
        r = new_raft(1, [1], storage=storage_with([1], ents_with_terms(1, 2)))
        r.become_follower(2, 0)
        entries = [Entry(term=t, index=i) for i, t in ents]
        r.step(
            Message(
                APP,
                to=1,
                frm=2,
                term=2,
                index=index,
                log_term=log_term,
                commit=commit,
                entries=entries,
            )
        )
        msgs = r.read_messages()
        assert (r.log.last_index(), r.log.committed) == (last, committed), (index, log_term)
        assert len(msgs) == 1 and msgs[0].reject is reject


def test_rejection_hint_skips_a_term() -> None:
    # Follower log: terms 1 1 3 3 3 3 (indexes 1..6). The leader probes at 7 with
    # log term 5 (its own entries there are of term 5).
    r = new_raft(1, [1, 2], storage=storage_with([1, 2], ents_with_terms(1, 1, 3, 3, 3, 3)))
    r.become_follower(6, 2)
    r.step(Message(APP, to=1, frm=2, term=6, index=7, log_term=5))
    (resp,) = r.read_messages()
    assert resp.reject and resp.index == 7
    # The hint is our last index whose term is <= 5: 6 (term 3).
    assert (resp.reject_hint, resp.log_term) == (6, 3)
    r.step(Message(APP, to=1, frm=2, term=6, index=6, log_term=2))
    (resp,) = r.read_messages()
    # Every entry of term 3 is skipped at once: probe at 2 (term 1).
    assert (resp.reject_hint, resp.log_term) == (2, 1)


def test_leader_backs_off_a_term_per_round_trip() -> None:
    # Leader log: 1 1 2 2 2 4 4 4 (+ its no-op of term 5); follower: 1 1 3 3 3 3 3.
    ids = [1, 2]
    leader = new_raft(1, ids, storage=storage_with(ids, ents_with_terms(1, 1, 2, 2, 2, 4, 4, 4)))
    follower = new_raft(2, ids, storage=storage_with(ids, ents_with_terms(1, 1, 3, 3, 3, 3, 3)))
    leader.term = 4
    follower.term = 4
    net = Network([leader, follower])
    net.campaign(1)
    assert leader.state is Role.LEADER
    rejections = [m for m in net.delivered if m.type == APP_RESP and m.reject]
    # Probe at 8 (term 4) -> follower hints (7, term 3) -> leader skips its term-4
    # entries and probes 5 (term 2) -> follower hints (2, term 1) -> match at 2.
    assert [(m.reject_hint, m.log_term) for m in rejections] == [(7, 3), (2, 1)]
    assert follower.log.last_index() == leader.log.last_index() == 9
    assert [follower.log.term(i) for i in range(1, 10)] == [1, 1, 2, 2, 2, 4, 4, 4, 5]


def test_heartbeat_carries_commit_capped_by_match() -> None:
    net, leader = leader_of_3()
    net.propose(1)
    net.propose(1)
    leader.trk.progress[2].match = 1
    leader.read_messages()
    leader._bcast_heartbeat()
    hbs = {m.to: m for m in leader.read_messages()}
    assert hbs[2].commit == 1 and hbs[3].commit == 3


def test_follower_commits_from_heartbeat() -> None:
    r = new_raft(1, [1, 2], storage=storage_with([1, 2], ents_with_terms(1, 2, 3)))
    r.become_follower(2, 2)
    r.step(Message(MessageType.HEARTBEAT, to=1, frm=2, term=2, commit=3, context=b"ctx"))
    assert r.log.committed == 3
    (resp,) = r.read_messages()
    assert resp.type == MessageType.HEARTBEAT_RESP and resp.context == b"ctx"
    r.step(Message(MessageType.HEARTBEAT, to=1, frm=2, term=2, commit=1))
    assert r.log.committed == 3  # never backwards


def test_heartbeat_response_resends_to_lagging_follower() -> None:
    net, leader = leader_of_3()
    net.isolate(2)
    net.propose(1)
    leader.read_messages()
    leader.step(Message(MessageType.HEARTBEAT_RESP, to=1, frm=2, term=1))
    msgs = leader.read_messages()
    assert [m.type for m in msgs] == [APP] and msgs[0].to == 2


def test_flow_control_inflight_window() -> None:
    r = new_raft(1, [1, 2], max_inflight_msgs=3)
    r.become_candidate()
    r.become_leader()
    r.read_messages()
    pr = r.trk.progress[2]
    pr.become_replicate()
    for i in range(5):
        r.propose_data([b"x%d" % i])
        r.flush_broadcast()
    apps = [m for m in r.read_messages() if m.type == APP]
    assert len(apps) == 3 and pr.inflights.full()
    # Acknowledging the first frees one slot and lets one more message out.
    r.step(Message(APP_RESP, to=1, frm=2, term=r.term, index=apps[0].entries[-1].index))
    more = [m for m in r.read_messages() if m.type == APP]
    assert len(more) == 1 and [e.data for e in more[0].entries] == [b"x3", b"x4"]
    # A heartbeat response frees one slot of a full window.
    r.propose_data([b"y"])
    r.flush_broadcast()
    assert pr.inflights.full()
    assert [m for m in r.read_messages() if m.type == APP] == []
    r.step(Message(MessageType.HEARTBEAT_RESP, to=1, frm=2, term=r.term))
    assert [m.type for m in r.read_messages()] == [APP]


def test_max_size_per_msg_splits_appends() -> None:
    r = new_raft(1, [1, 2], max_size_per_msg=100)
    r.become_candidate()
    r.become_leader()
    r.read_messages()
    r.trk.progress[2].become_replicate()
    r.propose_data([b"x" * 100 for _ in range(4)])
    r.flush_broadcast()
    r.step(Message(MessageType.HEARTBEAT_RESP, to=1, frm=2, term=r.term))
    apps = [m for m in r.read_messages() if m.type == APP]
    assert len(apps) >= 2
    assert all(len(m.entries) <= 1 for m in apps)


def test_probe_state_sends_one_append_until_answered() -> None:
    r = new_raft(1, [1, 2])
    r.become_candidate()
    r.become_leader()
    pr = r.trk.progress[2]
    assert pr.state is PROBE
    (probe,) = r.read_messages()  # the no-op goes out as a probe
    assert probe.type == APP and pr.probe_sent
    r.propose_data([b"a"])
    r.propose_data([b"b"])
    r.flush_broadcast()
    assert r.read_messages() == []  # paused until the probe is answered
    r.step(Message(APP_RESP, to=1, frm=2, term=r.term, index=probe.entries[-1].index))
    assert pr.state is REPLICATE
    apps = [m for m in r.read_messages() if m.type == APP]
    assert [e.data for m in apps for e in m.entries] == [b"a", b"b"]


def test_unreachable_falls_back_to_probe() -> None:
    r = new_raft(1, [1, 2])
    r.become_candidate()
    r.become_leader()
    r.read_messages()
    r.step(Message(APP_RESP, to=1, frm=2, term=r.term, index=1))
    pr = r.trk.progress[2]
    assert pr.state is REPLICATE
    r.step(Message(MessageType.UNREACHABLE, frm=2))
    assert pr.state is PROBE and pr.next == pr.match + 1


def test_stale_rejection_is_ignored() -> None:
    net, leader = leader_of_3()
    net.propose(1)
    pr = leader.trk.progress[2]
    before = (pr.match, pr.next, pr.state)
    leader.step(Message(APP_RESP, to=1, frm=2, term=1, index=1, reject=True, reject_hint=0))
    assert (pr.match, pr.next, pr.state) == before


def test_old_messages_are_ignored() -> None:
    net = Network([None, None, None])
    net.campaign(1)
    net.campaign(2)
    net.campaign(1)  # term 3
    # A delayed append of term 2 from 2 must not change anyone's log.
    net.send(
        Message(
            APP,
            to=1,
            frm=2,
            term=2,
            index=3,
            log_term=2,
            entries=[Entry(term=2, index=4, data=b"stale")],
        )
    )
    net.propose(1)
    for i in (1, 2, 3):
        assert [e.data for e in net[i].log.entries(1) if e.data] == [b"somedata"]
        assert net[i].log.committed == 4  # three no-ops and the proposal


def test_follower_ack_is_only_sent_after_persist() -> None:
    # Followers queue acknowledgements and votes in msgs_after_persist; a leader's
    # appends may go out before its own fsync.
    net, leader = leader_of_3()
    leader.propose_data([b"x"])
    leader.flush_broadcast()
    assert leader.msgs and not leader.msgs_after_persist
    app = next(m for m in leader.msgs if m.type == APP and m.to == 2)
    f = net[2]
    f.step(app)
    assert not f.msgs and [m.type for m in f.msgs_after_persist] == [APP_RESP]
    persist(f)
