"""Small records the Raft core reports to the server: role, soft state, read states."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from etcdpy.raft.types import NONE


class Role(IntEnum):
    """A member's role; the numbering is etcd's StateType."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2
    PRE_CANDIDATE = 3


@dataclass(slots=True, frozen=True)
class SoftState:
    """Volatile state worth reporting (never persisted): who leads, and our role."""

    lead: int = NONE
    role: Role = Role.FOLLOWER


@dataclass(slots=True)
class ReadState:
    """The answer to ``read_index(request_ctx)``.

    A read issued before ``read_index`` was called is linearizable once the local state
    machine has applied ``index``.
    """

    index: int
    request_ctx: bytes


class ProgressState(IntEnum):
    """How the leader replicates to one follower (etcd's tracker.StateType)."""

    PROBE = 0  # one append in flight until the follower answers: find where logs match
    REPLICATE = 1  # optimistic pipelined appends, bounded by the inflight window
    SNAPSHOT = 2  # a snapshot is on its way; no appends until it is reported


@dataclass(slots=True)
class PeerStatus:
    """A snapshot of the leader's view of one member, for ``Status``."""

    match: int
    next: int
    state: ProgressState
    recent_active: bool
    pending_snapshot: int = 0


@dataclass(slots=True)
class Status:
    """What ``RawNode.status()`` reports (``progress`` only on the leader)."""

    id: int
    term: int
    vote: int
    commit: int
    applied: int
    lead: int
    role: Role
    lead_transferee: int = NONE
    progress: dict[int, PeerStatus] = field(default_factory=dict)
