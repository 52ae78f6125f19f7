"""``RaftLog``: the whole log as Raft sees it, stable storage plus the unstable tail.

The equivalent of etcd's log.go. Indexes: ``applied <= committed <= last_index()``;
everything below ``first_index()`` is compacted into the snapshot.
"""

from __future__ import annotations

from etcdpy.raft.errors import CompactedError, RaftInvariantError, UnavailableError
from etcdpy.raft.storage import NO_LIMIT, MemoryStorage, limit_size
from etcdpy.raft.types import Entry, Snapshot
from etcdpy.raft.unstable import Unstable


class RaftLog:
    __slots__ = ("applied", "applying", "committed", "max_next_ents_size", "storage", "unstable")

    def __init__(self, storage: MemoryStorage, max_next_ents_size: int = NO_LIMIT) -> None:
        self.storage = storage
        first = storage.first_index()
        last = storage.last_index()
        self.unstable = Unstable(last + 1)
        # Everything up to the snapshot is committed and applied by definition.
        self.committed = first - 1
        self.applied = first - 1
        # The last index handed to the server for applying (in a Ready not advanced yet).
        self.applying = first - 1
        self.max_next_ents_size = max_next_ents_size

    def __repr__(self) -> str:
        return (
            f"RaftLog(committed={self.committed}, applied={self.applied}, "
            f"unstable.offset={self.unstable.offset}, "
            f"len(unstable.entries)={len(self.unstable.entries)})"
        )

    # -- indexes and terms ----------------------------------------------------------

    def first_index(self) -> int:
        i = self.unstable.maybe_first_index()
        if i is not None:
            return i
        return self.storage.first_index()

    def last_index(self) -> int:
        u = self.unstable
        if u.entries:
            return u.offset + len(u.entries) - 1
        if u.snapshot is not None:
            return u.snapshot.metadata.index
        return self.storage.last_index()

    def term(self, i: int) -> int:
        """Term of entry ``i``; raises CompactedError / UnavailableError outside the log."""
        u = self.unstable
        if i >= u.offset:
            k = i - u.offset
            if k < len(u.entries):
                return u.entries[k].term
            raise UnavailableError(f"index {i} is past the last index {self.last_index()}")
        snap = u.snapshot
        if snap is not None:
            if i == snap.metadata.index:
                return snap.metadata.term
            # Older stable entries are superseded by the pending snapshot.
            raise CompactedError(f"index {i} is compacted by a pending snapshot")
        return self.storage.term(i)

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, i: int, t: int) -> bool:
        try:
            return self.term(i) == t
        except (CompactedError, UnavailableError):
            return False

    def zero_term_on_out_of_range(self, i: int) -> int:
        try:
            return self.term(i)
        except (CompactedError, UnavailableError):
            return 0

    def is_up_to_date(self, last_index: int, term: int) -> bool:
        """Whether a log ending at (last_index, term) is at least as up to date as ours."""
        our_term = self.last_term()
        return term > our_term or (term == our_term and last_index >= self.last_index())

    # -- appending ------------------------------------------------------------------

    def maybe_append(
        self, index: int, log_term: int, committed: int, ents: list[Entry]
    ) -> int | None:
        """Append a leader's entries that follow (index, log_term).

        Returns the index of the last new entry, or None when our log does not contain
        (index, log_term) so the append is rejected.
        """
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(ents)
        if ents:
            ci = self.find_conflict(ents)
            if ci:
                if ci <= self.committed:
                    raise RaftInvariantError(
                        f"entry {ci} conflicts with a committed entry (committed {self.committed})"
                    )
                self.append(ents[ci - index - 1 :])
        self.commit_to(min(committed, last_new))
        return last_new

    def append(self, ents: list[Entry]) -> int:
        if not ents:
            return self.last_index()
        after = ents[0].index - 1
        if after < self.committed:
            raise RaftInvariantError(
                f"appending after {after} would overwrite committed entries up to {self.committed}"
            )
        self.unstable.truncate_and_append(ents)
        return self.last_index()

    def find_conflict(self, ents: list[Entry]) -> int:
        """Index of the first entry of ``ents`` that is new or conflicts, 0 if none."""
        last = self.last_index()
        for e in ents:
            if e.index > last or not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (i, term(i)) with i <= index and term(i) <= term.

        Used on both sides of a rejected append so that the leader skips a whole term of
        divergent entries per round trip instead of one entry. An index we cannot see
        (compacted) is returned with term 0: "may match".
        """
        while index > 0:
            try:
                our = self.term(index)
            except (CompactedError, UnavailableError):
                return index, 0
            if our <= term:
                return index, our
            index -= 1
        return 0, 0

    # -- committed / applied ----------------------------------------------------------

    def commit_to(self, to_commit: int) -> None:
        if to_commit > self.committed:
            if self.last_index() < to_commit:
                raise RaftInvariantError(
                    f"commit index {to_commit} is out of range [last index "
                    f"{self.last_index()}]; was the log truncated or lost?"
                )
            self.committed = to_commit

    def maybe_commit(self, max_index: int, term: int) -> bool:
        # Only entries of the current term are committed by counting replicas (§5.4.2);
        # earlier ones follow implicitly.
        if max_index > self.committed and self.zero_term_on_out_of_range(max_index) == term:
            self.commit_to(max_index)
            return True
        return False

    def applied_to(self, i: int) -> None:
        if i == 0:
            return
        if self.committed < i or i < self.applied:
            raise RaftInvariantError(
                f"applied index {i} is out of range [prev applied {self.applied}, committed "
                f"{self.committed}]"
            )
        self.applied = i
        if self.applying < i:
            self.applying = i

    def has_next_committed_entries(self) -> bool:
        return self.committed > max(self.applied, self.first_index() - 1)

    def next_committed_entries(self) -> list[Entry]:
        off = max(self.applied + 1, self.first_index())
        if self.committed + 1 > off:
            return self.slice(off, self.committed + 1, self.max_next_ents_size)
        return []

    def unstable_entries(self) -> list[Entry]:
        return self.unstable.entries[:]

    def stable_to(self, i: int, t: int) -> None:
        self.unstable.stable_to(i, t)

    def stable_snap_to(self, i: int) -> None:
        self.unstable.stable_snap_to(i)

    def has_pending_snapshot(self) -> bool:
        return self.unstable.snapshot is not None

    # -- reading entries -----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    def entries(self, i: int, max_size: int = NO_LIMIT) -> list[Entry]:
        if i > self.last_index():
            return []
        return self.slice(i, self.last_index() + 1, max_size)

    def slice(self, lo: int, hi: int, max_size: int = NO_LIMIT) -> list[Entry]:
        """Entries [lo, hi) within ``max_size`` bytes; raises CompactedError if lo is gone."""
        if lo > hi:
            raise RaftInvariantError(f"invalid slice [{lo}, {hi})")
        first = self.first_index()
        if lo < first:
            raise CompactedError(f"index {lo} is compacted (first index {first})")
        if hi > self.last_index() + 1:
            raise RaftInvariantError(
                f"slice [{lo}, {hi}) out of bounds [{first}, {self.last_index()}]"
            )
        if lo == hi:
            return []
        u = self.unstable
        if hi <= u.offset:
            return self.storage.entries(lo, hi, max_size)
        if lo >= u.offset:
            return limit_size(u.entries[lo - u.offset : hi - u.offset], max_size)
        stored = self.storage.entries(lo, u.offset, max_size)
        if len(stored) < u.offset - lo:
            return stored  # the size limit stopped inside the stable part
        return limit_size(stored + u.entries[: hi - u.offset], max_size)

    def restore(self, snap: Snapshot) -> None:
        self.committed = snap.metadata.index
        self.unstable.restore(snap)
