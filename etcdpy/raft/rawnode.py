"""``RawNode``: the server's handle on Raft, and the ``Ready`` batches it hands out.

The server drives one RawNode from a single task::

    node = RawNode(Config(id=..., storage=storage, ...), peers=[...] or None)
    loop:
        node.tick()                        # every tick interval
        node.step(msg)                     # every message from a peer
        node.propose(data) / read_index(ctx) / ...
        if node.has_ready():
            rd = node.ready()
            if rd.send_before_persist:     # we are the leader: thesis §10.2.1
                send(rd.messages)
            persist rd.snapshot, then rd.entries + rd.hard_state in one WAL batch,
                fsync iff rd.must_sync
            storage.apply_snapshot(rd.snapshot) if any; storage.append(rd.entries)
            if not rd.send_before_persist:
                send(rd.messages)          # votes and acks only once durable
            apply rd.snapshot (if any), then rd.committed_entries in order, calling
                node.apply_conf_change(cc) for each EntryType.CONF_CHANGE entry
            serve rd.read_states once applied >= state.index
            node.advance(rd)

Steps, ticks and proposals may continue while a Ready is being persisted (between
``ready()`` and ``advance()``); ``has_ready()`` stays False until ``advance()``, and
``ready()`` refuses to run twice. This gating is what makes it safe for a leader to
send before its own fsync: nothing it commits meanwhile is revealed before the
entries of the Ready are durable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from etcdpy.raft.config import Config
from etcdpy.raft.core import LEADER, Raft
from etcdpy.raft.errors import ConfigError, ProposalDropped, RaftError
from etcdpy.raft.state import ReadState, SoftState, Status
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
    is_local_message,
)

_EMPTY_HARD_STATE = HardState()


@dataclass(slots=True)
class Peer:
    """A member of a brand-new cluster; ``context`` travels in its AddNode entry."""

    id: int
    context: bytes = b""


@dataclass(slots=True)
class Ready:
    """One batch of work for the server (see the module docstring for the order)."""

    soft_state: SoftState | None = None  # None: leader and role unchanged
    hard_state: HardState | None = None  # None: unchanged, nothing to persist
    entries: list[Entry] = field(default_factory=list)  # to persist, then append
    snapshot: Snapshot | None = None  # to persist and install
    committed_entries: list[Entry] = field(default_factory=list)  # to apply
    messages: list[Message] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    must_sync: bool = False  # fsync the WAL write (entries, term or vote changed)
    # True: this member was leader when the Ready was built and every message in it
    # may be sent before the Ready is persisted. False: send only after persisting.
    send_before_persist: bool = False


class RawNode:
    def __init__(self, config: Config, peers: Sequence[int | Peer] | None = None) -> None:
        self.raft = Raft(config)
        self._prev_soft = self.raft.soft_state()
        self._outstanding = False
        if peers:
            self._bootstrap([p if isinstance(p, Peer) else Peer(p) for p in peers])
            # Nothing of the bootstrap is persisted yet: the first Ready carries it all.
            self._prev_hard = HardState()
        else:
            self._prev_hard = self.raft.hard_state()

    def _bootstrap(self, peers: list[Peer]) -> None:
        """Start a new cluster: every member synthesizes the same first entries, one
        AddNode per initial member at term 1 (as etcd's StartNode), already committed."""
        r = self.raft
        if r.log.storage.last_index() != 0:
            raise ConfigError(
                f"member {r.id:x} cannot bootstrap a new cluster on a storage that already "
                "holds entries; restart it without peers instead."
            )
        r.become_follower(1, NONE)
        ents = [
            Entry(
                1,
                i + 1,
                EntryType.CONF_CHANGE,
                ConfChange(ConfChangeType.ADD_NODE, p.id, p.context).encode(),
            )
            for i, p in enumerate(peers)
        ]
        r.log.append(ents)
        r.log.committed = len(ents)
        # Applied here so that the member can campaign right away; the server applies
        # them again from committed_entries (adding a member twice is a no-op).
        for p in peers:
            r.apply_conf_change(ConfChange(ConfChangeType.ADD_NODE, p.id))

    # -- inputs -----------------------------------------------------------------------

    def tick(self) -> None:
        self.raft.tick()

    def campaign(self) -> None:
        """Start an election now (with pre-vote if enabled)."""
        self.raft.step(Message(MessageType.HUP, frm=self.raft.id))

    def propose(self, data: bytes) -> None:
        """Propose one normal entry. Raises ProposalDropped if it cannot be accepted."""
        self.raft.propose_one(data)

    def propose_batch(self, datas: Sequence[bytes]) -> None:
        """Propose several normal entries at once (same as propose() in a loop, cheaper)."""
        self.raft.propose_data(datas)

    def propose_conf_change(self, cc: ConfChange) -> None:
        r = self.raft
        if r.state is LEADER and r.pending_conf_index > r.log.applied:
            raise ProposalDropped(
                f"leader {r.id:x} has a configuration change at index {r.pending_conf_index} "
                f"that is not applied yet (applied {r.log.applied}); retry after it is"
            )
        entry = Entry(type=EntryType.CONF_CHANGE, data=cc.encode())
        r.step(Message(MessageType.PROP, frm=r.id, entries=[entry]))

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Apply a committed configuration change; returns the new configuration.

        Set ``cc.node_id`` to 0 to cancel a change the state machine refuses.
        """
        return self.raft.apply_conf_change(cc)

    def read_index(self, ctx: bytes) -> None:
        """Ask for a linearizable read point; the answer is a ReadState with this ctx.

        ``ctx`` must be unique among the reads in flight. Raises ProposalDropped when
        no leader is known.
        """
        self.raft.step(Message(MessageType.READ_INDEX, entries=[Entry(data=ctx)]))

    def transfer_leader(self, transferee: int) -> None:
        """Ask the leader to hand leadership to ``transferee`` (abandoned after an
        election timeout; proposals are dropped meanwhile)."""
        self.raft.step(Message(MessageType.TRANSFER_LEADER, frm=transferee))

    def step(self, m: Message) -> None:
        """Process a message received from a peer."""
        if is_local_message(m.type):
            raise RaftError(f"message type {m.type.name} is local and cannot come from a peer")
        # A dropped forwarded proposal: the member that took it times out and retries.
        with contextlib.suppress(ProposalDropped):
            self.raft.step(m)

    def report_unreachable(self, member: int) -> None:
        """The transport failed to deliver a message to ``member``."""
        self.raft.step(Message(MessageType.UNREACHABLE, frm=member))

    def report_snapshot(self, member: int, failed: bool) -> None:
        """A snapshot send to ``member`` finished (or failed)."""
        self.raft.step(Message(MessageType.SNAP_STATUS, frm=member, reject=failed))

    # -- outputs ----------------------------------------------------------------------

    def has_ready(self) -> bool:
        if self._outstanding:
            return False
        r = self.raft
        r.flush_broadcast()
        if r.msgs or r.msgs_after_persist or r.read_states:
            return True
        log = r.log
        if log.unstable.entries or log.unstable.snapshot is not None:
            return True
        if log.has_next_committed_entries():
            return True
        prev = self._prev_soft
        if prev.lead != r.lead or prev.role is not r.state:
            return True
        ph = self._prev_hard
        if r.term != ph.term or r.vote != ph.vote or log.committed != ph.commit:
            return not (r.term == 0 and r.vote == 0 and log.committed == 0)
        return False

    def ready(self) -> Ready:
        if self._outstanding:
            raise RaftError("ready() called again before advance() of the previous Ready")
        r = self.raft
        r.flush_broadcast()
        log = r.log
        rd = Ready()
        soft = r.soft_state()
        if soft != self._prev_soft:
            rd.soft_state = soft
            self._prev_soft = soft
        hs = r.hard_state()
        if hs != self._prev_hard:
            rd.hard_state = hs
        rd.entries = log.unstable_entries()
        rd.snapshot = log.unstable.snapshot
        rd.committed_entries = log.next_committed_entries()
        if rd.committed_entries:
            log.applying = rd.committed_entries[-1].index
        if r.state is LEADER and not r.msgs_after_persist:
            rd.messages = r.msgs
            rd.send_before_persist = True
        elif r.msgs_after_persist:
            rd.messages = r.msgs + r.msgs_after_persist if r.msgs else r.msgs_after_persist
        else:
            rd.messages = r.msgs
        r.msgs = []
        r.msgs_after_persist = []
        if r.read_states:
            rd.read_states = r.read_states
            r.read_states = []
        prev = self._prev_hard
        rd.must_sync = bool(rd.entries) or hs.term != prev.term or hs.vote != prev.vote
        self._outstanding = True
        return rd

    def advance(self, rd: Ready) -> None:
        """The Ready was persisted, sent and applied."""
        if rd.hard_state is not None:
            self._prev_hard = rd.hard_state
        log = self.raft.log
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)
        elif rd.snapshot is not None:
            log.applied_to(rd.snapshot.metadata.index)
        log.applying = log.applied
        if rd.entries:
            e = rd.entries[-1]
            log.stable_to(e.index, e.term)
        if rd.snapshot is not None:
            log.stable_snap_to(rd.snapshot.metadata.index)
        self._outstanding = False

    def status(self) -> Status:
        return self.raft.status()

    @property
    def id(self) -> int:
        return self.raft.id
