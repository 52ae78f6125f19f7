"""Known hard scenarios (acceptance point 4 of issue 4)."""

from __future__ import annotations

from etcdpy.raft.state import Role
from etcdpy.raft.types import ConfChange, ConfChangeType, Entry, EntryType, Message, MessageType

from .netutil import Network, new_raft
from .sim import Simulation

APP = MessageType.APP
LEADER = Role.LEADER


def five(**kw: object) -> Network:
    ids = [1, 2, 3, 4, 5]
    return Network([new_raft(i, ids, **kw) for i in ids])  # type: ignore[arg-type]


def figure_8_state_c() -> Network:
    """The Raft paper's figure 8 up to (c): leader 1 of term 3 has replicated the term-1
    entry x (index 2) to a majority {1, 2, 3}, but none of its own term-3 entries."""
    net = five(max_size_per_msg=1)
    net.campaign(1)  # term 1; the no-op (index 1) commits everywhere
    assert all(net[i].log.committed == 1 for i in range(1, 6))
    for i in (3, 4, 5):
        net.cut(1, i)
    net.propose(1, b"x")  # index 2, term 1, reaches only 2
    assert net[1].log.committed == 1
    # (b) 1 crashes; 5 wins term 2 with 3 and 4; its no-op at index 2 reaches nobody.
    net.isolate(1)
    net.ignore(APP)
    net.campaign(5)
    assert net[5].state is LEADER and net[5].term == 2 and net[5].log.term(2) == 2
    # (c) 5 crashes; 1 comes back and wins term 3 (after losing term 2: 3 and 4 voted).
    net.restart(1)
    net.restart(5)
    net.recover()
    net.isolate(5)
    net.ignore(APP)
    net.campaign(1)
    net.campaign(1)
    leader = net[1]
    assert leader.state is LEADER and leader.term == 3
    # The leader replicates x (and only x) to 2 and 3.
    net.send(Message(APP, to=2, frm=1, term=3, index=2, log_term=1, commit=1))
    x = Entry(term=1, index=2, data=b"x")
    net.send(Message(APP, to=3, frm=1, term=3, index=1, log_term=1, commit=1, entries=[x]))
    matches = sorted(pr.match for pr in leader.trk.progress.values())
    assert matches[-3:] == [2, 2, 3]  # x is on a majority...
    assert leader.log.committed == 1  # ...but an old-term entry is not committed by counting
    return net


def test_figure_8_uncommitted_old_term_entry_may_be_overwritten() -> None:
    net = figure_8_state_c()
    # (d) 1 crashes; 5 (last entry of term 2) wins over logs ending in term 1 and
    # replaces x. That is safe precisely because x was never committed.
    net.restart(1)
    net.recover()
    net.isolate(1)
    net.campaign(5)  # term 3: 2, 3 and 4 already voted for 1
    net.campaign(5)
    assert net[5].state is LEADER and net[5].term == 4
    for i in (2, 3, 4, 5):
        r = net[i]
        assert r.log.term(2) == 2 and r.log.committed == 3, i
        assert b"x" not in [e.data for e in r.log.entries(1)]


def test_figure_8_entry_of_current_term_commits_the_old_one() -> None:
    net = figure_8_state_c()
    # (e) 1 replicates an entry of its own term to a majority: x is committed with it.
    net.recover()
    net.isolate(5)
    net.beat(1)
    assert net[1].log.committed == 3 and net[1].log.entries(2)[0].data == b"x"
    net.restart(1)
    net.recover()
    net.isolate(1)
    net.campaign(5)
    net.campaign(5)
    assert net[5].state is not LEADER  # its log (ends at term 2) is behind a quorum
    for i in (2, 3, 4):
        assert net[i].log.entries(2)[0].data == b"x"


def test_leader_isolated_in_a_minority() -> None:
    net = five(check_quorum=True, pre_vote=True)
    net.campaign(1)
    net.propose(1, b"before")
    old = net[1]
    # 1 and 2 are cut off from 3, 4, 5.
    for a in (1, 2):
        for b in (3, 4, 5):
            net.cut(a, b)
    net.propose(1, b"lost")  # can never commit: no quorum on the minority side
    net.tick_all(2 * old.election_timeout + 2)
    assert old.state is not LEADER  # check-quorum made it step down
    majority_leaders = [i for i in net.leaders() if i in (3, 4, 5)]
    assert len(majority_leaders) == 1
    new = net[majority_leaders[0]]
    net.propose(new.id, b"after")
    assert new.log.committed > old.log.committed
    net.recover()
    net.tick_all(3)
    for i in range(1, 6):
        data = [e.data for e in net[i].log.entries(1) if e.data]
        assert data == [b"before", b"after"], i
        assert net[i].log.committed == new.log.committed


def test_member_rejoining_with_higher_term_does_not_depose_the_leader() -> None:
    net = Network([None, None, None], pre_vote=True, check_quorum=True)
    net.campaign(1)
    net.isolate(3)
    # Isolated for many election timeouts: without pre-vote its term would grow.
    net.tick_all(10 * net[3].election_timeout, members=[3])
    assert net[3].term == 1
    # Give it a higher term anyway (as if it had campaigned before pre-vote existed).
    net[3].term = 7
    net.recover()
    net.tick_all(3 * net[1].election_timeout)
    assert net.leaders() == [1] or net[1].term > 1
    # The cluster recovers with one leader and a common term; the stuck member rejoins.
    leader = net[net.leaders()[0]]
    net.propose(leader.id, b"after")
    assert all(net[i].log.committed == leader.log.committed for i in (1, 2, 3))


