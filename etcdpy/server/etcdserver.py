"""The server facade: the one door through which the HTTP API reaches the key space.

``await server.do(request)`` answers every v2 keys request: plain reads and watches from
the local store, writes and quorum reads by "proposing" them. In this single-member
facade a proposal is applied at once with :func:`apply_request`; the Raft version keeps
this interface and replaces only the insides (propose, persist, replicate, commit, then
the same ``apply_request`` on every member).

What the facade imitates, so that clients see the same numbers as with etcd: the store
indexes the bootstrap consumes (one ``raftAttributes`` create per initial member, the
member's ``attributes`` publish and ``/0/version``), a raft index that counts entries
(conf changes, the leader's empty entry, every proposal), term 2 after the single
member's first election, and the SYNC entries that expire TTL keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable

from etcdpy.server.applier import apply_request
from etcdpy.server.config import Config
from etcdpy.server.errors import ERR_STOPPED, ERR_UNKNOWN_METHOD, ServerError
from etcdpy.server.member import Member, cluster_id, id_str, member_id
from etcdpy.server.membership import (
    VERSION_KEY,
    MemberIDExists,
    MemberNotFound,
    MemberRemoved,
    Membership,
    PeerURLExists,
    attributes_key,
    attributes_value,
    member_key,
    parse_attributes_key,
    raft_attributes_key,
    raft_attributes_value,
    removed_member_key,
)
from etcdpy.server.request import (
    QGET,
    STORE_CLUSTER_PREFIX,
    STORE_KEYS_PREFIX,
    SYNC,
    Request,
)
from etcdpy.server.stats import ServerStats
from etcdpy.store import EtcdError, Event, Store, Watcher
from etcdpy.version import ETCD_CLUSTER_VERSION

__all__ = [
    "EtcdServer",
    "MemberIDExists",
    "MemberNotFound",
    "MemberRemoved",
    "PeerURLExists",
    "ServerError",
]

log = logging.getLogger(__name__)

# etcd's leader proposes a SYNC (expire TTL keys at the leader's time) this often.
SYNC_INTERVAL_S = 0.5
# The v2 auth switch lives here; etcd reads it (a store get) before serving keys.
AUTH_ENABLED_KEY = "/2/enabled"
# Term after a lone member's first election (bootstrap entries are term 1).
_FIRST_LEADER_TERM = 2
_NS = 1_000_000_000


class RequestIDs:
    """etcd's ``idutil.Generator``: member-id prefix, millisecond time, then a counter."""

    def __init__(self, member: int, now_ms: int) -> None:
        self._prefix = (member & 0xFFFF) << 48
        self._suffix = (now_ms & 0xFFFFFFFFFF) << 8

    def next(self) -> int:
        self._suffix = (self._suffix + 1) & ((1 << 48) - 1)
        return self._prefix | self._suffix


