"""The set of voters, their replication progress and the votes of an election.

The equivalent of etcd's tracker and quorum packages, for single-member configuration
changes only (no joint consensus, no learners): a quorum is a strict majority of
``voters``.
"""

from __future__ import annotations

from enum import IntEnum

from etcdpy.raft.progress import Progress
from etcdpy.raft.types import ConfState


class VoteResult(IntEnum):
    PENDING = 0
    LOST = 1
    WON = 2


class ProgressTracker:
    __slots__ = ("max_inflight", "progress", "voters", "votes")

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.voters: set[int] = set()
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}

    def conf_state(self) -> ConfState:
        return ConfState(sorted(self.voters))

    def is_singleton(self) -> bool:
        return len(self.voters) == 1

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def add(self, node_id: int, match: int, next_index: int) -> Progress:
        pr = Progress(match, next_index, self.max_inflight)
        self.progress[node_id] = pr
        self.voters.add(node_id)
        return pr

    def remove(self, node_id: int) -> None:
        self.progress.pop(node_id, None)
        self.voters.discard(node_id)
        self.votes.pop(node_id, None)

    def committed(self) -> int:
        """The largest index replicated on a quorum of voters (0 with no voters)."""
        n = len(self.voters)
        if n == 0:
            return 0
        prs = self.progress
        matches = sorted([prs[v].match for v in self.voters], reverse=True)
        return matches[n // 2]

    def quorum_active(self, self_id: int) -> bool:
        prs = self.progress
        active = sum(1 for v in self.voters if v == self_id or prs[v].recent_active)
        return active >= self.quorum()

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node_id: int, granted: bool) -> None:
        if node_id not in self.votes:
            self.votes[node_id] = granted

    def tally_votes(self) -> tuple[int, int, VoteResult]:
        granted = rejected = 0
        for v in self.voters:
            vote = self.votes.get(v)
            if vote is None:
                continue
            if vote:
                granted += 1
            else:
                rejected += 1
        q = self.quorum()
        missing = len(self.voters) - granted - rejected
        if granted >= q:
            result = VoteResult.WON
        elif granted + missing >= q:
            result = VoteResult.PENDING
        else:
            result = VoteResult.LOST
        return granted, rejected, result
