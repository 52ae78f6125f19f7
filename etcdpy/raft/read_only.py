"""Pending ReadIndex requests on the leader (etcd's read_only.go, ReadOnlySafe only).

A request is remembered with the commit index at the time it arrived; it is answered
once a quorum acknowledged a heartbeat that carried its context, which proves that no
other leader had been elected meanwhile. Acknowledging a context also acknowledges
every request queued before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etcdpy.raft.types import Message


@dataclass(slots=True)
class ReadIndexStatus:
    req: Message
    index: int
    acks: set[int] = field(default_factory=set)


class ReadOnly:
    __slots__ = ("pending", "queue")

    def __init__(self) -> None:
        self.pending: dict[bytes, ReadIndexStatus] = {}
        self.queue: list[bytes] = []

    def add_request(self, index: int, m: Message) -> None:
        ctx = m.entries[0].data
        if ctx in self.pending:
            return
        self.pending[ctx] = ReadIndexStatus(m, index)
        self.queue.append(ctx)

    def recv_ack(self, node_id: int, ctx: bytes) -> set[int] | None:
        rs = self.pending.get(ctx)
        if rs is None:
            return None
        rs.acks.add(node_id)
        return rs.acks

    def advance(self, ctx: bytes) -> list[ReadIndexStatus]:
        """Pop and return every request up to and including the one for ``ctx``."""
        if ctx not in self.pending:
            return []
        i = self.queue.index(ctx) + 1
        done = self.queue[:i]
        del self.queue[:i]
        return [self.pending.pop(c) for c in done]

    def last_pending_request_ctx(self) -> bytes:
        return self.queue[-1] if self.queue else b""
