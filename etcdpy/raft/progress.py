"""The leader's view of one follower: match/next indexes and flow control.

The equivalent of etcd's tracker/progress.go and tracker/inflights.go. In PROBE the
leader sends one append and waits for the answer (or a heartbeat response) before the
next one; in REPLICATE it pipelines appends, at most ``max_inflight`` messages that
are not acknowledged yet; in SNAPSHOT it sends nothing until the snapshot is reported.
"""

from __future__ import annotations

from collections import deque

from etcdpy.raft.state import PeerStatus, ProgressState

PROBE = ProgressState.PROBE
REPLICATE = ProgressState.REPLICATE
SNAPSHOT = ProgressState.SNAPSHOT


class Inflights:
    """The last indexes of the appends sent and not acknowledged yet, oldest first."""

    __slots__ = ("_q", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._q: deque[int] = deque()

    def add(self, index: int) -> None:
        self._q.append(index)

    def free_le(self, to: int) -> None:
        """Everything up to and including ``to`` was acknowledged."""
        q = self._q
        while q and q[0] <= to:
            q.popleft()

    def free_first_one(self) -> None:
        if self._q:
            self._q.popleft()

    def full(self) -> bool:
        return len(self._q) >= self.capacity

    def count(self) -> int:
        return len(self._q)

    def reset(self) -> None:
        self._q.clear()


class Progress:
    __slots__ = (
        "inflights",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "state",
    )

    def __init__(self, match: int, next_index: int, max_inflight: int) -> None:
        self.match = match
        self.next = next_index
        self.state = PROBE
        # In SNAPSHOT: the index of the snapshot sent.
        self.pending_snapshot = 0
        # Heard from the follower since the last check-quorum round.
        self.recent_active = False
        # In PROBE: an append is out; wait for its answer or a heartbeat response.
        self.probe_sent = False
        self.inflights = Inflights(max_inflight)

    def __repr__(self) -> str:
        return (
            f"Progress(match={self.match}, next={self.next}, state={self.state.name}, "
            f"pending_snapshot={self.pending_snapshot}, probe_sent={self.probe_sent}, "
            f"inflight={self.inflights.count()})"
        )

    def _reset_state(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state is SNAPSHOT:
            # The snapshot was delivered: probe right after it.
            pending = self.pending_snapshot
            self._reset_state(PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, n: int) -> bool:
        """The follower acknowledged entries up to ``n``; False if that is old news."""
        updated = False
        if self.match < n:
            self.match = n
            updated = True
            self.probe_sent = False
        if self.next < n + 1:
            self.next = n + 1
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """The follower rejected an append at ``rejected``; False if the rejection is stale."""
        if self.state is REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        # Probes go out one at a time, so only a rejection of next-1 is current.
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        state = self.state
        if state is REPLICATE:
            return len(self.inflights._q) >= self.inflights.capacity
        if state is PROBE:
            return self.probe_sent
        return True

    def to_status(self) -> PeerStatus:
        return PeerStatus(
            self.match, self.next, self.state, self.recent_active, self.pending_snapshot
        )
