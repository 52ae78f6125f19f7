"""A simulated cluster of RawNodes driven by a schedule of actions, with safety checks.

Each member runs the server's Ready loop exactly (etcdpy.raft.rawnode docstring): take a
Ready, the leader sends at once, the "fsync" completes at a later action (so steps
interleave with the persist, as on the real server), then the follower sends, the
MemoryStorage is appended, committed entries are applied (conf changes through
``apply_conf_change``) and ``advance`` is called. A member's ``Disk`` holds only what
completed persists wrote: a crash loses the Ready in flight and everything in memory,
and a restart rebuilds the member from its disk.

The network is a list of encoded messages: an action delivers, drops or duplicates any
of them (so reordering and delay are free), partitions cut links, and the transport
reports MsgSnap outcomes and unreachable peers as etcd's does.

Checked after every action (``Violation`` names the broken property):
- election safety: at most one leader per term;
- log matching: an (index, term) always holds the same entry after the same term;
- commit consistency / leader completeness: a member's committed prefix agrees with
  every other committed prefix, and a new leader's log holds every committed entry;
- state machine safety: every member applies the same entry at the same index (a hash
  chain over the applied log, also carried inside snapshots);
- linearizable ReadIndex: a read state never precedes an entry that was applied
  anywhere before the read was issued.
``converge()`` then heals everything and requires a leader and identical applied state
on every member of the configuration within a bounded number of ticks (liveness).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field

import msgpack

from etcdpy.raft.config import Config
from etcdpy.raft.errors import ProposalDropped, RaftError
from etcdpy.raft.rawnode import RawNode, Ready
from etcdpy.raft.state import ReadState, Role
from etcdpy.raft.storage import MemoryStorage
from etcdpy.raft.types import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    Snapshot,
)

MAX_MEMBERS = 5
SNAPSHOT_EVERY = 8  # applied entries between two automatic snapshots
KEEP_AFTER_COMPACT = 2  # entries kept in memory behind a snapshot for slow followers
NETWORK_CAP = 400  # a bounded transport buffer: beyond it the oldest message is lost

# Action kinds; an action is (kind, a, b) with kind in 0..99 weighted by these ranges,
# so that shrinking (towards 0) turns actions into plain in-order deliveries.
_KINDS = [
    (35, "deliver"),
    (50, "tick"),
    (55, "tick_one"),
    (63, "propose"),
    (67, "read"),
    (71, "drop"),
    (73, "duplicate"),
    (76, "partition"),
    (79, "heal"),
    (82, "crash"),
    (85, "restart"),
    (87, "add"),
    (89, "remove"),
    (91, "transfer"),
    (93, "compact"),
    (95, "slow_disk"),
    (97, "campaign"),
    (100, "deliver_all"),
]
KIND_OF = [next(name for bound, name in _KINDS if k < bound) for k in range(100)]

Action = tuple[int, int, int]


class Violation(AssertionError):
    """A safety or liveness property of Raft does not hold.

    ``step`` is the number of actions run when it was detected; ``prop`` names the
    property (the text before the first colon).
    """

    step: int = 0

    @property
    def prop(self) -> str:
        return str(self).split(":", 1)[0]


@dataclass(slots=True)
class Disk:
    """What a member made durable: the newest snapshot, the hard state, the entries."""

    snapshot: Snapshot | None = None
    hard_state: HardState = field(default_factory=HardState)
    entries: list[Entry] = field(default_factory=list)


@dataclass(slots=True)
class Machine:
    """The replicated state machine: a hash chain of the applied log plus membership."""

    applied: int = 0
    digest: int = 0
    voters: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)

    def encode(self) -> bytes:
        return msgpack.packb([self.applied, self.digest, self.voters, self.removed])

    @classmethod
    def decode(cls, data: bytes) -> Machine:
        v = msgpack.unpackb(data)
        return cls(v[0], v[1], list(v[2]), list(v[3]))


class Member:
    def __init__(self, member_id: int) -> None:
        self.id = member_id
        self.disk = Disk()
        self.node: RawNode | None = None
        self.storage: MemoryStorage | None = None
        self.machine = Machine()
        self.pending: Ready | None = None
        self.disk_delay = 0
        self.incarnation = 0
        self.reads: dict[bytes, int] = {}  # ctx -> lower bound of its read index
        self.read_states: list[ReadState] = []
        self.checked_commit = 0
        self.removed = False  # its removal was applied somewhere: it is not a member

    @property
    def alive(self) -> bool:
        return self.node is not None


@dataclass(slots=True)
class Stats:
    schedules: int = 0
    actions: int = 0
    leaders: int = 0
    committed: int = 0
    reads_served: int = 0
    snapshots_sent: int = 0
    snapshots_installed: int = 0
    conf_changes: int = 0
    crashes: int = 0
    liveness_ticks: int = 0
    two_member_wedges: int = 0


class Simulation:
    def __init__(
        self,
        size: int = 3,
        *,
        seed: int = 0,
        pre_vote: bool = True,
        check_quorum: bool = True,
        election_tick: int = 5,
        max_size_per_msg: int = 256,
        stats: Stats | None = None,
    ) -> None:
        self.seed = seed
        self.max_size_per_msg = max_size_per_msg
        self.pre_vote = pre_vote
        self.check_quorum = check_quorum
        self.election_tick = election_tick
        self.stats = stats if stats is not None else Stats()
        self.members: dict[int, Member] = {}
        self.network: list[tuple[int, int, MessageType, bytes]] = []
        self.groups: dict[int, int] | None = None
        self.next_id = size + 1
        self.next_data = 0
        # Checker state.
        self.leader_of_term: dict[int, int] = {}
        self.leader_checked: set[tuple[int, int]] = set()
        self.entries_seen: dict[tuple[int, int], tuple[int, bytes, int]] = {}
        self.committed_term: dict[int, int] = {}
        self.max_committed = 0
        self.digest_at: dict[int, int] = {0: 0}
        self.max_applied = 0
        self.step_no = 0
        self.bootstrap_len = size
        # A removal was applied to a two-voter configuration: etcd's raft README says
        # such a cluster can wedge (pitfall P5), so liveness is not required after it.
        self.two_member_removal = False
        ids = list(range(1, size + 1))
        for i in ids:
            m = Member(i)
            m.storage = MemoryStorage()
            m.node = RawNode(self._config(m, 0), peers=ids)
            self.members[i] = m
        # The bootstrap Ready is durable before anything can crash (etcd writes it
        # before the member serves).
        for m in self.members.values():
            self._start_ready(m)
            self._complete_ready(m)

    # -- plumbing --------------------------------------------------------------------

    def _config(self, m: Member, applied: int) -> Config:
        assert m.storage is not None
        return Config(
            id=m.id,
            election_tick=self.election_tick,
            heartbeat_tick=1,
            storage=m.storage,
            applied=applied,
            max_size_per_msg=self.max_size_per_msg,
            max_inflight_msgs=4,
            check_quorum=self.check_quorum,
            pre_vote=self.pre_vote,
            rng=random.Random(self.seed * 7919 + m.id * 104729 + m.incarnation),
        )

    def _member(self, a: int, *, alive: bool | None = True) -> Member | None:
        pool = [m for m in self.members.values() if alive is None or m.alive == alive]
        if not pool:
            return None
        return pool[a % len(pool)]

    def _connected(self, frm: int, to: int) -> bool:
        g = self.groups
        return g is None or g.get(frm, -1) == g.get(to, -1)

    def _send(self, m: Member, msgs: list[Message]) -> None:
        for msg in msgs:
            if not self._connected(msg.frm, msg.to):
                self._lost(msg.frm, msg.to, msg.type)
                continue
            if msg.type == MessageType.SNAP:
                self.stats.snapshots_sent += 1
            self.network.append((msg.frm, msg.to, msg.type, msg.encode()))
        while len(self.network) > NETWORK_CAP:
            frm, to, t, _ = self.network.pop(0)
            self._lost(frm, to, t)

    def _lost(self, frm: int, to: int, t: MessageType) -> None:
        """The transport tells the sender, as etcd's rafthttp does."""
        sender = self.members.get(frm)
        if sender is None or sender.node is None:
            return
        if t == MessageType.SNAP:
            sender.node.report_snapshot(to, failed=True)
        elif t == MessageType.APP:
            sender.node.report_unreachable(to)

    def _deliver(self, k: int) -> None:
        frm, to, t, data = self.network.pop(k)
        dest = self.members.get(to)
        if dest is None or dest.node is None or not self._connected(frm, to):
            self._lost(frm, to, t)
            return
        dest.node.step(Message.decode(data))
        if t == MessageType.SNAP:
            sender = self.members.get(frm)
            if sender is not None and sender.node is not None:
                sender.node.report_snapshot(to, failed=False)

    # -- the Ready loop --------------------------------------------------------------

    def _start_ready(self, m: Member) -> None:
        assert m.node is not None
        rd = m.node.ready()
        self._check_ready(m, rd)
        if rd.send_before_persist:
            self._send(m, rd.messages)
        m.pending = rd

    def _complete_ready(self, m: Member) -> None:
        rd = m.pending
        node = m.node
        assert rd is not None and node is not None and m.storage is not None
        m.pending = None
        disk = m.disk
        # "fsync": the snapshot first, then entries and hard state in one batch.
        if rd.snapshot is not None:
            disk.snapshot = rd.snapshot
            disk.entries = []
        if rd.entries:
            first = rd.entries[0].index
            disk.entries = [e for e in disk.entries if e.index < first] + rd.entries
        if rd.hard_state is not None:
            disk.hard_state = HardState(
                rd.hard_state.term, rd.hard_state.vote, rd.hard_state.commit
            )
        if rd.snapshot is not None:
            m.storage.apply_snapshot(rd.snapshot)
        m.storage.append(rd.entries)
        self._check_durable_commit(m)
        if not rd.send_before_persist:
            self._send(m, rd.messages)
        if rd.snapshot is not None:
            self._install_snapshot(m, rd.snapshot)
        for e in rd.committed_entries:
            self._apply(m, e)
        m.read_states.extend(rd.read_states)
        if m.read_states:
            waiting = []
            for rs in m.read_states:
                if rs.index <= m.machine.applied:
                    self.stats.reads_served += 1
                else:
                    waiting.append(rs)
            m.read_states = waiting
        node.advance(rd)
        if m.machine.applied - self._snapshot_index(m) >= SNAPSHOT_EVERY:
            self._take_snapshot(m)

    def _snapshot_index(self, m: Member) -> int:
        return m.disk.snapshot.metadata.index if m.disk.snapshot is not None else 0

    def _take_snapshot(self, m: Member) -> None:
        assert m.storage is not None
        sm = m.machine
        if sm.applied <= self._snapshot_index(m):
            return
        snap = m.storage.create_snapshot(sm.applied, ConfState(sorted(sm.voters)), sm.encode())
        m.disk.snapshot = snap
        m.disk.entries = [e for e in m.disk.entries if e.index > snap.metadata.index]
        compact_to = sm.applied - KEEP_AFTER_COMPACT
        if compact_to >= m.storage.first_index():
            m.storage.compact(compact_to)

    def _install_snapshot(self, m: Member, snap: Snapshot) -> None:
        sm = Machine.decode(snap.data)
        if sm.applied != snap.metadata.index:
            raise Violation(f"member {m.id} got a snapshot whose data does not match its index")
        known = self.digest_at.get(sm.applied)
        if known is not None and known != sm.digest:
            raise Violation(
                f"state machine safety: member {m.id} installed a snapshot at {sm.applied} "
                "that differs from what others applied there"
            )
        m.machine = sm
        self.stats.snapshots_installed += 1

    def _apply(self, m: Member, e: Entry) -> None:
        sm = m.machine
        if e.index != sm.applied + 1:
            raise Violation(f"member {m.id} applied index {e.index} right after {sm.applied}")
        digest = hash((sm.digest, e.index, e.term, int(e.type), e.data))
        known = self.digest_at.get(e.index)
        if known is None:
            self.digest_at[e.index] = digest
        elif known != digest:
            raise Violation(
                f"state machine safety: member {m.id} applied a different entry at index "
                f"{e.index} than another member"
            )
        sm.applied = e.index
        sm.digest = digest
        first_time = e.index > self.max_applied
        if first_time:
            self.max_applied = e.index
            self.stats.committed += 1
        self._record_committed(m, e.index, e.term)
        if e.type == EntryType.CONF_CHANGE:
            self._apply_conf_change(m, e, first_time)

    def _apply_conf_change(self, m: Member, e: Entry, first_time: bool) -> None:
        assert m.node is not None
        sm = m.machine
        cc = ConfChange.decode(e.data)
        target = cc.node_id
        # The server's validation: decided from state-machine content only.
        if cc.type == ConfChangeType.ADD_NODE:
            ok = target not in sm.voters and target not in sm.removed
            ok = ok and len(sm.voters) < MAX_MEMBERS
        elif cc.type == ConfChangeType.REMOVE_NODE:
            ok = target in sm.voters and len(sm.voters) > 1
        else:
            ok = target in sm.voters
        if not ok:
            cc = ConfChange(cc.type, NONE, cc.context)
        cs = m.node.apply_conf_change(cc)
        if ok and cc.type == ConfChangeType.ADD_NODE:
            sm.voters = sorted([*sm.voters, target])
        elif ok and cc.type == ConfChangeType.REMOVE_NODE:
            if len(sm.voters) == 2:
                self.two_member_removal = True
            sm.voters = [v for v in sm.voters if v != target]
            sm.removed.append(target)
        if e.index > self.bootstrap_len and cs.voters != sm.voters:
            raise Violation(
                f"member {m.id}: Raft's configuration {cs.voters} differs from the applied "
                f"one {sm.voters} at index {e.index}"
            )
        if not ok:
            return
        if first_time and e.index > self.bootstrap_len:
            self.stats.conf_changes += 1
        if cc.type == ConfChangeType.ADD_NODE and target not in self.members:
            joiner = Member(target)
            joiner.storage = MemoryStorage()
            joiner.node = RawNode(self._config(joiner, 0), peers=None)
            self.members[target] = joiner
        elif cc.type == ConfChangeType.REMOVE_NODE and target in self.members:
            self.members[target].removed = True

    # -- checks ----------------------------------------------------------------------

    def _record_committed(self, m: Member, index: int, term: int) -> None:
        known = self.committed_term.get(index)
        if known is None:
            self.committed_term[index] = term
            if index > self.max_committed:
                self.max_committed = index
        elif known != term:
            raise Violation(
                f"commit consistency: member {m.id} holds term {term} at committed index "
                f"{index}, another member committed term {known} there"
            )

    def _check_durable_commit(self, m: Member) -> None:
        """Commit consistency over the newly persisted commit index.

        A leader's in-memory commit index may count its own entries before they are
        durable (safe: nothing reveals that commit before the entries are persisted), so
        "committed" here means persisted in a hard state, or applied.
        """
        st = m.storage
        assert st is not None
        commit = m.disk.hard_state.commit
        for i in range(max(m.checked_commit + 1, st.first_index()), commit + 1):
            self._record_committed(m, i, st.term(i))
        m.checked_commit = max(m.checked_commit, commit)

    def _check_ready(self, m: Member, rd: Ready) -> None:
        assert m.node is not None
        log = m.node.raft.log
        prev_term = log.term(rd.entries[0].index - 1) if rd.entries else 0
        for e in rd.entries:
            key = (e.index, e.term)
            val = (int(e.type), e.data, prev_term)
            known = self.entries_seen.get(key)
            if known is None:
                self.entries_seen[key] = val
            elif known != val:
                raise Violation(
                    f"log matching: member {m.id} has a different entry (or predecessor) at "
                    f"index {e.index} term {e.term} than another member"
                )
            prev_term = e.term
        for rs in rd.read_states:
            bound = m.reads.pop(rs.request_ctx, None)
            if bound is not None and rs.index < bound:
                raise Violation(
                    f"linearizability: member {m.id} got read index {rs.index} for a read "
                    f"issued after index {bound} was applied"
                )

    def check(self) -> None:
        for m in self.members.values():
            node = m.node
            if node is None:
                continue
            r = node.raft
            log = r.log
            if r.state is not Role.LEADER:
                continue
            term = r.term
            other = self.leader_of_term.setdefault(term, m.id)
            if other != m.id:
                raise Violation(f"election safety: members {other} and {m.id} lead term {term}")
            if (m.id, term) in self.leader_checked:
                continue
            self.leader_checked.add((m.id, term))
            self.stats.leaders += 1
            if log.last_index() < self.max_committed:
                raise Violation(
                    f"leader completeness: leader {m.id} of term {term} ends at "
                    f"{log.last_index()} but index {self.max_committed} is committed"
                )
            for i in range(log.first_index(), self.max_committed + 1):
                t = self.committed_term.get(i)
                if t is not None and log.term(i) != t:
                    raise Violation(
                        f"leader completeness: leader {m.id} of term {term} lacks the "
                        f"committed entry at index {i}"
                    )

    # -- actions ---------------------------------------------------------------------

    def run(self, actions: list[Action]) -> None:
        for act in actions:
            self.step_no += 1
            self.stats.actions += 1
            self.act(act)
            self.process()
            self.check()

    def act(self, action: Action) -> None:
        kind = KIND_OF[action[0] % 100]
        a, b = action[1], action[2]
        if kind == "deliver":
            if self.network:
                self._deliver(a % len(self.network))
            else:
                self._tick_all()
        elif kind == "deliver_all":
            for _ in range(len(self.network)):
                if not self.network:
                    break
                self._deliver(0)
        elif kind == "tick":
            self._tick_all()
        elif kind == "tick_one":
            m = self._member(a)
            if m is not None and m.node is not None:
                m.node.tick()
        elif kind == "propose":
            m = self._member(a)
            if m is not None and m.node is not None:
                self.next_data += 1
                with contextlib.suppress(ProposalDropped):
                    m.node.propose(b"p%d" % self.next_data)
        elif kind == "read":
            m = self._member(a)
            if m is not None and m.node is not None:
                self.next_data += 1
                ctx = b"r%d" % self.next_data
                try:
                    m.node.read_index(ctx)
                except ProposalDropped:
                    return
                m.reads[ctx] = self.max_applied
        elif kind == "drop":
            if self.network:
                frm, to, t, _ = self.network.pop(a % len(self.network))
                self._lost(frm, to, t)
        elif kind == "duplicate":
            if self.network:
                self.network.append(self.network[a % len(self.network)])
        elif kind == "partition":
            ids = sorted(self.members)
            self.groups = {i: (a >> k) & 1 for k, i in enumerate(ids)}
        elif kind == "heal":
            self.groups = None
        elif kind == "crash":
            m = self._member(a)
            if m is not None:
                self._crash(m)
        elif kind == "restart":
            m = self._member(a, alive=False)
            if m is not None:
                self._restart(m)
        elif kind == "add":
            m = self._member(a)
            if m is not None and m.node is not None:
                new_id = self.next_id
                self.next_id += 1
                with contextlib.suppress(ProposalDropped):
                    m.node.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, new_id))
        elif kind == "remove":
            m = self._member(a)
            target = self._member(b, alive=None)
            if m is not None and m.node is not None and target is not None:
                with contextlib.suppress(ProposalDropped):
                    m.node.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, target.id))
        elif kind == "transfer":
            m = self._member(a)
            target = self._member(b, alive=None)
            if m is not None and m.node is not None and target is not None:
                m.node.transfer_leader(target.id)
        elif kind == "compact":
            m = self._member(a)
            if m is not None and m.node is not None and m.pending is None:
                self._take_snapshot(m)
        elif kind == "slow_disk":
            m = self._member(a)
            if m is not None:
                m.disk_delay = b % 4 + 1
        elif kind == "campaign":
            m = self._member(a)
            if m is not None and m.node is not None:
                m.node.campaign()

    def _tick_all(self) -> None:
        for m in self.members.values():
            if m.node is not None:
                m.node.tick()

    def _crash(self, m: Member) -> None:
        self.stats.crashes += 1
        m.node = None
        m.storage = None
        m.pending = None
        m.reads.clear()
        m.read_states.clear()

    def _restart(self, m: Member) -> None:
        m.incarnation += 1
        st = MemoryStorage()
        applied = 0
        if m.disk.snapshot is not None:
            st.apply_snapshot(m.disk.snapshot)
            m.machine = Machine.decode(m.disk.snapshot.data)
            applied = m.disk.snapshot.metadata.index
        else:
            m.machine = Machine()
        st.set_hard_state(m.disk.hard_state)
        st.append(list(m.disk.entries))
        m.storage = st
        m.node = RawNode(self._config(m, applied), peers=None)
        m.checked_commit = 0
        m.disk_delay = 0

    def process(self) -> None:
        """One turn of every member's Ready loop."""
        for m in list(self.members.values()):
            if m.node is None:
                continue
            if m.pending is not None:
                if m.disk_delay > 0:
                    m.disk_delay -= 1
                    continue
                self._complete_ready(m)
            if m.node.has_ready():
                self._start_ready(m)

    # -- liveness --------------------------------------------------------------------

    def _settle(self) -> None:
        """Deliver and process until quiet (bounded)."""
        for _ in range(200):
            busy = False
            for _ in range(len(self.network)):
                if not self.network:
                    break
                self._deliver(0)
                busy = True
            for m in list(self.members.values()):
                if m.node is None:
                    continue
                if m.pending is not None:
                    self._complete_ready(m)
                    busy = True
                if m.node.has_ready():
                    self._start_ready(m)
                    busy = True
            self.check()
            if not busy:
                return
        raise Violation("the cluster never went quiet after healing")

    def _converged(self) -> bool:
        leaders = [
            m
            for m in self.members.values()
            if m.node is not None and m.node.raft.state is Role.LEADER
        ]
        if len(leaders) != 1:
            return False
        lead = leaders[0].node
        assert lead is not None
        r = lead.raft
        if not r._committed_entry_in_current_term() or r.log.committed != r.log.last_index():
            return False
        for v in r.trk.voters:
            m = self.members.get(v)
            if m is None or m.node is None or m.pending is not None:
                return False
            if m.machine.applied != r.log.committed:
                return False
            if m.machine.digest != self.digest_at[r.log.committed]:
                return False
        return True

    def converge(self, max_ticks: int | None = None) -> int:
        """Heal everything, then require a stable leader and convergence in bounded time."""
        limit = max_ticks if max_ticks is not None else 40 * self.election_tick
        self.groups = None
        for m in self.members.values():
            m.disk_delay = 0
            # Removed members come back too: with apply-time membership a survivor may
            # still need their vote or acknowledgement to commit the removal (etcd's
            # two-member wedge, pitfall P5, if a removed member shuts down too early).
            if m.node is None:
                self._restart(m)
        proposed_terms: set[int] = set()
        for tick in range(limit):
            self._settle()
            for m in self.members.values():
                node = m.node
                if node is None or node.raft.state is not Role.LEADER:
                    continue
                if node.raft.term not in proposed_terms:
                    proposed_terms.add(node.raft.term)
                    self.next_data += 1
                    with contextlib.suppress(ProposalDropped):
                        node.propose(b"final%d" % self.next_data)
            self._settle()
            if self._converged():
                self.stats.liveness_ticks += tick
                return tick
            self._tick_all()
        if self.two_member_removal:
            self.stats.two_member_wedges += 1
            return limit
        raise Violation(f"liveness: no converged leader within {limit} ticks after healing")