def test_member_rejoining_with_pre_vote_keeps_leader_and_term() -> None:
    net = Network([None, None, None], pre_vote=True, check_quorum=True)
    net.campaign(1)
    net.isolate(3)
    net.tick_all(10 * net[3].election_timeout, members=[3])
    net.recover()
    net.tick_all(3 * net[1].election_timeout)
    assert net.leaders() == [1] and net[1].term == 1 and net[3].term == 1


def test_slow_follower_caught_up_by_snapshot_through_the_ready_loop() -> None:
    # Through RawNode and the server's Ready contract (tests/raft/sim.py): member 3 is
    # partitioned while the others commit and compact; after healing it needs a snapshot.
    sim = Simulation(3, seed=1)
    tick, deliver_all, propose, partition, heal = (36, 0, 0), (97, 0, 0), (56, 0, 0), 73, 76
    for _ in range(50):
        sim.run([tick, deliver_all, deliver_all, deliver_all])
        leaders = [m for m in sim.members.values() if m.node and m.node.raft.state is LEADER]
        if leaders:
            break
    (leader,) = leaders
    slow = next(m for m in sim.members.values() if m is not leader)
    # Partition mask: bit k is the side of the k-th member.
    mask = sum(1 << k for k, i in enumerate(sorted(sim.members)) if i == slow.id)
    sim.run([(partition, mask, 0)])
    for _ in range(30):
        sim.run([(propose[0], leader.id - 1, 0), deliver_all, deliver_all])
    assert slow.node is not None
    assert leader.node is not None and leader.node.raft.log.first_index() > 2
    assert slow.machine.applied < leader.machine.applied
    sim.run([(heal, 0, 0)])
    sim.converge()
    assert sim.stats.snapshots_installed >= 1
    assert slow.machine.applied == leader.machine.applied
    assert slow.machine.digest == leader.machine.digest


def test_membership_change_racing_a_leader_change() -> None:
    net = Network([None, None, None], apply_conf=True)
    net.campaign(1)
    # Leader 1 appends AddNode(4) but is isolated before anyone else gets it.
    net.isolate(1)
    add4 = Entry(type=EntryType.CONF_CHANGE, data=ConfChange(ConfChangeType.ADD_NODE, 4).encode())
    net.send(Message(MessageType.PROP, to=1, frm=1, entries=[add4]))
    assert net[1].log.entries(net[1].log.last_index())[0].type == EntryType.CONF_CHANGE
    # 3 takes over at term 2. Until its no-op is applied it refuses a change (P4).
    net.ignore(APP)
    net.campaign(3)
    new = net[3]
    assert new.state is LEADER and new.term == 2
    remove2 = ConfChange(ConfChangeType.REMOVE_NODE, 2).encode()
    net.send(
        Message(
            MessageType.PROP,
            to=3,
            frm=3,
            entries=[Entry(type=EntryType.CONF_CHANGE, data=remove2)],
        )
    )
    assert all(e.type == EntryType.NORMAL for e in new.log.entries(new.log.first_index()))
    net.recover()
    net.isolate(1)
    net.beat(3)  # the no-op commits and is applied
    net.send(
        Message(
            MessageType.PROP,
            to=3,
            frm=3,
            entries=[Entry(type=EntryType.CONF_CHANGE, data=remove2)],
        )
    )
    assert new.trk.conf_state().voters == [1, 3]
    # 1 rejoins: its AddNode(4) was never committed and is overwritten.
    net.recover()
    net.beat(3)
    net.beat(3)
    for i in (1, 3):
        r = net[i]
        assert r.log.committed == new.log.committed
        assert r.trk.conf_state().voters == [1, 3], i
        confs = [
            ConfChange.decode(e.data)
            for e in r.log.entries(r.log.first_index())
            if e.type == EntryType.CONF_CHANGE
        ]
        assert [(c.type, c.node_id) for c in confs] == [(ConfChangeType.REMOVE_NODE, 2)]


def test_five_members_survive_losing_two() -> None:
    net = five(check_quorum=True, pre_vote=True)
    net.campaign(1)
    net.propose(1, b"a")
    # The leader and one follower are lost.
    net.isolate(1)
    net.isolate(2)
    net.tick_all(3 * net[3].election_timeout, members=[3, 4, 5])
    leaders = [i for i in net.leaders() if i in (3, 4, 5)]
    assert len(leaders) == 1
    lead = leaders[0]
    net.propose(lead, b"b")
    assert all(net[i].log.committed == net[lead].log.committed for i in (3, 4, 5))
    committed = net[lead].log.committed
    # A third loss: no quorum, nothing commits any more.
    other = next(i for i in (3, 4, 5) if i != lead)
    net.isolate(other)
    net.propose(lead, b"c")
    assert net[lead].log.committed == committed
    # Everyone back: the cluster converges, "c" included if it survived.
    net.recover()
    net.tick_all(4 * net[3].election_timeout)
    leaders = net.leaders()
    assert len(leaders) == 1
    net.propose(leaders[0], b"d")
    final = net[leaders[0]].log
    for i in range(1, 6):
        assert net[i].log.committed == final.committed == final.last_index(), i
        data = [e.data for e in net[i].log.entries(1) if e.data]
        assert data[:2] == [b"a", b"b"] and data[-1] == b"d"
