"""``Config``: the parameters of one Raft member (etcd's raft.Config)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from etcdpy.raft.errors import ConfigError
from etcdpy.raft.storage import NO_LIMIT, MemoryStorage
from etcdpy.raft.types import NONE


@dataclass(slots=True)
class Config:
    """How a member runs Raft.

    - ``id``: this member's id (never 0).
    - ``election_tick``: a follower that hears nothing from a leader for a random
      number of ticks in [election_tick, 2*election_tick - 1] starts an election; a
      leader with check-quorum steps down after election_tick ticks without hearing
      from a quorum.
    - ``heartbeat_tick``: a leader sends heartbeats every heartbeat_tick ticks.
    - ``storage``: the stable log; for a restart it must already hold what was
      persisted (snapshot, hard state, entries).
    - ``applied``: the last index the state machine has applied (its snapshot index on
      a restart); committed entries after it are delivered again.
    - ``max_size_per_msg``: byte budget of the entries of one append message.
    - ``max_inflight_msgs``: appends in flight to one follower in REPLICATE state.
    - ``max_committed_size_per_ready``: byte budget of ``Ready.committed_entries``
      (0: same as max_size_per_msg, as etcd).
    - ``check_quorum``: a leader steps down when it has not heard from a quorum within
      an election timeout, and followers ignore vote requests while they hear from a
      leader (leader lease).
    - ``pre_vote``: a member first asks whether it could win (without raising its term),
      so an isolated member that rejoins does not depose a healthy leader.
    - ``rng``: the only source of randomness (election timeouts); None seeds one from
      ``id`` so a run is reproducible.
    - ``logger``: where elections and membership events are logged (debug details only
      when its level is DEBUG); None uses the ``etcdpy.raft`` logger.
    """

    id: int
    election_tick: int = 10
    heartbeat_tick: int = 1
    storage: MemoryStorage | None = None
    applied: int = 0
    max_size_per_msg: int = 1 << 20
    max_inflight_msgs: int = 256
    check_quorum: bool = True
    pre_vote: bool = True
    rng: random.Random | None = None
    logger: logging.Logger | None = None
    max_committed_size_per_ready: int = 0

    def validate(self) -> None:
        if self.id == NONE:
            raise ConfigError("raft Config.id is 0; give every member a non-zero id.")
        if self.heartbeat_tick <= 0:
            raise ConfigError(
                f"raft Config.heartbeat_tick is {self.heartbeat_tick}; it must be at least 1."
            )
        if self.election_tick <= self.heartbeat_tick:
            raise ConfigError(
                f"raft Config.election_tick ({self.election_tick}) must be greater than "
                f"heartbeat_tick ({self.heartbeat_tick}); raise the election timeout."
            )
        if self.storage is None:
            raise ConfigError("raft Config.storage is missing; pass a MemoryStorage.")
        if self.max_inflight_msgs <= 0:
            raise ConfigError(
                f"raft Config.max_inflight_msgs is {self.max_inflight_msgs}; it must be at least 1."
            )
        if self.max_size_per_msg <= 0:
            raise ConfigError(
                f"raft Config.max_size_per_msg is {self.max_size_per_msg}; it must be positive."
            )
        if self.applied < 0:
            raise ConfigError(f"raft Config.applied is {self.applied}; it cannot be negative.")

    def committed_size_per_ready(self) -> int:
        if self.max_committed_size_per_ready > 0:
            return self.max_committed_size_per_ready
        return self.max_size_per_msg if self.max_size_per_msg > 0 else NO_LIMIT
