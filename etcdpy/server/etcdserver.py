"""The member: the one place where Raft, storage, the key space and the peers meet.

``await server.do(request)`` answers every v2 keys request. Plain reads and watches are
served from the local store; writes are proposed through Raft, persisted to the WAL
(one fsync per batch), replicated to a quorum, applied in log order on every member with
:func:`apply_request`, and answered on the member that took them once applied there;
``quorum=true`` reads wait for a ReadIndex round and for this member to have applied up
to it, so they are linearizable from any member.

One task runs the Raft loop (etcd's ``raftNode``): take a Ready, send (the leader before
its own fsync), persist, append, send (followers after), apply, advance. Proposals,
peer messages and ticks reach the core between those steps, so everything that arrives
during one fsync is written by the next: group commit without a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from etcdpy.raft import ProposalDropped, RaftError, Ready, Role, SoftState
from etcdpy.raft.types import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    Message,
    MessageType,
    Snapshot,
)
from etcdpy.server.applier import apply_request
from etcdpy.server.bootstrap import CATCH_UP_ENTRIES, Boot, bootstrap
from etcdpy.server.config import Config
from etcdpy.server.errors import (
    ERR_NOT_ENOUGH_STARTED,
    ERR_STOPPED,
    ERR_TIMEOUT,
    ERR_TIMEOUT_LEADER_FAIL,
    ERR_UNKNOWN_METHOD,
    ServerError,
)
from etcdpy.server.idgen import RequestIDs
from etcdpy.server.member import Member, id_str, member_id
from etcdpy.server.membership import (
    VERSION_KEY,
    MemberIDExists,
    MemberNotFound,
    MemberRemoved,
    Membership,
    MembershipError,
    PeerURLExists,
    attributes_key,
    attributes_value,
    decode_conf_context,
    encode_conf_context,
    member_key,
    membership_from_store,
    parse_attributes_key,
    raft_attributes_key,
    raft_attributes_value,
    removed_member_key,
)
from etcdpy.server.request import Request
from etcdpy.server.stats import (
    STATE_CANDIDATE,
    STATE_FOLLOWER,
    STATE_LEADER,
    ServerStats,
)
from etcdpy.server.storage import DataDirError, MemberStorage
from etcdpy.server.tls import client_context, peer_files
from etcdpy.server.transport import Transport, TransportHooks
from etcdpy.store import EtcdError, Event, Store, StoreSnapshotError, Watcher
from etcdpy.version import ETCD_CLUSTER_VERSION
from etcdpy.wal import WalError, WalUsageError

__all__ = [
    "EtcdServer",
    "MemberIDExists",
    "MemberNotFound",
    "MemberRemoved",
    "PeerURLExists",
    "ServerError",
]

log = logging.getLogger(__name__)

_NS = 1_000_000_000
# The leader proposes a SYNC (expire TTL keys at its clock) at least this often while
# a TTL key is due; sooner when the earliest one is due sooner.
SYNC_INTERVAL_S = 0.5
# etcd purges old snapshot and WAL files this often.
PURGE_INTERVAL_S = 30.0
# A removed member lingers this long so the change it applied reaches its peers.
REMOVED_STOP_DELAY_S = 1.0
# A follower rejecting appends with a log shorter than what it acknowledged this many
# times in a row has lost data (once could be a message overtaken by a later ack).
LOST_ACK_REJECTIONS = 3
# The v2 auth switch lives here; etcd reads it (a store get) before serving keys.
AUTH_ENABLED_KEY = "/2/enabled"

_ROLE_STATE = {
    Role.LEADER: STATE_LEADER,
    Role.FOLLOWER: STATE_FOLLOWER,
    Role.CANDIDATE: STATE_CANDIDATE,
    Role.PRE_CANDIDATE: STATE_CANDIDATE,
}


class EtcdServer:
    """One member of a cluster."""

    def __init__(self, cfg: Config, clock: Callable[[], int] = time.time_ns) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._clock = clock
        self.id = 0
        self.cluster_id = 0
        self.store = Store()
        self.membership = Membership()
        self._req_timeout = 5.0 + 2 * cfg.election_timeout_ms / 1000.0
        self._leader: int | None = None
        self._role = Role.FOLLOWER
        self._leader_known = asyncio.Event()
        self._started = False
        self._stopping = False
        self._done = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._raft_task: asyncio.Task[None] | None = None
        # Proposals waiting for the Raft loop, and requests waiting to be applied.
        self._pending: list[bytes] = []
        self._pending_ids: list[int] = []
        self._waiters: dict[int, asyncio.Future[Any]] = {}
        self._deadlines: deque[tuple[float, int]] = deque()
        # Linearizable reads: waiting for a ReadIndex round, then for the apply.
        self._read_waiters: list[asyncio.Future[None]] = []
        self._read_wake = asyncio.Event()
        self._read_ctx: dict[bytes, asyncio.Future[int]] = {}
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._applied_seq = 0
        self._applied = 0
        self._conf_state = ConfState()
        self._snap_index = 0
        self._disk_error: str | None = None
        self._leader_duty = asyncio.Event()
        self._published = False
        self._campaign_pending = False
        # Why the member stopped on its own, for the operator (wait_stopped raises it).
        self._fatal: str | None = None
        self._lost_acks: dict[int, int] = {}

    # --- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Bootstrap from the flags and the data dir, then run Raft and the peers."""
        self._loop = asyncio.get_running_loop()
        boot = await bootstrap(self.cfg)
        self._adopt(boot)
        self.stats = ServerStats(self.name, self.id, self._clock())
        self._ids = RequestIDs(self.id, self._clock() // 1_000_000)
        self.transport = Transport(
            self.id,
            self.cluster_id,
            TransportHooks(
                deliver=self._deliver,
                unreachable=self._report_unreachable,
                snapshot_status=self._report_snapshot,
                removed=self._on_removed,
                is_removed=lambda mid: mid in self.membership.removed,
                members_json=self._members_json,
                mismatch=self._on_cluster_mismatch,
                lost_data=self._on_lost_data,
            ),
            ssl_context=client_context(peer_files(self.cfg)),
        )
        for mid, urls in boot.initial_peers.items():
            if mid != self.id:
                self.transport.add_peer(mid, urls)
        self._started = True
        loop = asyncio.get_running_loop()
        self._raft_task = loop.create_task(self._run_raft(), name="etcdpy-raft")
        for coro, name in (
            (self._run_ticker(), "etcdpy-tick"),
            (self._run_reads(), "etcdpy-reads"),
            (self._run_leader_duties(), "etcdpy-leader"),
            (self._publish(), "etcdpy-publish"),
            (self._run_purge(), "etcdpy-purge"),
        ):
            self._tasks.append(loop.create_task(coro, name=name))
        self._campaign_if_alone()

    def _adopt(self, boot: Boot) -> None:
        self.id = boot.member_id
        self.cluster_id = boot.cluster_id
        self.store = boot.store
        self.node = boot.node
        self.raft_storage = boot.raft_storage
        self.disk: MemberStorage = boot.disk
        self.membership = boot.membership
        self.membership.cluster_id = boot.cluster_id
        self._applied = boot.snapshot_index
        self._snap_index = boot.snapshot_index
        self._conf_state = self.node.raft.conf_state()
        if self.id in self.membership.removed:
            from etcdpy.server.config import ConfigError

            boot.disk.close()
            raise ConfigError(self._removed_sentence())

    def _campaign_if_alone(self) -> None:
        voters = self.node.raft.trk.voters
        if voters == {self.id}:
            # A lone member elects itself at once, after the Raft loop has applied the
            # configuration entries it starts with.
            self._campaign_pending = True
            self._kick()
        elif len(voters) > 1:
            # etcd's advanceTicksForElection: the first election comes one tick after
            # start instead of a whole election timeout later.
            for _ in range(self.cfg.election_ticks - 1):
                self.node.tick()

    async def stop(self) -> None:
        """Stop serving: end the Raft loop, the peers and the WAL; idempotent."""
        if self._stopping:
            await self._done.wait()
            return
        self._stopping = True
        self._set_leader(None)
        tasks = [t for t in (self._raft_task, *self._tasks) if t is not None]
        current = asyncio.current_task()
        for t in tasks:
            if t is not current:
                t.cancel()
        for t in tasks:
            if t is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        self._fail_waiters(ServerError(ERR_STOPPED))
        if self._started:
            await self.transport.stop()
            await asyncio.to_thread(self.disk.close)
        self._done.set()

    async def wait_stopped(self) -> None:
        """Return once the member has stopped (stop(), or it was removed); raise
        DataDirError when it stopped because its data dir cannot serve this cluster."""
        await self._done.wait()
        if self._fatal is not None:
            raise DataDirError(self._fatal)

    def _stop_fatally(self, message: str) -> None:
        if self._fatal is not None or self._stopping:
            return
        self._fatal = message
        log.critical("%s", message)
        asyncio.get_running_loop().create_task(self.stop())

    # --- the door --------------------------------------------------------------------

    async def do(self, req: Request) -> Event | Watcher:
        """Serve one v2 keys request (see the module docstring). Raises the store's
        ``EtcdError`` or :class:`ServerError` (etcd's error 300)."""
        self._check_running()
        if req.id == 0:
            req.id = self._ids.next()
        m = req.method
        if m == "GET":
            # etcd 3.4 checks quorum first: wait=true&quorum=true is a quorum read.
            if req.quorum:
                await self.linearizable_read()
            elif req.wait:
                return self.store.watch(
                    req.path, req.recursive, req.stream, req.since, self._clock()
                )
            return self.store.get(req.path, req.recursive, req.sorted, self._clock())
        if m in ("PUT", "POST", "DELETE"):
            if not req.time:
                req.time = self._clock()
            result = await self._propose(req)
            assert isinstance(result, Event)
            return result
        if m == "HEAD":
            return self.store.get(req.path, req.recursive, req.sorted, self._clock())
        raise ServerError(ERR_UNKNOWN_METHOD)

    def auth_enabled(self, count: bool = True) -> bool:
        """Whether v2 auth is on (``/2/enabled`` in the store, as etcd keeps it). etcd
        reads it with a store get on every request, which the store statistics count;
        so do we, without building the error a missing key would raise."""
        value = self.store.peek(AUTH_ENABLED_KEY)
        if count:
            self.store.record_get(value is not None)
        return value == "true"

    def _check_running(self) -> None:
        if self._stopping or not self._started:
            raise ServerError(ERR_STOPPED)

    async def _propose(self, req: Request) -> Any:
        """Propose ``req`` and return what applying it gave (raising store errors)."""
        if self._disk_error:
            raise ServerError(self._disk_error)
        if self._leader is None:
            await self._wait_for_leader()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[req.id] = fut
        self._pending.append(req.encode())
        self._pending_ids.append(req.id)
        self._kick()
        result = await self._wait_applied(req.id, fut)
        del fut  # it holds the result too
        if isinstance(result, Exception):
            err, result = result, None
            try:
                raise err
            finally:
                del err  # no cycle: error -> traceback -> this frame -> error
        return result

    async def _wait_applied(self, rid: int, fut: asyncio.Future[Any]) -> Any:
        # Every request has the same timeout, so deadlines come in order: a queue that
        # the ticker sweeps costs less than a timer per request.
        self._deadlines.append((self._loop.time() + self._req_timeout, rid))
        try:
            return await fut
        finally:
            self._waiters.pop(rid, None)

    def _expire_requests(self) -> None:
        """Fail the requests whose time is up (etcd's 'request timed out')."""
        now = self._loop.time()
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            self._time_out(deadlines.popleft()[1])

    def _time_out(self, rid: int) -> None:
        fut = self._waiters.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_exception(ServerError(ERR_TIMEOUT))

    async def _wait_for_leader(self) -> None:
        if self._leader is not None:
            return
        # etcd's proposal waits for a leader within the request timeout, then says so.
        try:
            await asyncio.wait_for(self._leader_known.wait(), self._req_timeout)
        except TimeoutError:
            raise ServerError(ERR_TIMEOUT) from None
        if self._stopping:
            raise ServerError(ERR_STOPPED)

    def _fail_waiters(self, err: Exception) -> None:
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_exception(err)
        reads, self._read_waiters = self._read_waiters, []
        for rfut in reads:
            if not rfut.done():
                rfut.set_exception(err)
        ctxs, self._read_ctx = self._read_ctx, {}
        for cfut in ctxs.values():
            if not cfut.done():
                cfut.set_exception(err)
        self._pending.clear()
        self._pending_ids.clear()

    # --- linearizable reads -------------------------------------------------------------

    async def linearizable_read(self) -> None:
        """Return once this member's state is at least as new as the cluster's when the
        call began (a ReadIndex round, batched with the reads that arrive meanwhile).
        Raises ServerError (no leader, timeout)."""
        raft = self.node.raft
        if (
            self._leader == self.id
            and raft.trk.voters == {self.id}
            and raft.log.committed <= self._applied
        ):
            # A lone voter that leads cannot be deposed, and has applied everything
            # committed: its own state is the linearizable one (what ReadIndex would
            # answer at once, without the round through the Raft loop).
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._read_waiters.append(fut)
        self._read_wake.set()
        await fut

    async def _run_reads(self) -> None:
        """One ReadIndex round serves every read that arrived before it began (etcd's
        linearizableReadLoop), so many concurrent quorum reads cost one heartbeat round."""
        while not self._stopping:
            await self._read_wake.wait()
            self._read_wake.clear()
            batch, self._read_waiters = self._read_waiters, []
            if not batch:
                continue
            try:
                await asyncio.wait_for(self._read_index_once(), self._req_timeout)
                err: Exception | None = None
            except TimeoutError:
                err = ServerError(ERR_TIMEOUT)
            except ServerError as e:
                err = e
            for fut in batch:
                if fut.done():
                    continue
                if err is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(err)

    async def _read_index_once(self) -> None:
        await self._wait_for_leader()
        ctx = struct.pack(">Q", self._ids.next())
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        self._read_ctx[ctx] = fut
        try:
            try:
                self.node.read_index(ctx)
            except ProposalDropped:
                raise ServerError(ERR_TIMEOUT_LEADER_FAIL) from None
            self._kick()
            index = await fut
        finally:
            self._read_ctx.pop(ctx, None)
        if self._applied < index:
            done: asyncio.Future[None] = loop.create_future()
            self._applied_seq += 1
            heapq.heappush(self._applied_waiters, (index, self._applied_seq, done))
            await done

    def _release_applied_waiters(self) -> None:
        w = self._applied_waiters
        while w and w[0][0] <= self._applied:
            _, _, fut = heapq.heappop(w)
            if not fut.done():
                fut.set_result(None)

    # --- the Raft loop ---------------------------------------------------------------------

    def _kick(self) -> None:
        self._wake.set()

    async def _run_ticker(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.cfg.heartbeat_interval_ms / 1000.0
        nxt = loop.time()
        while True:
            nxt += interval
            await asyncio.sleep(max(0.0, nxt - loop.time()))
            now = loop.time()
            if now - nxt > interval:
                # The loop was held up: lose the ticks rather than burst them.
                nxt = now
            self.node.tick()
            self._kick()
            if self._deadlines:
                self._expire_requests()

    def _pending_conf_changes(self) -> bool:
        log_ = self.node.raft.log
        return log_.applied < log_.committed

    def _flush_proposals(self) -> None:
        datas, ids = self._pending, self._pending_ids
        self._pending, self._pending_ids = [], []
        try:
            self.node.propose_batch(datas)
        except ProposalDropped:
            err = ServerError(ERR_TIMEOUT_LEADER_FAIL if self._leader is None else ERR_TIMEOUT)
            for rid in ids:
                fut = self._waiters.pop(rid, None)
                if fut is not None and not fut.done():
                    fut.set_exception(err)

    async def _run_raft(self) -> None:
        node = self.node
        # The committed entries of the last Ready, when they are all plain requests, are
        # applied while the next Ready's batch is being fsynced (etcd applies in another
        # goroutine): the disk and the event loop work side by side.
        deferred: list[Entry] | None = None
        try:
            while True:
                if self._pending:
                    self._flush_proposals()
                if not node.has_ready():
                    if deferred is not None:
                        self._apply(deferred)
                        deferred = None
                    else:
                        self._wake.clear()
                        await self._wake.wait()
                    continue
                rd = node.ready()
                if deferred is not None and rd.snapshot is not None:
                    self._apply(deferred)
                    deferred = None
                deferred = await self._process_ready(rd, deferred)
                node.advance(rd)
                if self._campaign_pending and not self._pending_conf_changes():
                    self._campaign_pending = False
                    node.campaign()
                if self._applied - self._snap_index > self.cfg.snapshot_count:
                    await self._snapshot()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.critical("the raft loop failed, stopping the member: %s", exc, exc_info=True)
            asyncio.get_running_loop().create_task(self.stop())

    async def _process_ready(self, rd: Ready, earlier: list[Entry] | None) -> list[Entry] | None:
        """Persist, send and apply one Ready; ``earlier`` (committed entries of the last
        one) are applied while this one's entries are written. Returns this Ready's
        committed entries when they can wait for the next round in the same way."""
        if rd.soft_state is not None:
            self._on_soft_state(rd.soft_state)
        if rd.send_before_persist and rd.messages:
            self._send(rd.messages)
        if rd.snapshot is not None:
            await self._persist_snapshot(rd.snapshot)
        if rd.entries or rd.hard_state is not None:
            if earlier is None:
                await self._persist(rd)
            else:
                saving = asyncio.ensure_future(self._persist(rd))
                self._apply(earlier)
                await saving
        elif earlier is not None:
            self._apply(earlier)
        if rd.snapshot is not None:
            self.raft_storage.apply_snapshot(rd.snapshot)
            self._install_snapshot(rd.snapshot)
        if rd.entries:
            self.raft_storage.append(rd.entries)
        if rd.hard_state is not None:
            self.raft_storage.set_hard_state(rd.hard_state)
        if not rd.send_before_persist and rd.messages:
            self._send(rd.messages)
        if rd.read_states:
            for rs in rd.read_states:
                fut = self._read_ctx.pop(rs.request_ctx, None)
                if fut is not None and not fut.done():
                    fut.set_result(rs.index)
        committed = rd.committed_entries
        if committed:
            for e in committed:
                if e.type != EntryType.NORMAL:
                    self._apply(committed)
                    return None
            return committed
        return None

    async def _persist(self, rd: Ready) -> None:
        """Write the Ready's entries and hard state; on a disk error, fail the waiting
        requests at once (one clear error, not a timeout) and retry until it works."""
        delay = 0.1
        while True:
            try:
                await self.disk.save(rd.hard_state, rd.entries)
            except WalUsageError:
                if self._stopping:
                    raise asyncio.CancelledError() from None
                raise
            except WalError as e:
                self._disk_failed(e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if self._disk_error is not None:
                log.warning("writing to the data dir %s works again", self.cfg.member_dir)
                self._disk_error = None
            return

    async def _persist_snapshot(self, snap: Snapshot) -> None:
        delay = 0.1
        while True:
            try:
                await self.disk.save_snapshot(snap)
                return
            except (WalError, OSError) as e:
                if isinstance(e, WalUsageError) and self._stopping:
                    raise asyncio.CancelledError() from None
                self._disk_failed(e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception as e:  # the snapshotter's own errors
                self._disk_failed(e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _disk_failed(self, e: Exception) -> None:
        if self._disk_error is None:
            log.error("cannot write to the data dir %s: %s", self.cfg.member_dir, e)
        self._disk_error = f"etcdserver: cannot write to the data dir: {e}"
        self._fail_waiters(ServerError(self._disk_error))

    def _send(self, msgs: list[Message]) -> None:
        n = 0
        for m in msgs:
            if m.type == MessageType.APP:
                n += 1
        self.stats.send_append_count += n
        self.transport.send(msgs)

    # --- receiving from peers ----------------------------------------------------------------

    def _deliver(self, msgs: list[Message]) -> str | None:
        """Step the messages of one peer request; return a reason to refuse the sender
        when it turns out to have lost entries it acknowledged."""
        if self._stopping:
            return None
        node = self.node
        verdict: str | None = None
        for m in msgs:
            t = m.type
            if t == MessageType.APP:
                self.stats.recv_append_count += 1
            elif t == MessageType.HEARTBEAT:
                if self._heartbeat_beyond_log(m):
                    return None
            elif t == MessageType.APP_RESP and self._role is Role.LEADER:
                verdict = self._lost_acks_check(m) or verdict
            try:
                node.step(m)
            except RaftError as e:
                log.warning("dropped a message from peer %x: %s", m.frm, e)
        self._kick()
        return verdict

    # --- a member restarted from an out-of-date copy of its data dir -----------------
    #
    # A member acknowledges entries only once they are fsynced, so a log shorter than
    # what it acknowledged means its data dir was replaced by an older copy. Raft cannot
    # heal that (etcd panics): the leader keeps the acknowledged match index and probes
    # at it for ever. Both ends notice: the follower when a heartbeat commits past its
    # log (the leader sends commit = min(match, committed)), the leader when rejections
    # keep hinting below the match it recorded; it answers that POST 409 and the
    # follower stops, naming its data dir and the fix.

    def _heartbeat_beyond_log(self, m: Message) -> bool:
        raft = self.node.raft
        last = raft.log.last_index()
        if m.term < raft.term or m.commit <= last:
            return False
        self._stop_fatally(
            self._out_of_date(
                m.frm,
                f"its log ends at index {last} but leader {id_str(m.frm)} commits "
                f"up to index {m.commit}, which this member had acknowledged",
            )
        )
        return True

    def _lost_acks_check(self, m: Message) -> str | None:
        raft = self.node.raft
        pr = raft.trk.progress.get(m.frm)
        if pr is None or m.term != raft.term:
            return None
        if not m.reject or m.reject_hint >= pr.match:
            self._lost_acks.pop(m.frm, None)
            return None
        n = self._lost_acks.get(m.frm, 0) + 1
        self._lost_acks[m.frm] = n
        if n < LOST_ACK_REJECTIONS:
            return None
        log.error(
            "member %s lost entries it had acknowledged (its log ends at index %d, it had "
            "acknowledged up to %d): it was restarted from an out-of-date data dir; telling "
            "it to stop",
            id_str(m.frm),
            m.reject_hint,
            pr.match,
        )
        return (
            f"its log ends at index {m.reject_hint} but it had acknowledged entries up to "
            f"index {pr.match} to leader {id_str(self.id)}"
        )

    def _on_lost_data(self, peer: int, reason: str) -> None:
        self._stop_fatally(self._out_of_date(peer, reason.rstrip(".")))

    def _out_of_date(self, peer: int, why: str) -> str:
        return (
            f"the data dir {self.cfg.member_dir} of member {id_str(self.id)} is out of date "
            f"({why}): it was restarted from an old copy and must not rejoin with it; remove "
            f"the member (etcdpyctl member remove {id_str(self.id)}), empty its data dir, add "
            "it again (etcdpyctl member add) and start it with --initial-cluster-state existing."
        )

    def _report_unreachable(self, peer: int) -> None:
        if not self._stopping:
            self.node.report_unreachable(peer)
            self._kick()

    def _report_snapshot(self, peer: int, failed: bool) -> None:
        if not self._stopping:
            self.node.report_snapshot(peer, failed)
            self._kick()

    def _removed_sentence(self) -> str:
        return (
            f"member {id_str(self.id)} was removed from cluster {id_str(self.cluster_id)}; "
            "it can never rejoin with this data dir: remove the data dir, add the member "
            "again (member add) and start it with --initial-cluster-state existing."
        )

    def _on_removed(self) -> None:
        if self._stopping or self._fatal is not None:
            return
        log.error("the member has been permanently removed from the cluster")
        # It stops a second later (its last answers reach the peers) with the same
        # sentence and status as when it is restarted on this data dir.
        self._fatal = self._removed_sentence()
        self._stopping_soon()

    @property
    def stopping(self) -> bool:
        """The member is stopping or about to (removed, or its data dir refused)."""
        return self._stopping or self._fatal is not None

    def _stopping_soon(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(REMOVED_STOP_DELAY_S, lambda: loop.create_task(self.stop()))

    def _on_cluster_mismatch(self, peer: int, reason: str) -> None:
        log.error(
            "peer %x refuses this member (%s): it belongs to another cluster; check "
            "--initial-cluster-token and --initial-cluster",
            peer,
            reason,
        )
        # One peer of another cluster may be a stray process at a member's address; a
        # majority of them means this member's data dir is the stranger, but only if it
        # never worked in a cluster: a member that did holds data and keeps running (as
        # etcd does), however many strangers sit at its peers' addresses.
        peers = self.transport.peers
        refusing = sorted(mid for mid, s in peers.items() if s.mismatched)
        if peers and len(refusing) >= len(peers) // 2 + 1 and not self._has_worked():
            self._stop_fatally(
                f"peers {', '.join(id_str(p) for p in refusing)} are members of another "
                f"cluster and refuse this member ({id_str(self.id)} of cluster "
                f"{id_str(self.cluster_id)}, data dir {self.cfg.member_dir}): start it with "
                "its own data dir, or, for a new member, fix --initial-cluster-token and "
                "--initial-cluster and empty the data dir."
            )

    def _has_worked(self) -> bool:
        """Whether this member's log ever committed past the bootstrap entries (all of
        term 1): a leader was elected in its cluster, so its data dir is that cluster's."""
        log_ = self.node.raft.log
        committed = log_.committed
        if committed == 0:
            return False
        try:
            return log_.term(committed) > 1
        except RaftError:
            return True  # compacted into a snapshot: long past the bootstrap

    def _members_json(self) -> list[dict[str, object]]:
        return [m.to_dict() for m in self.members()]

    # --- leadership ---------------------------------------------------------------------

    def _on_soft_state(self, ss: SoftState) -> None:
        self._role = ss.role
        self.stats.state = _ROLE_STATE.get(ss.role, STATE_FOLLOWER)
        self._set_leader(ss.lead or None)

    def _set_leader(self, lead: int | None) -> None:
        if lead == self._leader:
            return
        old, self._leader = self._leader, lead
        term = self.node.raft.term if self._started else 0
        if lead is None:
            self._leader_known.clear()
            if old is not None:
                log.warning("lost leader %x at term %d", old, term)
            return
        self._leader_known.set()
        self.stats.leader_id = lead
        self.stats.leader_start_ns = self._clock()
        if lead == self.id:
            log.info("became the leader at term %d", term)
            self._leader_duty.set()
        else:
            log.info("elected leader %x at term %d", lead, term)

    async def _run_leader_duties(self) -> None:
        """While leader: expire TTL keys through the log (a SYNC with this clock when one
        is due) and decide the cluster version once."""
        # Python 3.11's wait_for can swallow a cancellation that races its wake-up: the
        # loops that use it also end on _stopping, or stop() would wait for them for ever.
        while not self._stopping:
            timeout = SYNC_INTERVAL_S
            if self._leader == self.id and not self._stopping:
                now = self._clock()
                nxt = self.store.next_expiration()
                if nxt is not None and nxt <= now:
                    self._propose_nowait(Request(method="SYNC", time=now))
                elif nxt is not None:
                    timeout = min(timeout, max(0.001, (nxt - now) / _NS))
                if self.membership.version is None:
                    self._propose_nowait(
                        Request(method="PUT", path=VERSION_KEY, val=ETCD_CLUSTER_VERSION, time=now)
                    )
                    timeout = min(timeout, 1.0)
            self._leader_duty.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._leader_duty.wait(), timeout)

    def _propose_nowait(self, req: Request) -> None:
        """A proposal nobody waits for (its result only matters to the store)."""
        if req.id == 0:
            req.id = self._ids.next()
        self._pending.append(req.encode())
        self._pending_ids.append(req.id)
        self._kick()

    async def _publish(self) -> None:
        """Record this member's name and client URLs in the cluster (etcd's publish),
        retrying until it is committed."""
        val = attributes_value(self.name, list(self.cfg.advertise_client_urls))
        while not self._stopping:
            req = Request(method="PUT", path=attributes_key(self.id), val=val)
            try:
                await self.do(req)
            except (ServerError, EtcdError) as e:
                log.debug("publishing the member's attributes failed (%s); retrying", e)
                await asyncio.sleep(0.2)
                continue
            self._published = True
            log.info(
                "published {Name:%s ClientURLs:%s} to cluster %s",
                self.name,
                list(self.cfg.advertise_client_urls),
                id_str(self.cluster_id),
            )
            return

    # --- applying the log ---------------------------------------------------------------

    def _apply(self, entries: list[Entry]) -> None:
        store = self.store
        waiters = self._waiters
        ttl_seen = False
        for e in entries:
            if e.type == EntryType.NORMAL:
                if e.data:
                    req = Request.decode(e.data)
                    try:
                        result: Any = apply_request(store, req)
                    except (EtcdError, ServerError) as err:
                        # Without its traceback: the traceback holds this frame, which
                        # holds the error, a cycle per refused write for the collector.
                        result = err.with_traceback(None)
                    if req.path.startswith("/0/"):
                        self._after_cluster_put(req)
                    if req.expiration:
                        ttl_seen = True
                    fut = waiters.pop(req.id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(result)
            else:
                self._apply_conf_change(e)
            self._applied = e.index
        if ttl_seen and self._leader == self.id:
            self._leader_duty.set()
        if self._applied_waiters:
            self._release_applied_waiters()

    def _after_cluster_put(self, req: Request) -> None:
        # etcd's apply also updates the in-memory cluster for these two paths.
        if req.method != "PUT":
            return
        mid = parse_attributes_key(req.path)
        if mid is not None:
            m = self.membership.members.get(mid)
            if m is None:
                return
            try:
                attrs = json.loads(req.val)
            except ValueError:
                return
            m.name = str(attrs.get("name", ""))
            m.client_urls = [str(u) for u in attrs.get("clientURLs", [])]
        elif req.path == VERSION_KEY:
            self.membership.version = req.val

    def _apply_conf_change(self, e: Entry) -> None:
        cc = ConfChange.decode(e.data)
        rid, member = decode_conf_context(cc.context)
        result: Any = None
        try:
            self._validate_conf_change(cc, member)
        except MembershipError as err:
            log.warning(
                "refused configuration change %s of member %x: %s", cc.type.name, cc.node_id, err
            )
            cc.node_id = NONE
            result = err
        self._conf_state = self.node.apply_conf_change(cc)
        if result is None:
            self._commit_conf_change(cc, member)
        fut = self._waiters.pop(rid, None) if rid else None
        if fut is not None and not fut.done():
            fut.set_result(result)

    def _validate_conf_change(self, cc: ConfChange, m: Member | None) -> None:
        """etcd validates against the membership the store records (what every member
        has applied), not the in-memory view a joining member fetched."""
        current = membership_from_store(self.store, self.cluster_id)
        if cc.type == ConfChangeType.ADD_NODE:
            current.validate_add(m if m is not None else Member(cc.node_id))
        elif cc.type == ConfChangeType.REMOVE_NODE:
            current.validate_remove(cc.node_id)
        else:
            current.validate_update(cc.node_id, m.peer_urls if m is not None else [])

    def _commit_conf_change(self, cc: ConfChange, m: Member | None) -> None:
        store, now, mid = self.store, self._clock(), cc.node_id
        if cc.type == ConfChangeType.ADD_NODE:
            m = m if m is not None else Member(mid)
            store.create(
                raft_attributes_key(mid), False, raft_attributes_value(m.peer_urls), False, 0, now
            )
            known = self.membership.members.get(mid)
            if known is not None and not m.name:
                m.name, m.client_urls = known.name, known.client_urls
            self.membership.members[mid] = m
            if mid != self.id:
                self.transport.add_peer(mid, m.peer_urls)
            log.info(
                "added member %s %s to cluster %s",
                id_str(mid),
                m.peer_urls,
                id_str(self.cluster_id),
            )
        elif cc.type == ConfChangeType.REMOVE_NODE:
            store.delete(member_key(mid), True, True, now)
            store.create(removed_member_key(mid), False, "", False, 0, now)
            self.membership.members.pop(mid, None)
            self.membership.removed.add(mid)
            self.transport.remove_peer(mid)
            log.info("removed member %s from cluster %s", id_str(mid), id_str(self.cluster_id))
            if mid == self.id:
                self._on_removed()
        else:
            urls = m.peer_urls if m is not None else []
            store.update(raft_attributes_key(mid), raft_attributes_value(urls), 0, now)
            known = self.membership.members.get(mid)
            if known is not None:
                known.peer_urls = list(urls)
            self.transport.update_peer(mid, urls)
            log.info(
                "updated member %s %s in cluster %s", id_str(mid), urls, id_str(self.cluster_id)
            )

    def _install_snapshot(self, snap: Snapshot) -> None:
        """A snapshot from the leader replaces the store (watchers stay) and membership."""
        try:
            self.store.restore(snap.data)
        except StoreSnapshotError as e:
            raise RaftError(f"the snapshot at index {snap.metadata.index} is damaged: {e}") from e
        old = self.membership
        new = membership_from_store(self.store, self.cluster_id)
        for mid, m in new.members.items():
            prev = old.members.get(mid)
            if not m.name and prev is not None:
                m.name, m.client_urls = prev.name, prev.client_urls
            if mid == self.id:
                continue
            if prev is None:
                self.transport.add_peer(mid, m.peer_urls)
            elif prev.peer_urls != m.peer_urls:
                self.transport.update_peer(mid, m.peer_urls)
        # The leader that sent the snapshot stays reachable even when the snapshot
        # predates its membership (it was added, or restored with --force-new-cluster,
        # after the snapshot was taken): the entries after it add it back, and our
        # answers must reach it meanwhile (etcd keeps such peers as "remotes").
        lead = self.node.raft.lead
        for mid in list(self.transport.peers):
            if mid not in new.members and mid != lead:
                self.transport.remove_peer(mid)
        self.membership = new
        self._conf_state = snap.metadata.conf_state
        self._applied = snap.metadata.index
        self._snap_index = snap.metadata.index
        log.info("installed the snapshot at index %d from the leader", snap.metadata.index)
        if self.id in new.removed:
            self._on_removed()
        self._release_applied_waiters()

    # --- snapshots and purging ------------------------------------------------------

    async def _snapshot(self) -> None:
        """Save the store at the applied index, mark the WAL, and compact the in-memory
        log, keeping etcd's 5,000 entries for followers that are a little behind."""
        index = self._applied
        data = self.store.save()
        snap = self.raft_storage.create_snapshot(index, self._conf_state, data)
        await self._persist_snapshot(snap)
        self._snap_index = index
        compact = index - CATCH_UP_ENTRIES
        if compact > self.raft_storage.first_index():
            self.raft_storage.compact(compact)
        log.info("saved a snapshot at index %d (%d bytes)", index, len(data))

    async def _run_purge(self) -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                await asyncio.to_thread(self.disk.purge, self.cfg.max_snapshots, self.cfg.max_wals)
            except OSError as e:
                log.warning("purging old files in %s failed: %s", self.cfg.member_dir, e)

    # --- read-only views for the API ---------------------------------------------------

    @property
    def raft_index(self) -> int:
        return self._applied

    @property
    def raft_term(self) -> int:
        return self.node.raft.term if self._started else 0

    @property
    def cluster_version(self) -> str | None:
        return self.membership.version

    def members(self) -> list[Member]:
        return self.membership.sorted_members()

    def member(self, mid: int) -> Member | None:
        return self.membership.members.get(mid)

    def client_urls(self) -> list[str]:
        return self.membership.client_urls()

    def leader_id(self) -> int | None:
        return self._leader

    def self_stats(self) -> dict[str, object]:
        return self.stats.to_dict(self._clock())

    def leader_stats(self) -> dict[str, object] | None:
        if self._leader != self.id:
            return None
        followers = {
            id_str(mid): sender.stats.to_dict()
            for mid, sender in sorted(self.transport.peers.items(), key=lambda kv: id_str(kv[0]))
        }
        return {"leader": id_str(self.id), "followers": followers}

    def store_stats(self) -> dict[str, int]:
        return self.store.stats()

    async def health(self) -> bool:
        """etcd 3.4's check: a leader exists and a quorum read succeeds within 1 s."""
        if self._leader is None or self._disk_error is not None:
            return False
        try:
            await asyncio.wait_for(self.linearizable_read(), 1.0)
        except (ServerError, TimeoutError):
            return False
        return True

    # --- membership changes ------------------------------------------------------------

    async def add_member(self, peer_urls: list[str]) -> Member:
        """Add a member (not started yet: no name, no client URLs) and return it."""
        self._check_running()
        urls = sorted(peer_urls)
        m = Member(member_id(urls, "", self._clock() / _NS), "", urls, [])
        membership_from_store(self.store, self.cluster_id).validate_add(m)
        if self.cfg.strict_reconfig_check and not self._ready_to_add():
            raise ServerError(ERR_NOT_ENOUGH_STARTED)
        await self._propose_conf_change(ConfChangeType.ADD_NODE, m)
        return m

    async def remove_member(self, member_id_: int) -> None:
        """Remove a member for ever; a removed member stops itself."""
        self._check_running()
        membership_from_store(self.store, self.cluster_id).validate_remove(member_id_)
        if self.cfg.strict_reconfig_check and not self._ready_to_remove(member_id_):
            raise ServerError(ERR_NOT_ENOUGH_STARTED)
        await self._propose_conf_change(ConfChangeType.REMOVE_NODE, Member(member_id_))

    async def update_member(self, member_id_: int, peer_urls: list[str]) -> None:
        """Replace a member's peer URLs."""
        self._check_running()
        urls = sorted(peer_urls)
        membership_from_store(self.store, self.cluster_id).validate_update(member_id_, urls)
        await self._propose_conf_change(ConfChangeType.UPDATE_NODE, Member(member_id_, "", urls))

    async def _propose_conf_change(self, kind: ConfChangeType, m: Member) -> None:
        if self._disk_error:
            raise ServerError(self._disk_error)
        await self._wait_for_leader()
        rid = self._ids.next()
        cc = ConfChange(kind, m.id, encode_conf_context(rid, m))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = fut
        try:
            self.node.propose_conf_change(cc)
        except ProposalDropped as e:
            self._waiters.pop(rid, None)
            raise ServerError(f"etcdserver: {e}") from None
        self._kick()
        result = await self._wait_applied(rid, fut)
        if isinstance(result, Exception):
            raise result

    def _started_members(self, skip: int = NONE) -> tuple[int, int]:
        members = [m for m in self.membership.members.values() if m.id != skip]
        return len(members), sum(1 for m in members if m.name)

    def _ready_to_add(self) -> bool:
        """etcd's isReadyToAddNewMember: enough started members for the bigger quorum
        (adding a second member to a lone one is allowed, for restoring a backup)."""
        n, started = self._started_members()
        n += 1
        if started == 1 and n == 2:
            return True
        return started >= n // 2 + 1

    def _ready_to_remove(self, mid: int) -> bool:
        n, started = self._started_members(skip=mid)
        return started >= n // 2 + 1
