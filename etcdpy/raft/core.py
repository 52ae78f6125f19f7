"""``Raft``: the consensus state machine of one member (etcd's raft.go).

Sans I/O: it reacts to ``tick()``, ``step(message)`` and proposals by changing its
state and queueing messages; ``RawNode`` packages that into ``Ready`` batches. Nothing
here reads a clock, a file or a socket, and the only randomness is ``Config.rng``.

Features: randomized election timeouts in [T, 2T-1] ticks; pre-vote and check-quorum
(both on by default); log replication with a fast back-off that skips a term per
round trip; commit by quorum, counting only entries of the current term directly;
pipelined appends with an inflight window and a probe state; snapshots sent to
followers behind the compacted log; single-member configuration changes applied one
at a time (a new leader only accepts one after it committed an entry of its own term);
ReadIndex reads (ReadOnlySafe); leader transfer; proposal forwarding.

Two message queues: ``msgs`` holds what a leader sent, which may leave before the
leader persists its own Ready (Raft thesis §10.2.1); ``msgs_after_persist`` holds
everything a follower or candidate sent (votes, append acknowledgements), which must
only leave once that member's Ready is durable. ``RawNode`` turns this into
``Ready.send_before_persist``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from etcdpy.raft.config import Config
from etcdpy.raft.errors import (
    CompactedError,
    ProposalDropped,
    RaftInvariantError,
    SnapshotTemporarilyUnavailableError,
    UnavailableError,
)
from etcdpy.raft.log import RaftLog
from etcdpy.raft.progress import PROBE, REPLICATE, SNAPSHOT
from etcdpy.raft.read_only import ReadOnly
from etcdpy.raft.state import PeerStatus, ReadState, Role, SoftState, Status
from etcdpy.raft.tracker import ProgressTracker, VoteResult
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

FOLLOWER = Role.FOLLOWER
CANDIDATE = Role.CANDIDATE
LEADER = Role.LEADER
PRE_CANDIDATE = Role.PRE_CANDIDATE

HUP = MessageType.HUP
BEAT = MessageType.BEAT
PROP = MessageType.PROP
APP = MessageType.APP
APP_RESP = MessageType.APP_RESP
VOTE = MessageType.VOTE
VOTE_RESP = MessageType.VOTE_RESP
SNAP = MessageType.SNAP
HEARTBEAT = MessageType.HEARTBEAT
HEARTBEAT_RESP = MessageType.HEARTBEAT_RESP
UNREACHABLE = MessageType.UNREACHABLE
SNAP_STATUS = MessageType.SNAP_STATUS
CHECK_QUORUM = MessageType.CHECK_QUORUM
TRANSFER_LEADER = MessageType.TRANSFER_LEADER
TIMEOUT_NOW = MessageType.TIMEOUT_NOW
READ_INDEX = MessageType.READ_INDEX
READ_INDEX_RESP = MessageType.READ_INDEX_RESP
PRE_VOTE = MessageType.PRE_VOTE
PRE_VOTE_RESP = MessageType.PRE_VOTE_RESP

NORMAL = EntryType.NORMAL
CONF_CHANGE = EntryType.CONF_CHANGE

# Campaign kinds. A transfer campaign skips pre-vote and carries this context so that
# voters ignore their leader lease (the old leader asked for it).
CAMPAIGN_PRE_ELECTION = 0
CAMPAIGN_ELECTION = 1
CAMPAIGN_TRANSFER = 2
TRANSFER_CONTEXT = b"CampaignTransfer"

# Deferred broadcasts, flushed when the next Ready is built: many proposals or
# acknowledgements between two Readies then cost one append message per follower.
_BCAST_ENTRIES = 1
_BCAST_COMMIT = 2

_LOG = logging.getLogger("etcdpy.raft")

# Messages whose term is not ours: vote traffic carries the campaign's term, and
# proposals and read requests travel with term 0 (they are "local" to any member).
_EXPLICIT_TERM = frozenset((VOTE, VOTE_RESP, PRE_VOTE, PRE_VOTE_RESP, PROP, READ_INDEX))


class Raft:
    def __init__(self, config: Config) -> None:
        config.validate()
        storage = config.storage
        assert storage is not None  # checked by validate()
        self.id = config.id
        self.log = RaftLog(storage, config.committed_size_per_ready())
        self.max_msg_size = config.max_size_per_msg
        self.max_inflight = config.max_inflight_msgs
        self.trk = ProgressTracker(config.max_inflight_msgs)
        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.state = FOLLOWER
        self.msgs: list[Message] = []
        self.msgs_after_persist: list[Message] = []
        self.read_states: list[ReadState] = []
        self.read_only = ReadOnly()
        # ReadIndex requests a new leader holds until it commits in its term.
        self.pending_read_index: list[Message] = []
        self.check_quorum = config.check_quorum
        self.pre_vote = config.pre_vote
        self.heartbeat_timeout = config.heartbeat_tick
        self.election_timeout = config.election_tick
        self.randomized_election_timeout = config.election_tick
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.lead_transferee = NONE
        # Proposals of configuration changes are refused while applied < this index.
        self.pending_conf_index = 0
        self.rng = config.rng if config.rng is not None else random.Random(config.id)
        self.logger = config.logger if config.logger is not None else _LOG
        self._bcast_flags = 0

        hs, cs = storage.initial_state()
        last = self.log.last_index()
        for v in cs.voters:
            self.trk.add(v, 0, last + 1)
        if not hs.is_empty():
            self._load_state(hs)
        if config.applied > 0:
            self.log.applied_to(config.applied)
        self.become_follower(self.term, NONE)
        self.logger.info(
            "%x newRaft [peers: %s, term: %d, commit: %d, applied: %d, lastindex: %d, "
            "lastterm: %d]",
            self.id,
            [f"{v:x}" for v in sorted(self.trk.voters)],
            self.term,
            self.log.committed,
            self.log.applied,
            self.log.last_index(),
            self.log.last_term(),
        )

    # -- state snapshots ----------------------------------------------------------

    def soft_state(self) -> SoftState:
        return SoftState(self.lead, self.state)

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def status(self) -> Status:
        st = Status(
            id=self.id,
            term=self.term,
            vote=self.vote,
            commit=self.log.committed,
            applied=self.log.applied,
            lead=self.lead,
            role=self.state,
            lead_transferee=self.lead_transferee,
        )
        if self.state is LEADER:
            st.progress = {i: pr.to_status() for i, pr in self.trk.progress.items()}
        return st

    def conf_state(self) -> ConfState:
        return self.trk.conf_state()

    def _load_state(self, hs: HardState) -> None:
        if hs.commit < self.log.committed or hs.commit > self.log.last_index():
            raise RaftInvariantError(
                f"member {self.id:x}: persisted commit index {hs.commit} is out of range "
                f"[{self.log.committed}, {self.log.last_index()}]; the log or the hard "
                "state is corrupt or truncated"
            )
        self.log.committed = hs.commit
        self.term = hs.term
        self.vote = hs.vote

    def promotable(self) -> bool:
        return self.id in self.trk.progress and not self.log.has_pending_snapshot()

    # -- sending ------------------------------------------------------------------

    def send(self, m: Message) -> None:
        if m.frm == NONE:
            m.frm = self.id
        t = m.type
        if t not in _EXPLICIT_TERM:
            m.term = self.term
        if self.state is LEADER:
            self.msgs.append(m)
        else:
            self.msgs_after_persist.append(m)

    def read_messages(self) -> list[Message]:
        """Take every queued message (tests; the server uses RawNode.ready())."""
        self.flush_broadcast()
        msgs = self.msgs + self.msgs_after_persist
        self.msgs = []
        self.msgs_after_persist = []
        return msgs

    def flush_broadcast(self) -> None:
        flags = self._bcast_flags
        if flags:
            self._bcast_flags = 0
            if self.state is LEADER:
                self._bcast_append(bool(flags & _BCAST_COMMIT))

    def _maybe_send_append(self, to: int, send_if_empty: bool) -> bool:
        """Send the entries ``to`` misses (or a snapshot); False if nothing was sent."""
        pr = self.trk.progress[to]
        if pr.is_paused():
            return False
        log = self.log
        prev = pr.next - 1
        try:
            log_term = log.term(prev)
            ents = log.entries(pr.next, self.max_msg_size)
        except (CompactedError, UnavailableError):
            return self._send_snapshot(to)
        if not ents and not send_if_empty:
            return False
        if ents:
            state = pr.state
            if state is REPLICATE:
                last = ents[-1].index
                pr.next = last + 1
                pr.inflights.add(last)
            elif state is PROBE:
                pr.probe_sent = True
            else:
                raise RaftInvariantError(f"sending append to {to:x} in state {state.name}")
        self.send(Message(APP, to, NONE, 0, log_term, prev, ents, log.committed))
        return True

    def _send_snapshot(self, to: int) -> bool:
        pr = self.trk.progress[to]
        if not pr.recent_active:
            self.logger.debug(
                "%x ignored sending snapshot to %x since it is not recently active", self.id, to
            )
            return False
        try:
            snap = self.log.snapshot()
        except SnapshotTemporarilyUnavailableError:
            return False
        if snap.is_empty():
            raise RaftInvariantError(
                f"member {self.id:x} must send a snapshot to {to:x} but has none"
            )
        pr.become_snapshot(snap.metadata.index)
        self.logger.info(
            "%x sent snapshot [index: %d, term: %d] to %x",
            self.id,
            snap.metadata.index,
            snap.metadata.term,
            to,
        )
        self.send(Message(SNAP, to=to, snapshot=snap))
        return True

    def _bcast_append(self, send_if_empty: bool = True) -> None:
        for peer in self.trk.progress:
            if peer != self.id:
                self._maybe_send_append(peer, send_if_empty)

    def _bcast_heartbeat(self, ctx: bytes | None = None) -> None:
        if ctx is None:
            ctx = self.read_only.last_pending_request_ctx()
        committed = self.log.committed
        for peer, pr in self.trk.progress.items():
            if peer == self.id:
                continue
            # A follower may not have the entries up to our commit index yet.
            self.send(Message(HEARTBEAT, to=peer, commit=min(pr.match, committed), context=ctx))

    # -- role changes ---------------------------------------------------------------

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self.election_timeout + self.rng.randrange(
            self.election_timeout
        )
        self.lead_transferee = NONE
        self.trk.reset_votes()
        last = self.log.last_index()
        for peer, pr in self.trk.progress.items():
            pr.state = PROBE
            pr.probe_sent = False
            pr.pending_snapshot = 0
            pr.recent_active = False
            pr.inflights.reset()
            pr.next = last + 1
            pr.match = last if peer == self.id else 0
        self.pending_conf_index = 0
        self.read_only = ReadOnly()
        self.pending_read_index = []
        self._bcast_flags = 0

    def become_follower(self, term: int, lead: int) -> None:
        self._reset(term)
        self.lead = lead
        self.state = FOLLOWER
        self.logger.info("%x became follower at term %d", self.id, self.term)

    def become_candidate(self) -> None:
        if self.state is LEADER:
            raise RaftInvariantError("invalid transition [leader -> candidate]")
        self._reset(self.term + 1)
        self.vote = self.id
        self.state = CANDIDATE
        self.logger.info("%x became candidate at term %d", self.id, self.term)

    def become_pre_candidate(self) -> None:
        if self.state is LEADER:
            raise RaftInvariantError("invalid transition [leader -> pre-candidate]")
        # Neither the term nor the vote change: a pre-election is only a question.
        self.trk.reset_votes()
        self.lead = NONE
        self.state = PRE_CANDIDATE
        self.logger.info("%x became pre-candidate at term %d", self.id, self.term)

    def become_leader(self) -> None:
        if self.state is FOLLOWER:
            raise RaftInvariantError("invalid transition [follower -> leader]")
        self._reset(self.term)
        self.lead = self.id
        self.state = LEADER
        pr = self.trk.progress[self.id]
        pr.become_replicate()
        pr.recent_active = True
        # The empty entry of our term: committing it commits everything before it, and
        # until it is applied no configuration change is accepted (pitfall P4, stricter
        # than etcd's pendingConfIndex = lastIndex).
        self._append_entries([Entry(data=b"")])
        self.pending_conf_index = self.log.last_index()
        self._bcast_flags |= _BCAST_COMMIT
        self.logger.info("%x became leader at term %d", self.id, self.term)

    # -- ticks ----------------------------------------------------------------------

    def tick(self) -> None:
        if self.state is LEADER:
            self._tick_heartbeat()
        else:
            self._tick_election()

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.election_elapsed >= self.randomized_election_timeout and self.promotable():
            self.election_elapsed = 0
            self.step(Message(HUP, frm=self.id))

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum:
                self.step(Message(CHECK_QUORUM, frm=self.id))
            # A transfer that did not finish within an election timeout is abandoned.
            if self.state is LEADER and self.lead_transferee != NONE:
                self.logger.info(
                    "%x [term %d] abort transferring leadership to %x",
                    self.id,
                    self.term,
                    self.lead_transferee,
                )
                self.lead_transferee = NONE
        if self.state is not LEADER:
            return
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self.step(Message(BEAT, frm=self.id))

    # -- elections ------------------------------------------------------------------

    def _has_unapplied_conf_changes(self) -> bool:
        log = self.log
        if log.applied >= log.committed:
            return False
        lo = max(log.applied + 1, log.first_index())
        if lo > log.committed:
            return False
        return any(e.type == CONF_CHANGE for e in log.slice(lo, log.committed + 1))

    def _hup(self, kind: int) -> None:
        if self.state is LEADER:
            return
        if not self.promotable():
            self.logger.warning("%x is unpromotable and can not campaign", self.id)
            return
        # Votes are counted with the applied configuration; a committed but unapplied
        # change could make our quorum differ from everyone else's.
        if self._has_unapplied_conf_changes():
            self.logger.warning(
                "%x cannot campaign at term %d since there are still pending configuration "
                "changes to apply",
                self.id,
                self.term,
            )
            return
        self.logger.info("%x is starting a new election at term %d", self.id, self.term)
        self._campaign(kind)

    def _campaign(self, kind: int) -> None:
        if kind == CAMPAIGN_PRE_ELECTION:
            self.become_pre_candidate()
            vote_type, resp_type = PRE_VOTE, PRE_VOTE_RESP
            term = self.term + 1  # the term we would run for
        else:
            self.become_candidate()
            vote_type, resp_type = VOTE, VOTE_RESP
            term = self.term
        _, _, result = self._poll(self.id, resp_type, True)
        if result is VoteResult.WON:
            # A single-voter cluster wins on its own vote.
            if kind == CAMPAIGN_PRE_ELECTION:
                self._campaign(CAMPAIGN_ELECTION)
            else:
                self.become_leader()
            return
        ctx = TRANSFER_CONTEXT if kind == CAMPAIGN_TRANSFER else b""
        last_index = self.log.last_index()
        last_term = self.log.last_term()
        for peer in sorted(self.trk.voters):
            if peer == self.id:
                continue
            self.logger.info(
                "%x [logterm: %d, index: %d] sent %s request to %x at term %d",
                self.id,
                last_term,
                last_index,
                vote_type.name,
                peer,
                self.term,
            )
            self.send(
                Message(
                    vote_type, to=peer, term=term, log_term=last_term, index=last_index, context=ctx
                )
            )

    def _poll(self, peer: int, t: MessageType, granted: bool) -> tuple[int, int, VoteResult]:
        if granted:
            self.logger.info("%x received %s from %x at term %d", self.id, t.name, peer, self.term)
        else:
            self.logger.info(
                "%x received %s rejection from %x at term %d", self.id, t.name, peer, self.term
            )
        self.trk.record_vote(peer, granted)
        return self.trk.tally_votes()

    # -- stepping -------------------------------------------------------------------

    def step(self, m: Message) -> None:
        """Process one message (local or from a peer). Raises ProposalDropped for a
        proposal or read request that cannot be accepted."""
        t = m.type
        if m.term == 0:
            pass  # local message, or a forwarded proposal / read request
        elif m.term > self.term:
            if t in (VOTE, PRE_VOTE):
                force = m.context == TRANSFER_CONTEXT
                in_lease = (
                    self.check_quorum
                    and self.lead != NONE
                    and self.election_elapsed < self.election_timeout
                )
                if not force and in_lease:
                    # We heard from a leader within the minimum election timeout: this
                    # candidate is disruptive (e.g. it was partitioned away).
                    self.logger.info(
                        "%x [logterm: %d, index: %d, vote: %x] ignored %s from %x [logterm: "
                        "%d, index: %d] at term %d: lease is not expired (remaining ticks: %d)",
                        self.id,
                        self.log.last_term(),
                        self.log.last_index(),
                        self.vote,
                        t.name,
                        m.frm,
                        m.log_term,
                        m.index,
                        self.term,
                        self.election_timeout - self.election_elapsed,
                    )
                    return
            if t == PRE_VOTE:
                pass  # never change our term because of a pre-vote
            elif t == PRE_VOTE_RESP and not m.reject:
                pass  # a granted pre-vote carries the future term we asked about
            else:
                self.logger.info(
                    "%x [term: %d] received a %s message with higher term from %x [term: %d]",
                    self.id,
                    self.term,
                    t.name,
                    m.frm,
                    m.term,
                )
                if t in (APP, HEARTBEAT, SNAP):
                    self.become_follower(m.term, m.frm)
                else:
                    self.become_follower(m.term, NONE)
        elif m.term < self.term:
            if (self.check_quorum or self.pre_vote) and t in (HEARTBEAT, APP):
                # A stale leader (or a member that raised its term while isolated) must
                # learn our term, otherwise it never steps down or rejoins.
                self.send(Message(APP_RESP, to=m.frm))
            elif t == PRE_VOTE:
                # Answer with our term so a pre-candidate stuck at an old term catches up.
                self.send(Message(PRE_VOTE_RESP, to=m.frm, term=self.term, reject=True))
            return

        if t == HUP:
            self._hup(CAMPAIGN_PRE_ELECTION if self.pre_vote else CAMPAIGN_ELECTION)
        elif t in (VOTE, PRE_VOTE):
            self._handle_vote_request(m)
        elif self.state is LEADER:
            self._step_leader(m)
        elif self.state is FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def _handle_vote_request(self, m: Message) -> None:
        t = m.type
        resp = VOTE_RESP if t == VOTE else PRE_VOTE_RESP
        can_vote = (
            self.vote == m.frm
            or (self.vote == NONE and self.lead == NONE)
            or (t == PRE_VOTE and m.term > self.term)
        )
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self.logger.info(
                "%x [logterm: %d, index: %d, vote: %x] cast %s for %x [logterm: %d, index: %d] "
                "at term %d",
                self.id,
                self.log.last_term(),
                self.log.last_index(),
                self.vote,
                t.name,
                m.frm,
                m.log_term,
                m.index,
                self.term,
            )
            # The response carries the campaign's term: a pre-vote does not change ours.
            self.send(Message(resp, to=m.frm, term=m.term))
            if t == VOTE:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self.logger.info(
                "%x [logterm: %d, index: %d, vote: %x] rejected %s from %x [logterm: %d, "
                "index: %d] at term %d",
                self.id,
                self.log.last_term(),
                self.log.last_index(),
                self.vote,
                t.name,
                m.frm,
                m.log_term,
                m.index,
                self.term,
            )
            self.send(Message(resp, to=m.frm, term=self.term, reject=True))

    # -- leader ---------------------------------------------------------------------

    def _step_leader(self, m: Message) -> None:
        t = m.type
        if t == APP_RESP:
            self._leader_app_resp(m)
            return
        if t == PROP:
            self._leader_propose(m.entries)
            return
        if t == HEARTBEAT_RESP:
            self._leader_heartbeat_resp(m)
            return
        if t == BEAT:
            self._bcast_heartbeat()
            return
        if t == CHECK_QUORUM:
            if not self.trk.quorum_active(self.id):
                self.logger.warning(
                    "%x stepped down to follower since quorum is not active", self.id
                )
                self.become_follower(self.term, NONE)
                return
            for peer, pr in self.trk.progress.items():
                if peer != self.id:
                    pr.recent_active = False
            return
        if t == READ_INDEX:
            self._leader_read_index(m)
            return
        pr = self.trk.progress.get(m.frm)
        if pr is None:
            return
        if t == SNAP_STATUS:
            if pr.state is not SNAPSHOT:
                return
            if m.reject:
                # Probe from the old match, the snapshot never arrived.
                pr.pending_snapshot = 0
            pr.become_probe()
            # Wait for an append response (success) or a heartbeat (failure) first.
            pr.probe_sent = True
            self.logger.debug(
                "%x snapshot %s, resumed sending replication messages to %x",
                self.id,
                "failed" if m.reject else "succeeded",
                m.frm,
            )
        elif t == UNREACHABLE:
            # An optimistic append was most likely lost: fall back to probing.
            if pr.state is REPLICATE:
                pr.become_probe()
        elif t == TRANSFER_LEADER:
            self._leader_transfer(m.frm)

    def _leader_app_resp(self, m: Message) -> None:
        pr = self.trk.progress.get(m.frm)
        if pr is None:
            return
        pr.recent_active = True
        frm = m.frm
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                # Skip every entry of ours whose term is above the follower's hint term.
                next_probe, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, next_probe):
                if pr.state is REPLICATE:
                    pr.become_probe()
                self._maybe_send_append(frm, True)
            return
        old_paused = pr.is_paused()
        if pr.maybe_update(m.index) or (pr.match == m.index and pr.state is PROBE):
            state = pr.state
            if state is REPLICATE:
                pr.inflights.free_le(m.index)
            elif state is PROBE:
                pr.become_replicate()
            elif pr.match + 1 >= self.log.first_index():
                # Caught up (by our snapshot or any other): the log can serve it again.
                pr.become_probe()
                pr.become_replicate()
            if self._maybe_commit():
                self._release_pending_read_index()
                self._bcast_flags |= _BCAST_COMMIT
            elif old_paused:
                self._maybe_send_append(frm, True)
            # The window may allow several messages now (e.g. probe -> replicate).
            while self._maybe_send_append(frm, False):
                pass
            if frm == self.lead_transferee and pr.match == self.log.last_index():
                self.logger.info(
                    "%x sent MsgTimeoutNow to %x after received MsgAppResp", self.id, frm
                )
                self.send(Message(TIMEOUT_NOW, to=frm))

    def _leader_heartbeat_resp(self, m: Message) -> None:
        pr = self.trk.progress.get(m.frm)
        if pr is None:
            return
        pr.recent_active = True
        pr.probe_sent = False
        # Free one slot so a stalled pipeline can make progress again.
        if pr.state is REPLICATE and pr.inflights.full():
            pr.inflights.free_first_one()
        if pr.match < self.log.last_index():
            self._maybe_send_append(m.frm, True)
        if not m.context:
            return
        acks = self.read_only.recv_ack(m.frm, m.context)
        if acks is None:
            return
        voters = self.trk.voters
        if sum(1 for a in acks if a in voters) < self.trk.quorum():
            return
        for rs in self.read_only.advance(m.context):
            self._answer_read_index(rs.req, rs.index)

    def _leader_propose(self, entries: list[Entry]) -> None:
        if not entries:
            raise RaftInvariantError(f"member {self.id:x} stepped an empty proposal")
        self._check_can_propose()
        ents = []
        pending = self.pending_conf_index > self.log.applied
        last = self.log.last_index()
        for i, e in enumerate(entries):
            etype = e.type
            data = e.data
            if etype == CONF_CHANGE:
                if pending:
                    self.logger.info(
                        "%x ignoring conf change at index %d: a change at index %d is not "
                        "applied yet (applied %d)",
                        self.id,
                        last + i + 1,
                        self.pending_conf_index,
                        self.log.applied,
                    )
                    etype, data = NORMAL, b""
                else:
                    self.pending_conf_index = last + i + 1
                    pending = True
            ents.append(Entry(0, 0, etype, data))
        self._append_entries(ents)
        self._bcast_flags |= _BCAST_ENTRIES

    def _check_can_propose(self) -> None:
        if self.id not in self.trk.progress:
            raise ProposalDropped(
                f"member {self.id:x} was removed from the cluster and drops proposals"
            )
        if self.lead_transferee != NONE:
            raise ProposalDropped(
                f"leader {self.id:x} is transferring leadership to {self.lead_transferee:x}; "
                "retry once the new leader is elected"
            )

    def _append_entries(self, ents: list[Entry]) -> None:
        """Append fresh entries (their term and index are assigned here)."""
        log = self.log
        li = log.last_index()
        term = self.term
        for e in ents:
            li += 1
            e.term = term
            e.index = li
        log.unstable.truncate_and_append(ents)
        self.trk.progress[self.id].maybe_update(li)
        # Only a single voter can commit by appending.
        if len(self.trk.voters) == 1:
            self._maybe_commit()

    def propose_one(self, data: bytes) -> None:
        """Propose one normal entry: the per-request hot path of a leader."""
        pr = self.trk.progress.get(self.id)
        if self.state is not LEADER or self.lead_transferee != NONE or pr is None:
            self.propose_data((data,))
            return
        index = self.log.last_index() + 1
        self.log.unstable.truncate_and_append([Entry(self.term, index, NORMAL, data)])
        pr.match = index
        pr.next = index + 1
        if len(self.trk.voters) == 1:
            self._maybe_commit()
        self._bcast_flags |= _BCAST_ENTRIES

    def propose_data(self, datas: Sequence[bytes]) -> None:
        """Propose normal entries (the fast path of RawNode.propose)."""
        state = self.state
        if state is LEADER:
            self._check_can_propose()
            li = self.log.last_index()
            term = self.term
            ents = [Entry(term, li + 1 + i, NORMAL, d) for i, d in enumerate(datas)]
            if not ents:
                return
            self.log.unstable.truncate_and_append(ents)
            self.trk.progress[self.id].maybe_update(ents[-1].index)
            if len(self.trk.voters) == 1:
                self._maybe_commit()
            self._bcast_flags |= _BCAST_ENTRIES
        elif state is FOLLOWER:
            if self.lead == NONE:
                raise ProposalDropped(
                    f"member {self.id:x} knows no leader at term {self.term}; retry once one "
                    "is elected"
                )
            self.send(Message(PROP, to=self.lead, entries=[Entry(data=d) for d in datas]))
        else:
            raise ProposalDropped(
                f"member {self.id:x} is campaigning at term {self.term} and knows no leader; "
                "retry once one is elected"
            )

    def _maybe_commit(self) -> bool:
        return self.log.maybe_commit(self.trk.committed(), self.term)

    def _committed_entry_in_current_term(self) -> bool:
        return self.log.zero_term_on_out_of_range(self.log.committed) == self.term

    def _leader_read_index(self, m: Message) -> None:
        if self.trk.is_singleton():
            self._answer_read_index(m, self.log.committed)
            return
        # Our commit index is only known to be current once an entry of our own term is
        # committed; until then hold the request.
        if not self._committed_entry_in_current_term():
            self.pending_read_index.append(m)
            return
        self._start_read_index(m)

    def _start_read_index(self, m: Message) -> None:
        ctx = m.entries[0].data
        self.read_only.add_request(self.log.committed, m)
        self.read_only.recv_ack(self.id, ctx)
        self._bcast_heartbeat(ctx)

    def _release_pending_read_index(self) -> None:
        if not self.pending_read_index or not self._committed_entry_in_current_term():
            return
        msgs = self.pending_read_index
        self.pending_read_index = []
        for m in msgs:
            self._start_read_index(m)

    def _answer_read_index(self, req: Message, index: int) -> None:
        if req.frm == NONE or req.frm == self.id:
            self.read_states.append(ReadState(index, req.entries[0].data))
        else:
            self.send(Message(READ_INDEX_RESP, to=req.frm, index=index, entries=req.entries))

    def _leader_transfer(self, transferee: int) -> None:
        last = self.lead_transferee
        if last != NONE:
            if last == transferee:
                self.logger.info(
                    "%x [term %d] transfer leadership to %x is in progress, ignores request to "
                    "same node %x",
                    self.id,
                    self.term,
                    transferee,
                    transferee,
                )
                return
            self.logger.info(
                "%x [term %d] abort previous transferring leadership to %x",
                self.id,
                self.term,
                last,
            )
            self.lead_transferee = NONE
        if transferee == self.id:
            return
        self.logger.info(
            "%x [term %d] starts to transfer leadership to %x", self.id, self.term, transferee
        )
        # The transfer must finish within one election timeout.
        self.election_elapsed = 0
        self.lead_transferee = transferee
        if self.trk.progress[transferee].match == self.log.last_index():
            self.send(Message(TIMEOUT_NOW, to=transferee))
        else:
            self._maybe_send_append(transferee, True)

    # -- candidate ------------------------------------------------------------------

    def _step_candidate(self, m: Message) -> None:
        t = m.type
        my_resp = PRE_VOTE_RESP if self.state is PRE_CANDIDATE else VOTE_RESP
        if t == PROP:
            raise ProposalDropped(
                f"member {self.id:x} is campaigning at term {self.term} and knows no leader; "
                "retry once one is elected"
            )
        if t == READ_INDEX:
            raise ProposalDropped(
                f"member {self.id:x} is campaigning at term {self.term}; read index dropped"
            )
        if t == APP:
            self.become_follower(m.term, m.frm)  # m.term == self.term here
            self._handle_append_entries(m)
        elif t == HEARTBEAT:
            self.become_follower(m.term, m.frm)
            self._handle_heartbeat(m)
        elif t == SNAP:
            self.become_follower(m.term, m.frm)
            self._handle_snapshot(m)
        elif t == my_resp:
            granted, rejected, result = self._poll(m.frm, t, not m.reject)
            self.logger.info(
                "%x has received %d %s votes and %d vote rejections",
                self.id,
                granted,
                t.name,
                rejected,
            )
            if result is VoteResult.WON:
                if self.state is PRE_CANDIDATE:
                    self._campaign(CAMPAIGN_ELECTION)
                else:
                    self.become_leader()
            elif result is VoteResult.LOST:
                # A granted pre-vote response carries a future term: keep ours.
                self.become_follower(self.term, NONE)

    # -- follower -------------------------------------------------------------------

    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t == APP:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_append_entries(m)
        elif t == HEARTBEAT:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_heartbeat(m)
        elif t == PROP:
            if self.lead == NONE:
                raise ProposalDropped(
                    f"member {self.id:x} knows no leader at term {self.term}; retry once one "
                    "is elected"
                )
            self.send(Message(PROP, to=self.lead, entries=m.entries))
        elif t == SNAP:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_snapshot(m)
        elif t == TRANSFER_LEADER:
            if self.lead == NONE:
                self.logger.info(
                    "%x no leader at term %d; dropping leader transfer msg", self.id, self.term
                )
                return
            self.send(Message(TRANSFER_LEADER, to=self.lead, frm=m.frm))
        elif t == TIMEOUT_NOW:
            self.logger.info(
                "%x [term %d] received MsgTimeoutNow from %x and starts an election to get "
                "leadership.",
                self.id,
                self.term,
                m.frm,
            )
            # A transfer skips pre-vote: the leader itself asked for it.
            self._hup(CAMPAIGN_TRANSFER)
        elif t == READ_INDEX:
            if self.lead == NONE:
                raise ProposalDropped(
                    f"member {self.id:x} knows no leader at term {self.term}; read index dropped"
                )
            self.send(Message(READ_INDEX, to=self.lead, entries=m.entries))
        elif t == READ_INDEX_RESP:
            if len(m.entries) != 1:
                self.logger.error(
                    "%x invalid format of MsgReadIndexResp from %x, entries count: %d",
                    self.id,
                    m.frm,
                    len(m.entries),
                )
                return
            self.read_states.append(ReadState(m.index, m.entries[0].data))

    def _handle_append_entries(self, m: Message) -> None:
        log = self.log
        if m.index < log.committed:
            self.send(Message(APP_RESP, to=m.frm, index=log.committed))
            return
        last_new = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self.send(Message(APP_RESP, to=m.frm, index=last_new))
            return
        # Hint the largest (index, term) at which our logs could still match, so the
        # leader skips a whole divergent term per round trip.
        hint_index = min(m.index, log.last_index())
        hint_index, hint_term = log.find_conflict_by_term(hint_index, m.log_term)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "%x [logterm: %d, index: %d] rejected MsgApp [logterm: %d, index: %d] from %x",
                self.id,
                log.zero_term_on_out_of_range(m.index),
                m.index,
                m.log_term,
                m.index,
                m.frm,
            )
        self.send(
            Message(
                APP_RESP,
                to=m.frm,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def _handle_heartbeat(self, m: Message) -> None:
        self.log.commit_to(m.commit)
        self.send(Message(HEARTBEAT_RESP, to=m.frm, context=m.context))

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        if snap is None:
            return
        md = snap.metadata
        if self._restore(snap):
            self.logger.info(
                "%x [commit: %d] restored snapshot [index: %d, term: %d]",
                self.id,
                self.log.committed,
                md.index,
                md.term,
            )
            self.send(Message(APP_RESP, to=m.frm, index=self.log.last_index()))
        else:
            self.logger.info(
                "%x [commit: %d] ignored snapshot [index: %d, term: %d]",
                self.id,
                self.log.committed,
                md.index,
                md.term,
            )
            self.send(Message(APP_RESP, to=m.frm, index=self.log.committed))

    def _restore(self, snap: Snapshot) -> bool:
        md = snap.metadata
        if md.index <= self.log.committed:
            return False
        if self.state is not FOLLOWER:
            # Defense in depth: only a follower installs snapshots.
            self.logger.warning("%x attempted to restore snapshot as leader", self.id)
            self.become_follower(self.term + 1, NONE)
            return False
        if self.log.match_term(md.index, md.term):
            # We already have the snapshot's entry: just learn it is committed.
            self.log.commit_to(md.index)
            return False
        if self.log.applying > self.log.applied:
            # The server is applying entries we handed out (between ready() and
            # advance()); replacing the configuration now would let an older conf change
            # be applied on top of the snapshot's. The leader sends the snapshot again.
            self.logger.info(
                "%x deferred snapshot [index: %d]: entries up to %d are being applied",
                self.id,
                md.index,
                self.log.applying,
            )
            return False
        self.log.restore(snap)
        # The membership is the snapshot's (possibly without us, if we were added after
        # it was taken: then we are not promotable until our addition is applied).
        self.trk = ProgressTracker(self.max_inflight)
        last = self.log.last_index()
        for v in md.conf_state.voters:
            self.trk.add(v, last if v == self.id else 0, last + 1)
        return True

    # -- configuration changes -------------------------------------------------------

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Apply a committed configuration change; a NodeID of 0 means "cancelled"."""
        if cc.node_id == NONE:
            return self.trk.conf_state()
        if cc.type == ConfChangeType.ADD_NODE:
            self._add_node(cc.node_id)
        elif cc.type == ConfChangeType.REMOVE_NODE:
            self._remove_node(cc.node_id)
        return self.trk.conf_state()

    def _add_node(self, node_id: int) -> None:
        if node_id in self.trk.progress:
            return  # e.g. the bootstrap entries, applied once at start and once in Ready
        pr = self.trk.add(node_id, 0, self.log.last_index() + 1)
        # A new member counts as active, or check-quorum could depose us before it
        # had a chance to answer.
        pr.recent_active = True
        self.logger.info("%x added member %x to the configuration", self.id, node_id)
        if self.state is LEADER and node_id != self.id:
            self._maybe_send_append(node_id, True)

    def _remove_node(self, node_id: int) -> None:
        if node_id not in self.trk.progress:
            return
        self.trk.remove(node_id)
        self.logger.info("%x removed member %x from the configuration", self.id, node_id)
        if node_id == self.id:
            if self.state is LEADER:
                self.logger.info("%x stepped down: this leader was removed", self.id)
                self.become_follower(self.term, NONE)
            return
        if not self.trk.voters or self.state is not LEADER:
            return
        # A smaller quorum may commit more now.
        if self._maybe_commit():
            self._release_pending_read_index()
            self._bcast_flags |= _BCAST_COMMIT
        if self.lead_transferee == node_id:
            self.lead_transferee = NONE

    def progress_status(self) -> dict[int, PeerStatus]:
        return {i: pr.to_status() for i, pr in self.trk.progress.items()}
