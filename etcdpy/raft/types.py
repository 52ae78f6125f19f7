"""The records Raft exchanges and persists: entries, hard state, snapshots, messages.

These are the equivalent of etcd's ``raftpb`` package. They are shared by the Raft
core (``etcdpy.raft``), the write-ahead log (``etcdpy.wal``), the snapshot files
(``etcdpy.snap``) and the peer transport (``etcdpy.server``). Every record packs to a
msgpack array (positional fields, no names) so that the hot path stays compact and fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

# Raft's "no member": member ids are never 0.
NONE = 0


class EntryType(IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1


class ConfChangeType(IntEnum):
    ADD_NODE = 0
    REMOVE_NODE = 1
    UPDATE_NODE = 2


class MessageType(IntEnum):
    HUP = 0  # local: start an election
    BEAT = 1  # local: leader sends heartbeats
    PROP = 2  # proposal (local, or forwarded from a follower)
    APP = 3
    APP_RESP = 4
    VOTE = 5
    VOTE_RESP = 6
    SNAP = 7
    HEARTBEAT = 8
    HEARTBEAT_RESP = 9
    UNREACHABLE = 10  # local: the transport could not reach a peer
    SNAP_STATUS = 11  # local: a snapshot send finished (reject = failed)
    CHECK_QUORUM = 12  # local
    TRANSFER_LEADER = 13
    TIMEOUT_NOW = 14
    READ_INDEX = 15
    READ_INDEX_RESP = 16
    PRE_VOTE = 17
    PRE_VOTE_RESP = 18


@dataclass(slots=True)
class Entry:
    term: int = 0
    index: int = 0
    type: EntryType = EntryType.NORMAL
    data: bytes = b""

    def to_list(self) -> list[Any]:
        return [self.term, self.index, int(self.type), self.data]

    @classmethod
    def from_list(cls, v: list[Any]) -> Entry:
        return cls(v[0], v[1], EntryType(v[2]), v[3])


@dataclass(slots=True)
class HardState:
    term: int = 0
    vote: int = 0
    commit: int = 0

    def is_empty(self) -> bool:
        return self.term == 0 and self.vote == 0 and self.commit == 0

    def to_list(self) -> list[Any]:
        return [self.term, self.vote, self.commit]

    @classmethod
    def from_list(cls, v: list[Any]) -> HardState:
        return cls(v[0], v[1], v[2])


@dataclass(slots=True)
class ConfState:
    voters: list[int] = field(default_factory=list)

    def to_list(self) -> list[Any]:
        return [list(self.voters)]

    @classmethod
    def from_list(cls, v: list[Any]) -> ConfState:
        return cls(list(v[0]))


@dataclass(slots=True)
class SnapshotMetadata:
    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)

    def to_list(self) -> list[Any]:
        return [self.index, self.term, self.conf_state.to_list()]

    @classmethod
    def from_list(cls, v: list[Any]) -> SnapshotMetadata:
        return cls(v[0], v[1], ConfState.from_list(v[2]))


@dataclass(slots=True)
class Snapshot:
    metadata: SnapshotMetadata = field(default_factory=SnapshotMetadata)
    data: bytes = b""

    def is_empty(self) -> bool:
        return self.metadata.index == 0

    def to_list(self) -> list[Any]:
        return [self.metadata.to_list(), self.data]

    @classmethod
    def from_list(cls, v: list[Any]) -> Snapshot:
        return cls(SnapshotMetadata.from_list(v[0]), v[1])


@dataclass(slots=True)
class ConfChange:
    type: ConfChangeType = ConfChangeType.ADD_NODE
    node_id: int = 0
    # Opaque to Raft: the server puts the member record (name, peer URLs) here.
    context: bytes = b""

    def encode(self) -> bytes:
        return msgpack.packb([int(self.type), self.node_id, self.context])

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        v = msgpack.unpackb(data)
        return cls(ConfChangeType(v[0]), v[1], v[2])


@dataclass(slots=True)
class Message:
    type: MessageType
    to: int = NONE
    frm: int = NONE
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    snapshot: Snapshot | None = None
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""

    def to_list(self) -> list[Any]:
        return [
            int(self.type),
            self.to,
            self.frm,
            self.term,
            self.log_term,
            self.index,
            [e.to_list() for e in self.entries],
            self.commit,
            self.snapshot.to_list() if self.snapshot is not None else None,
            self.reject,
            self.reject_hint,
            self.context,
        ]

    @classmethod
    def from_list(cls, v: list[Any]) -> Message:
        return cls(
            MessageType(v[0]),
            v[1],
            v[2],
            v[3],
            v[4],
            v[5],
            [Entry.from_list(e) for e in v[6]],
            v[7],
            Snapshot.from_list(v[8]) if v[8] is not None else None,
            v[9],
            v[10],
            v[11],
        )

    def encode(self) -> bytes:
        return msgpack.packb(self.to_list())

    @classmethod
    def decode(cls, data: bytes) -> Message:
        return cls.from_list(msgpack.unpackb(data))


def is_local_message(t: MessageType) -> bool:
    """Messages a member generates for itself; they never cross the network."""
    return t in (
        MessageType.HUP,
        MessageType.BEAT,
        MessageType.UNREACHABLE,
        MessageType.SNAP_STATUS,
        MessageType.CHECK_QUORUM,
    )


def is_response_message(t: MessageType) -> bool:
    return t in (
        MessageType.APP_RESP,
        MessageType.VOTE_RESP,
        MessageType.HEARTBEAT_RESP,
        MessageType.UNREACHABLE,
        MessageType.READ_INDEX_RESP,
        MessageType.PRE_VOTE_RESP,
    )
