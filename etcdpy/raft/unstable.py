"""The tail of the log that is not durable yet (etcd's log_unstable.go).

Entries and an incoming snapshot live here from the moment Raft accepts them until the
server has persisted the Ready that carried them and called ``advance``.
"""

from __future__ import annotations

from etcdpy.raft.errors import RaftInvariantError
from etcdpy.raft.types import Entry, Snapshot


class Unstable:
    __slots__ = ("entries", "offset", "snapshot")

    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        # Index of entries[0]; equals snapshot index + 1 when a snapshot is pending.
        self.offset = offset

    def maybe_first_index(self) -> int | None:
        if self.snapshot is not None:
            return self.snapshot.metadata.index + 1
        return None

    def maybe_last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        if self.snapshot is not None:
            return self.snapshot.metadata.index
        return None

    def maybe_term(self, i: int) -> int | None:
        if i < self.offset:
            snap = self.snapshot
            if snap is not None and snap.metadata.index == i:
                return snap.metadata.term
            return None
        k = i - self.offset
        if k < len(self.entries):
            return self.entries[k].term
        return None

    def stable_to(self, i: int, t: int) -> None:
        """Entries up to ``i`` (of term ``t``) are durable now."""
        if i < self.offset:
            return
        k = i - self.offset
        # A term mismatch means the entry was replaced after the Ready was built.
        if k < len(self.entries) and self.entries[k].term == t:
            del self.entries[: k + 1]
            self.offset = i + 1

    def stable_snap_to(self, i: int) -> None:
        if self.snapshot is not None and self.snapshot.metadata.index == i:
            self.snapshot = None

    def restore(self, snap: Snapshot) -> None:
        self.offset = snap.metadata.index + 1
        self.entries = []
        self.snapshot = snap

    def truncate_and_append(self, ents: list[Entry]) -> None:
        after = ents[0].index
        n = len(self.entries)
        if after == self.offset + n:
            self.entries.extend(ents)
        elif after <= self.offset:
            # Replaces the whole unstable tail (and possibly stable entries too).
            self.offset = after
            self.entries = list(ents)
        else:
            del self.entries[after - self.offset :]
            self.entries.extend(ents)

    def slice(self, lo: int, hi: int) -> list[Entry]:
        upper = self.offset + len(self.entries)
        if lo > hi or lo < self.offset or hi > upper:
            raise RaftInvariantError(
                f"unstable slice [{lo}, {hi}) out of bounds [{self.offset}, {upper}]"
            )
        return self.entries[lo - self.offset : hi - self.offset]
