"""``MemoryStorage``: the stable part of the Raft log, held in memory.

The equivalent of etcd's ``raft.MemoryStorage``. The server keeps it in step with what
it made durable: after persisting a Ready it calls ``apply_snapshot`` (if the Ready
had a snapshot) and ``append`` (with the Ready's entries); at startup it rebuilds it
from the snapshot file and the WAL (``apply_snapshot``, ``set_hard_state``,
``append``). Raft only reads it, except that the server compacts it after taking a
snapshot (``create_snapshot`` then ``compact``).

Layout: ``_ents[0]`` is a dummy entry that carries the index and term of the last
compacted entry (the snapshot point), so ``term(first_index() - 1)`` is always known.
"""

from __future__ import annotations

import sys
from operator import attrgetter

from etcdpy.raft.errors import (
    CompactedError,
    RaftInvariantError,
    SnapshotOutOfDateError,
    UnavailableError,
)
from etcdpy.raft.types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata

NO_LIMIT = sys.maxsize

# Bytes an entry costs on the wire besides its payload (term, index, type, framing);
# only used to size messages and Ready batches, so an estimate is enough.
ENTRY_OVERHEAD = 12


_data_of = attrgetter("data")


def entry_size(e: Entry) -> int:
    return len(e.data) + ENTRY_OVERHEAD


def limit_size(ents: list[Entry], max_size: int) -> list[Entry]:
    """The longest prefix of ``ents`` within ``max_size`` bytes, never empty if ents isn't."""
    n = len(ents)
    if max_size >= NO_LIMIT or n <= 1:
        return ents
    # Common case first, summed at C speed: everything fits.
    if sum(map(len, map(_data_of, ents))) + n * ENTRY_OVERHEAD <= max_size:
        return ents
    size = 0
    for i, e in enumerate(ents):
        size += len(e.data) + ENTRY_OVERHEAD
        if size > max_size and i > 0:
            return ents[:i]
    return ents


class MemoryStorage:
    """Entries, hard state and latest snapshot that the server has made durable."""

    __slots__ = ("_ents", "_hard_state", "_snapshot")

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry()]

    # -- what Raft reads -------------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        hs = self._hard_state
        cs = self._snapshot.metadata.conf_state
        return HardState(hs.term, hs.vote, hs.commit), ConfState(list(cs.voters))

    def entries(self, lo: int, hi: int, max_size: int = NO_LIMIT) -> list[Entry]:
        """Entries [lo, hi), at most ``max_size`` bytes (but at least one entry)."""
        offset = self._ents[0].index
        if lo <= offset:
            raise CompactedError(f"index {lo} is compacted (first index {offset + 1})")
        if hi > offset + len(self._ents):
            raise RaftInvariantError(
                f"entries [{lo}, {hi}) requested past the last index {self.last_index()}"
            )
        if len(self._ents) == 1:
            raise UnavailableError("the storage holds no entries")
        return limit_size(self._ents[lo - offset : hi - offset], max_size)

    def term(self, i: int) -> int:
        offset = self._ents[0].index
        if i < offset:
            raise CompactedError(f"index {i} is compacted (first index {offset + 1})")
        k = i - offset
        if k >= len(self._ents):
            raise UnavailableError(f"index {i} is past the last index {self.last_index()}")
        return self._ents[k].term

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- what the server writes ------------------------------------------------------

    def set_hard_state(self, hs: HardState) -> None:
        self._hard_state = HardState(hs.term, hs.vote, hs.commit)

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace the whole content with ``snap`` (a snapshot received from the leader,
        or the newest snapshot file at startup)."""
        if snap.metadata.index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDateError(
                f"snapshot at index {snap.metadata.index} is not newer than the current "
                f"one at {self._snapshot.metadata.index}"
            )
        self._snapshot = snap
        self._ents = [Entry(term=snap.metadata.term, index=snap.metadata.index)]

    def create_snapshot(self, index: int, conf_state: ConfState | None, data: bytes) -> Snapshot:
        """Record a snapshot of the state machine at ``index`` (applied by the server).

        ``conf_state`` is the configuration at ``index`` (what ``apply_conf_change`` last
        returned); it becomes the membership a restarted or caught-up member starts from.
        """
        if index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDateError(
                f"snapshot index {index} is not newer than the current one at "
                f"{self._snapshot.metadata.index}"
            )
        offset = self._ents[0].index
        if index > self.last_index():
            raise RaftInvariantError(
                f"snapshot index {index} is past the last index {self.last_index()}"
            )
        cs = conf_state if conf_state is not None else self._snapshot.metadata.conf_state
        self._snapshot = Snapshot(
            SnapshotMetadata(index, self._ents[index - offset].term, ConfState(list(cs.voters))),
            data,
        )
        return self._snapshot

    def compact(self, compact_index: int) -> None:
        """Drop the entries up to and including ``compact_index`` (must be applied)."""
        offset = self._ents[0].index
        if compact_index <= offset:
            raise CompactedError(f"index {compact_index} is already compacted")
        if compact_index > self.last_index():
            raise RaftInvariantError(
                f"compact index {compact_index} is past the last index {self.last_index()}"
            )
        k = compact_index - offset
        dummy = Entry(term=self._ents[k].term, index=compact_index)
        self._ents = [dummy, *self._ents[k + 1 :]]

    def append(self, entries: list[Entry]) -> None:
        """Append durable entries; an entry at index i replaces everything from i on."""
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return  # wholly compacted already
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        k = entries[0].index - self._ents[0].index
        n = len(self._ents)
        if k < n:
            del self._ents[k:]
        elif k > n:
            raise RaftInvariantError(
                f"missing log entry: last index {self.last_index()}, appending from "
                f"{entries[0].index}"
            )
        self._ents.extend(entries)
