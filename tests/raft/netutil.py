"""A synchronous test network over bare ``Raft`` objects (like etcd's raft_test.go).

Every delivered message is stepped at once; after each step the receiver's unstable
entries are "persisted" to its MemoryStorage and everything committed is marked
applied, so tests can reason about one message at a time.
"""

from __future__ import annotations

import contextlib
import random
from collections import deque
from collections.abc import Iterable

from etcdpy.raft.config import Config
from etcdpy.raft.core import Raft
from etcdpy.raft.errors import ProposalDropped
from etcdpy.raft.storage import MemoryStorage
from etcdpy.raft.types import (
    ConfChange,
    ConfState,
    Entry,
    EntryType,
    Message,
    MessageType,
    Snapshot,
    SnapshotMetadata,
)


def storage_with(ids: Iterable[int], entries: list[Entry] | None = None) -> MemoryStorage:
    """A storage whose initial configuration is ``ids`` (etcd's withPeers)."""
    st = MemoryStorage()
    # Only tests set a configuration without a snapshot; production storages get it
    # from a snapshot or from the bootstrap entries.
    st._snapshot = Snapshot(SnapshotMetadata(0, 0, ConfState(sorted(ids))))
    if entries:
        st.append(entries)
    return st


def ents_with_terms(*terms: int) -> list[Entry]:
    """Entries 1..n with the given terms (etcd's votedWithConfig/ents helpers)."""
    return [Entry(term=t, index=i + 1) for i, t in enumerate(terms)]


def new_raft(
    node_id: int,
    ids: Iterable[int] = (1, 2, 3),
    *,
    election: int = 10,
    heartbeat: int = 1,
    storage: MemoryStorage | None = None,
    pre_vote: bool = False,
    check_quorum: bool = False,
    seed: int | None = None,
    **kw: object,
) -> Raft:
    st = storage if storage is not None else storage_with(ids)
    cfg = Config(
        id=node_id,
        election_tick=election,
        heartbeat_tick=heartbeat,
        storage=st,
        pre_vote=pre_vote,
        check_quorum=check_quorum,
        rng=random.Random(node_id if seed is None else seed),
        **kw,  # type: ignore[arg-type]
    )
    return Raft(cfg)


def persist(r: Raft, apply_conf: bool = False) -> None:
    """Make the unstable part durable and apply everything committed (configuration
    changes too when ``apply_conf``)."""
    log = r.log
    st = log.storage
    snap = log.unstable.snapshot
    if snap is not None:
        st.apply_snapshot(snap)
        log.stable_snap_to(snap.metadata.index)
    ents = log.unstable_entries()
    if ents:
        st.append(ents)
        log.stable_to(ents[-1].index, ents[-1].term)
    st.set_hard_state(r.hard_state())
    if log.committed > log.applied:
        if apply_conf:
            for e in log.next_committed_entries():
                if e.type == EntryType.CONF_CHANGE:
                    r.apply_conf_change(ConfChange.decode(e.data))
        log.applied_to(log.committed)


class Network:
    """Members 1..n; ``None`` in ``peers`` makes a default member, BLACK_HOLE a dead one."""

    BLACK_HOLE = object()

    def __init__(
        self, peers: list[Raft | object | None], apply_conf: bool = False, **raft_kw: object
    ) -> None:
        self.apply_conf = apply_conf
        ids = list(range(1, len(peers) + 1))
        self.peers: dict[int, Raft | None] = {}
        for i, p in zip(ids, peers, strict=True):
            if p is None:
                self.peers[i] = new_raft(i, ids, **raft_kw)  # type: ignore[arg-type]
            elif p is Network.BLACK_HOLE:
                self.peers[i] = None
            else:
                assert isinstance(p, Raft)
                self.peers[i] = p
        self.cut_links: set[tuple[int, int]] = set()
        self.ignored: set[MessageType] = set()
        self.delivered: list[Message] = []

    def __getitem__(self, node_id: int) -> Raft:
        p = self.peers[node_id]
        assert p is not None
        return p

    def send(self, *msgs: Message, limit: int = 100_000) -> None:
        queue = deque(msgs)
        for _ in range(limit):
            if not queue:
                return
            m = queue.popleft()
            p = self.peers.get(m.to)
            if p is None:
                continue
            self.delivered.append(m)
            with contextlib.suppress(ProposalDropped):
                p.step(m)
            persist(p, self.apply_conf)
            queue.extend(self.filter(p.read_messages()))
        raise AssertionError(f"the network did not settle within {limit} messages")

    def filter(self, msgs: list[Message]) -> list[Message]:
        return [
            m for m in msgs if (m.frm, m.to) not in self.cut_links and m.type not in self.ignored
        ]

    def campaign(self, node_id: int) -> None:
        self.send(Message(MessageType.HUP, to=node_id, frm=node_id))

    def propose(self, node_id: int, data: bytes = b"somedata") -> None:
        self.send(Message(MessageType.PROP, to=node_id, frm=node_id, entries=[Entry(data=data)]))

    def beat(self, node_id: int) -> None:
        self.send(Message(MessageType.BEAT, to=node_id, frm=node_id))

    def cut(self, a: int, b: int) -> None:
        self.cut_links.add((a, b))
        self.cut_links.add((b, a))

    def isolate(self, node_id: int) -> None:
        for other in self.peers:
            if other != node_id:
                self.cut(node_id, other)

    def recover(self) -> None:
        self.cut_links.clear()
        self.ignored.clear()

    def ignore(self, t: MessageType) -> None:
        self.ignored.add(t)

    def tick_all(self, rounds: int, members: Iterable[int] | None = None) -> None:
        """Tick the given members (default: all) once per round, delivering everything."""
        ids = list(members) if members is not None else list(self.peers)
        for _ in range(rounds):
            for i in ids:
                r = self.peers.get(i)
                if r is None:
                    continue
                r.tick()
                persist(r, self.apply_conf)
                self.send(*self.filter(r.read_messages()))

    def restart(self, node_id: int) -> Raft:
        """Crash a member and start it again from what it persisted."""
        old = self[node_id]
        r = new_raft(
            node_id,
            storage=old.log.storage,
            election=old.election_timeout,
            heartbeat=old.heartbeat_timeout,
            pre_vote=old.pre_vote,
            check_quorum=old.check_quorum,
            max_size_per_msg=old.max_msg_size,
        )
        self.peers[node_id] = r
        return r

    def leaders(self) -> list[int]:
        return [i for i, r in self.peers.items() if r is not None and r.state.name == "LEADER"]

    def tick_until_campaign(self, node_id: int) -> None:
        """Tick one member until it times out (its own timer, bounded)."""
        r = self[node_id]
        for _ in range(2 * r.election_timeout + 1):
            r.tick()
            msgs = r.read_messages()
            if msgs or r.state.name != "FOLLOWER":
                persist(r)
                self.send(*self.filter(msgs))
                return
        raise AssertionError(f"member {node_id} did not campaign within 2T ticks")