def format_replay(setup: tuple[int, int, int], actions: list[Action]) -> str:
    return f"replay(setup={setup!r}, actions={actions!r})"


SETUP_SIZES = [3, 5, 1, 2, 4]
# (pre_vote, check_quorum, max_size_per_msg): 1 byte means one entry per append, which
# makes races such as the Raft paper's figure 8 reachable.
SETUP_FLAGS = [
    (True, True, 256),
    (True, True, 1),
    (True, False, 256),
    (False, True, 1),
    (False, False, 256),
    (True, False, 1),
]


def simulation_for(setup: tuple[int, int, int], stats: Stats | None = None) -> Simulation:
    size_i, flags_i, seed = setup
    pre_vote, check_quorum, msg_size = SETUP_FLAGS[flags_i % len(SETUP_FLAGS)]
    return Simulation(
        SETUP_SIZES[size_i % len(SETUP_SIZES)],
        seed=seed,
        pre_vote=pre_vote,
        check_quorum=check_quorum,
        max_size_per_msg=msg_size,
        stats=stats,
    )


def actions_from_bytes(raw: bytes) -> list[Action]:
    """Three bytes per action; the kind byte maps evenly onto 0..99."""
    return [(raw[i] * 100 // 256, raw[i + 1], raw[i + 2]) for i in range(0, len(raw) - 2, 3)]


def replay(setup: tuple[int, int, int], actions: list[Action], stats: Stats | None = None) -> None:
    """Run one schedule and its liveness phase; raises Violation with the replay line."""
    sim = simulation_for(setup, stats)
    try:
        sim.run(actions)
        sim.converge()
    except (Violation, RaftError) as exc:
        # An internal invariant of the core (e.g. a conflict with a committed entry)
        # is a detected safety failure too.
        prop = str(exc) if isinstance(exc, Violation) else f"{type(exc).__name__}: {exc}"
        failure = Violation(
            f"{prop} (after action {sim.step_no} of {len(actions)})\n"
            f"reproduce with: {format_replay(setup, actions)}"
        )
        failure.step = sim.step_no
        raise failure from None
    if stats is not None:
        stats.schedules += 1


def shrink(setup: tuple[int, int, int], actions: list[Action], budget: int = 2000) -> list[Action]:
    """A shorter schedule that violates the same property (delta debugging).

    Truncates after the failing action, then until nothing changes (or ``budget``
    replays): deletes chunks of halving size, turns actions into plain deliveries and
    zeroes their arguments.
    """
    runs = 0

    def failing(acts: list[Action]) -> Violation | None:
        nonlocal runs
        runs += 1
        try:
            replay(setup, acts)
        except Violation as exc:
            return exc
        return None

    first = failing(actions)
    if first is None:
        return actions
    prop = first.prop

    def accept(acts: list[Action]) -> list[Action] | None:
        v = failing(acts) if acts else None
        if v is None or v.prop != prop:
            return None
        return acts[: max(v.step, 1)]

    best = accept(actions[: max(first.step, 1)]) or actions
    changed = True
    while changed and runs < budget:
        changed = False
        chunk = max(len(best) // 2, 1)
        while chunk >= 1 and runs < budget:
            i = 0
            while i < len(best) and runs < budget:
                smaller = accept(best[:i] + best[i + chunk :])
                if smaller is not None:
                    best, changed = smaller, True
                else:
                    i += chunk
            chunk //= 2
        i = 0
        while i < len(best) and runs < budget:
            kind, a, b = best[i]
            for simpler in ((0, a, b), (kind, 0, 0), (0, 0, 0)):
                if simpler == best[i] or runs >= budget:
                    continue
                candidate = accept([*best[:i], simpler, *best[i + 1 :]])
                if candidate is not None:
                    best, changed = candidate, True
                    break
            i += 1
    return best
