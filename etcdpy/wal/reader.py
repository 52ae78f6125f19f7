"""Replaying segments: CRC chain, entry overwrites, snapshot marker, torn-tail verdict.

:class:`LogReader` folds the records of consecutive segments into what a restarting
member needs (metadata, last hard state, entries after the snapshot). It decides what a
damaged record means but never changes a file: the WAL repairs, the backup tool only
reads.

The verdict on a record that does not decode (bad length, CRC mismatch, bad padding,
cut short, garbage after a zero length field):

- in any segment but the last, or inside a segment's header (its first three records,
  written and fsynced before the segment got its name): corruption, never repaired;
- in the last segment, if a later record still proves it continues the CRC chain:
  corruption in the middle of the log (a flipped byte), never repaired;
- otherwise: a torn tail, the unsynced end of the last write before a crash.

This is stricter than etcd, which truncates at any record with an all-zero sector even
when verifiable records follow. Those records could be acknowledged ones behind a sector
the disk lost; we refuse instead of dropping them. The price: if a power cut persists
the sectors of the final write out of order (a later record of that write on disk, an
earlier sector not), the member refuses to start and must be re-added.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from etcdpy.raft.types import Entry, HardState
from etcdpy.wal import record
from etcdpy.wal.errors import (
    WalCorruptError,
    WalCrcMismatchError,
    WalEntryGapError,
    WalForeignFileError,
    WalMetadataConflictError,
    WalSegmentSequenceError,
    WalSnapshotMismatchError,
)
from etcdpy.wal.record import FrameDamage, RecordType

# crc, metadata, then a snapshot marker (first segment) or the hard state (later ones).
HEADER_RECORDS = 3


@dataclass(slots=True, frozen=True)
class WalSnapshot:
    """A snapshot marker in the WAL: the member can restart from the snapshot at
    ``index`` (taken in ``term``) using the entries written after this marker."""

    index: int = 0
    term: int = 0


@dataclass(slots=True)
class TornTail:
    """Where the records of the last segment stop being trustworthy."""

    path: str
    offset: int
    problem: str


@dataclass(slots=True)
class LogReader:
    start: WalSnapshot
    # False when only markers and hard state matter (list_wal_snapshots).
    want_entries: bool = True
    crc: int | None = None
    metadata: bytes | None = None
    state: HardState = field(default_factory=HardState)
    entries: list[Entry] = field(default_factory=list)
    matched: bool = False
    # Highest raft index written so far (entries or markers): the next segment's name.
    enti: int = 0
    markers: list[WalSnapshot] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.enti = self.start.index

    def read_segment(self, path: str, buf: bytes, is_last: bool) -> tuple[int, TornTail | None]:
        """Apply the records of one segment; return where they end and a torn tail if any.

        Raises a WalCorruptError subclass for damage that a crash cannot explain.
        """
        mv = memoryview(buf)
        off = 0
        count = 0
        # Bounded: off grows by at least one frame per round.
        while True:
            try:
                fr = record.read_frame(buf, off)
                if fr is None:
                    if buf.count(0, off) == len(buf) - off:
                        break
                    raise FrameDamage(off, "nonzero bytes follow a zero record length")
                rtype, stored, data_end, nxt = fr
                data = mv[off + record.HEADER_SIZE : data_end]
                if rtype == RecordType.CRC:
                    self._read_crc_record(path, off, count, stored, len(data))
                else:
                    if count == 0:
                        raise WalForeignFileError(
                            path, 0, "it does not start with a CRC record, so it is no WAL segment"
                        )
                    if self.crc is None:
                        raise WalCorruptError(path, off, "a record precedes the CRC record")
                    c = record.chain(rtype, data, self.crc)
                    if c != stored:
                        raise FrameDamage(off, "CRC mismatch")
                    self.crc = c
                    self._apply(path, off, count, rtype, data)
                count += 1
                off = nxt
            except FrameDamage as d:
                if d.problem == "CRC mismatch" and record.has_zero_sector(buf, d.offset):
                    d.problem = "CRC mismatch, an all-zero sector: a torn write"
                if count < HEADER_RECORDS:
                    raise WalCorruptError(
                        path, d.offset, f"{d.problem} in the segment header"
                    ) from None
                if not is_last:
                    raise WalCrcMismatchError(
                        path, d.offset, f"{d.problem} in a segment that is not the newest"
                    ) from None
                after = record.find_chained_record(buf, d.offset, self._preds(buf, d.offset))
                if after is not None:
                    raise WalCrcMismatchError(
                        path, d.offset, f"{d.problem}, followed by valid records at offset {after}"
                    ) from None
                return d.offset, TornTail(path, d.offset, d.problem)
        if count < HEADER_RECORDS:
            raise WalCorruptError(path, off, "the segment header is incomplete")
        return off, None

    def _preds(self, buf: bytes, off: int) -> set[int]:
        """Chain values a record right after the damaged one at ``off`` could start from."""
        preds: set[int] = set()
        if self.crc is not None:
            preds.add(self.crc)
        if off + record.HEADER_SIZE <= len(buf):
            (lf,) = record.LENGTH.unpack_from(buf, off)
            stored, rtype = record.BODY_HEAD.unpack_from(buf, off + record.ALIGN)
            preds.add(stored)
            data_end = off + record.ALIGN + (lf & record.LENGTH_MASK)
            if self.crc is not None and rtype in record.KNOWN_TYPES and data_end <= len(buf):
                data = memoryview(buf)[off + record.HEADER_SIZE : data_end]
                preds.add(record.chain(rtype, data, self.crc))
        return preds

    def _read_crc_record(self, path: str, off: int, count: int, stored: int, size: int) -> None:
        if count != 0 or size != 0:
            raise FrameDamage(off, "a CRC record inside a segment")
        if self.crc is not None and stored != self.crc:
            raise WalSegmentSequenceError(
                path,
                0,
                "it does not continue the CRC chain of the segment before it "
                "(a segment is out of order, replaced or missing)",
            )
        self.crc = stored

    def _apply(self, path: str, off: int, count: int, rtype: int, data: memoryview) -> None:
        if count == 1 and rtype != RecordType.METADATA:
            raise WalCorruptError(path, off, "the second record of a segment is not its metadata")
        try:
            if rtype == RecordType.ENTRY:
                # Listing markers needs no entries (nor the next segment's name).
                if self.want_entries:
                    self._apply_entries(path, off, record.decode_entries(data))
            elif rtype == RecordType.STATE:
                self.state = record.decode_state(data)
            elif rtype == RecordType.METADATA:
                md = bytes(data)
                if self.metadata is None:
                    self.metadata = md
                elif md != self.metadata:
                    raise WalMetadataConflictError(
                        path, off, "its metadata differs from the metadata of earlier segments"
                    )
            elif rtype == RecordType.SNAPSHOT:
                index, term = record.decode_snapshot(data)
                self.markers.append(WalSnapshot(index, term))
                self.enti = max(self.enti, index)
                if index == self.start.index:
                    if term != self.start.term:
                        raise WalSnapshotMismatchError(
                            path,
                            off,
                            f"the snapshot marker at index {index} has term {term}, "
                            f"the snapshot has term {self.start.term}",
                        )
                    self.matched = True
        except (ValueError, TypeError, KeyError) as e:
            # It passed its CRC, so this is no torn write: a foreign or buggy writer.
            raise WalCorruptError(
                path, off, f"a record passed its CRC but does not decode: {e}"
            ) from None

    def _apply_entries(self, path: str, off: int, ents: list[Entry]) -> None:
        start = self.start.index
        out = self.entries
        for e in ents:
            # Entries up to the snapshot are in the snapshot; a later index i replaces
            # every entry >= i read so far (a new leader rewrote the tail).
            if e.index > start:
                up = e.index - start - 1
                if up > len(out):
                    raise WalEntryGapError(
                        path,
                        off,
                        f"entry {e.index} follows entry {start + len(out)}, "
                        "entries in between are missing",
                    )
                if up < len(out):
                    del out[up:]
                out.append(e)
            self.enti = e.index


def read_file(fd: int) -> bytes:
    """The whole segment (at most a segment size plus one batch) in one read."""
    size = os.fstat(fd).st_size
    chunks: list[bytes] = []
    off = 0
    # Bounded: stops at the size seen at the start or at the first empty read.
    while off < size:
        chunk = os.pread(fd, size - off, off)
        if not chunk:
            break
        chunks.append(chunk)
        off += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