class EtcdServer:
    """One member: its store, membership, indexes and statistics."""

    def __init__(self, cfg: Config, clock: Callable[[], int] = time.time_ns) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._clock = clock
        token = cfg.initial_cluster_token
        initial = dict(cfg.initial_cluster)
        if cfg.name not in initial:
            initial[cfg.name] = list(cfg.initial_advertise_peer_urls)
        self.membership = Membership()
        for name, urls in initial.items():
            m = Member(member_id(urls, token), name, sorted(urls), [])
            self.membership.members[m.id] = m
        self.id = member_id(initial[cfg.name], token)
        self.cluster_id = cluster_id(self.membership.members)
        self.membership.cluster_id = self.cluster_id
        self.store = Store((STORE_CLUSTER_PREFIX, STORE_KEYS_PREFIX))
        self.stats = ServerStats(cfg.name, self.id, clock())
        self._ids = RequestIDs(self.id, clock() // 1_000_000)
        self._raft_index = 0
        self._raft_term = 0
        self._leader: int | None = None
        self._started = False
        self._stopped = False
        self._done = asyncio.Event()
        self._ttl_changed = asyncio.Event()
        self._expiry_task: asyncio.Task[None] | None = None

    # --- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Bootstrap the member as etcd does and start expiring TTL keys."""
        now = self._clock()
        self._raft_term = 1
        for mid in sorted(self.membership.members):
            m = self.membership.members[mid]
            self._raft_index += 1
            self.store.create(
                raft_attributes_key(mid), False, raft_attributes_value(m.peer_urls), False, 0, now
            )
        # The lone member elects itself; its first entry as leader is an empty one.
        self._raft_term = _FIRST_LEADER_TERM
        self._raft_index += 1
        self._leader = self.id
        self.stats.become_leader(self._clock())
        self._started = True
        me = self.membership.members[self.id]
        self._propose(
            Request(
                id=self._ids.next(),
                method="PUT",
                path=attributes_key(self.id),
                val=attributes_value(me.name, list(self.cfg.advertise_client_urls)),
                time=self._clock(),
            )
        )
        self._propose(
            Request(
                id=self._ids.next(),
                method="PUT",
                path=VERSION_KEY,
                val=ETCD_CLUSTER_VERSION,
                time=self._clock(),
            )
        )
        self._expiry_task = asyncio.get_running_loop().create_task(
            self._expire_keys(), name="etcdpy-expiry"
        )
        log.info(
            "published {Name:%s ClientURLs:%s} to cluster %s",
            self.name,
            list(self.cfg.advertise_client_urls),
            id_str(self.cluster_id),
        )

    async def stop(self) -> None:
        """Refuse further requests and stop the expiry timer; idempotent."""
        self._stopped = True
        self._leader = None
        task, self._expiry_task = self._expiry_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._done.set()

    async def wait_stopped(self) -> None:
        """Return once the member has stopped (stop(), or it was removed from the cluster)."""
        await self._done.wait()

    # --- the door ------------------------------------------------------------------

    async def do(self, req: Request) -> Event | Watcher:
        """Serve one v2 keys request.

        GET/HEAD read the local store (GET with ``wait`` registers a watcher); POST, PUT,
        DELETE and quorum GETs are proposed and answered once applied. Raises the store's
        ``EtcdError`` or :class:`ServerError`. The caller may be cancelled (the client
        went away) while awaiting; a proposal then still takes effect.
        """
        if self._stopped or not self._started:
            raise ServerError(ERR_STOPPED)
        if req.id == 0:
            req.id = self._ids.next()
        m = req.method
        if m == "GET" and req.quorum:
            m = req.method = QGET
        if m in ("PUT", "POST", "DELETE", QGET):
            if not req.time:
                req.time = self._clock()
            ev = self._propose(req)
            assert ev is not None
            return ev
        if m == "GET":
            if req.wait:
                return self.store.watch(
                    req.path, req.recursive, req.stream, req.since, self._clock()
                )
            return self.store.get(req.path, req.recursive, req.sorted, self._clock())
        if m == "HEAD":
            return self.store.get(req.path, req.recursive, req.sorted, self._clock())
        raise ServerError(ERR_UNKNOWN_METHOD)

    def auth_enabled(self) -> bool:
        """Whether v2 auth is on (never, in etcdpy). Read from the store like etcd does,
        so the store's get statistics move the same way as the reference's."""
        try:
            ev = self.store.get(AUTH_ENABLED_KEY, False, False, self._clock())
        except EtcdError:
            return False
        return ev.node.value == "true"

    def _propose(self, req: Request) -> Event | None:
        # The facade's "commit": one raft entry, applied at once.
        self._raft_index += 1
        ev = apply_request(self.store, req)
        if req.method == "PUT":
            self._after_cluster_put(req)
        if req.expiration or req.refresh:
            self._ttl_changed.set()
        return ev

    def _after_cluster_put(self, req: Request) -> None:
        # etcd's apply also updates the in-memory cluster for these two paths.
        mid = parse_attributes_key(req.path)
        if mid is not None and mid in self.membership.members:
            try:
                attrs = json.loads(req.val)
            except ValueError:
                return
            m = self.membership.members[mid]
            m.name = str(attrs.get("name", ""))
            m.client_urls = [str(u) for u in attrs.get("clientURLs", [])]
        elif req.path == VERSION_KEY:
            self.membership.version = req.val

    # --- TTL expiry ------------------------------------------------------------------

    async def _expire_keys(self) -> None:
        """Apply a SYNC at our clock every 500 ms while TTL keys exist, or as soon as the
        earliest one is due, so expired keys go within milliseconds of their time."""
        while not self._stopped:
            if not self.store.has_ttl_keys():
                self._ttl_changed.clear()
                await self._ttl_changed.wait()
                continue
            self._ttl_changed.clear()
            delay = SYNC_INTERVAL_S
            nxt = self.store.next_expiration()
            if nxt is not None:
                delay = min(delay, max(0.0, (nxt - self._clock()) / _NS))
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    # A new TTL write may be due earlier than what we sleep for.
                    await asyncio.wait_for(self._ttl_changed.wait(), delay)
                if self._ttl_changed.is_set():
                    continue
            if self._stopped:
                return
            try:
                self._propose(Request(id=self._ids.next(), method=SYNC, time=self._clock()))
            except Exception as exc:  # never let the timer die with the member alive
                log.error("expiring keys failed: %s", exc)
                await asyncio.sleep(SYNC_INTERVAL_S)

    # --- read-only views for the API ---------------------------------------------------

    @property
    def raft_index(self) -> int:
        return self._raft_index

    @property
    def raft_term(self) -> int:
        return self._raft_term

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
            id_str(mid): _idle_follower()
            for mid in sorted(self.membership.members, key=id_str)
            if mid != self.id
        }
        return {"leader": id_str(self.id), "followers": followers}

    def store_stats(self) -> dict[str, int]:
        return self.store.stats()

    async def health(self) -> bool:
        """etcd 3.4's check: a leader exists and a quorum read succeeds within 1 s."""
        if self.leader_id() is None:
            return False
        try:
            await asyncio.wait_for(self.do(Request(method=QGET)), 1.0)
        except (EtcdError, ServerError, TimeoutError):
            return False
        return True

    # --- membership changes ------------------------------------------------------------

    async def add_member(self, peer_urls: list[str]) -> Member:
        """Add a member (not started yet: no name, no client URLs) and return it."""
        self._check_running()
        now = self._clock()
        urls = sorted(peer_urls)
        m = Member(member_id(urls, "", now / _NS), "", urls, [])
        self._raft_index += 1
        self.membership.validate_add(m)
        self.store.create(
            raft_attributes_key(m.id), False, raft_attributes_value(urls), False, 0, now
        )
        self.membership.members[m.id] = m
        log.info("added member %s %s to cluster %s", id_str(m.id), urls, id_str(self.cluster_id))
        return m

    async def remove_member(self, member_id_: int) -> None:
        """Remove a member for ever; removing this member stops it, as in etcd."""
        self._check_running()
        self._raft_index += 1
        self.membership.validate_remove(member_id_)
        now = self._clock()
        self.store.delete(member_key(member_id_), True, True, now)
        self.store.create(removed_member_key(member_id_), False, "", False, 0, now)
        del self.membership.members[member_id_]
        self.membership.removed.add(member_id_)
        log.info("removed member %s from cluster %s", id_str(member_id_), id_str(self.cluster_id))
        if member_id_ == self.id:
            log.warning("the member has been permanently removed from the cluster")
            asyncio.get_running_loop().call_soon(self._stop_soon)

    async def update_member(self, member_id_: int, peer_urls: list[str]) -> None:
        """Replace a member's peer URLs."""
        self._check_running()
        urls = sorted(peer_urls)
        self._raft_index += 1
        self.membership.validate_update(member_id_, urls)
        self.store.update(
            raft_attributes_key(member_id_), raft_attributes_value(urls), 0, self._clock()
        )
        self.membership.members[member_id_].peer_urls = urls
        log.info(
            "updated member %s %s in cluster %s", id_str(member_id_), urls, id_str(self.cluster_id)
        )

    def _check_running(self) -> None:
        if self._stopped or not self._started:
            raise ServerError(ERR_STOPPED)

    def _stop_soon(self) -> None:
        asyncio.get_running_loop().create_task(self.stop())


def _idle_follower() -> dict[str, object]:
    return {
        "latency": {
            "current": 0,
            "average": 0,
            "standardDeviation": 0,
            "minimum": 0,
            "maximum": 0,
        },
        "counts": {"fail": 0, "success": 0},
    }
