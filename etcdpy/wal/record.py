"""WAL record framing: length, type, chained CRC32C, payload, 8-byte padding.

One frame on disk (all integers little-endian)::

    u64 length field   low 56 bits: body length (crc + type + data, unpadded);
                       top byte: 0x80 | pad when pad > 0, else 0 (etcd 3.x)
    u32 crc            CRC32C chained from the previous record over type + data;
                       for a CRC record: the chain value carried in from the previous segment
    u8  type           one of the RecordType values
    ... data           the payload (msgpack, or opaque bytes for metadata)
    ... pad            0-7 zero bytes so the next frame starts 8-aligned

Every frame starts 8-aligned, so a length field never straddles a 512-byte sector and is
never torn by itself; a length of zero is the start of the preallocated (zeroed) space.
The CRC covers the type byte as well as the data, so a flipped byte anywhere in a frame
is caught, and it chains over every record since the WAL was created, so a frame from
elsewhere, a dropped frame or a reordered segment breaks the chain.

The ENTRY payload is a msgpack array of consecutive entries (one record per save batch,
not one per entry): framing then costs a fixed amount per batch instead of per entry.
"""

from __future__ import annotations

import re
import struct
from enum import IntEnum
from typing import Any

import crc32c as _crc32c
import msgpack

from etcdpy.raft.types import Entry, EntryType, HardState


class RecordType(IntEnum):
    METADATA = 1
    ENTRY = 2
    STATE = 3
    CRC = 4
    SNAPSHOT = 5


LENGTH = struct.Struct("<Q")
BODY_HEAD = struct.Struct("<IB")
HEADER = struct.Struct("<QIB")
HEADER_SIZE = HEADER.size  # 13
BODY_MIN = BODY_HEAD.size  # 5: crc + type
LENGTH_MASK = (1 << 56) - 1
ALIGN = 8
SECTOR = 512

KNOWN_TYPES = frozenset(int(t) for t in RecordType)
_TYPE_BYTE = {int(t): bytes([int(t)]) for t in RecordType}
_PADDING = [bytes(n) for n in range(ALIGN)]
_ENTRY_TYPES = {int(t): t for t in EntryType}
_NONZERO = re.compile(rb"[^\x00]")

crc32c = _crc32c.crc32c
_packb = msgpack.packb
_unpackb = msgpack.unpackb


def length_field(body_len: int) -> int:
    pad = -body_len & 7
    return body_len | ((0x80 | pad) << 56) if pad else body_len


def add_frame(parts: list[bytes], rtype: int, data: bytes, crc: int) -> int:
    """Append one frame to ``parts`` (header, data, padding); return the new chain CRC."""
    # A CRC record carries the chain value; it is not itself chained.
    stored = crc if rtype == RecordType.CRC else crc32c(data, crc32c(_TYPE_BYTE[rtype], crc))
    body = BODY_MIN + len(data)
    parts.append(HEADER.pack(length_field(body), stored, rtype))
    if data:
        parts.append(data)
    pad = -body & 7
    if pad:
        parts.append(_PADDING[pad])
    return stored


def frame_size(data_len: int) -> int:
    body = BODY_MIN + data_len
    return ALIGN + body + (-body & 7)


def chain(rtype: int, data: bytes | memoryview, crc: int) -> int:
    """The chain CRC after a (non-CRC) record whose predecessor left ``crc``."""
    return crc32c(data, crc32c(_TYPE_BYTE[rtype], crc))


class FrameDamage(Exception):
    """A frame that does not decode; whether it is a torn tail is the caller's call."""

    def __init__(self, offset: int, problem: str) -> None:
        super().__init__(problem)
        self.offset = offset
        self.problem = problem


def read_frame(buf: bytes, off: int) -> tuple[int, int, int, int] | None:
    """Decode the frame at ``off``: ``(type, stored_crc, data_end, next_off)``.

    None means the records end here (end of file, or a zero length field: the start of
    preallocated space); the caller checks that nothing but zeros follows. The CRC is
    not checked here because it needs the chain.
    """
    n = len(buf)
    if n - off < ALIGN:
        if buf.count(0, off) == n - off:
            return None
        raise FrameDamage(off, "the file ends inside a record header")
    (lf,) = LENGTH.unpack_from(buf, off)
    if lf == 0:
        return None
    body = lf & LENGTH_MASK
    pad = -body & 7
    if body < BODY_MIN or lf >> 56 != ((0x80 | pad) if pad else 0):
        raise FrameDamage(off, "the record length field is invalid")
    data_end = off + ALIGN + body
    end = data_end + pad
    if end > n:
        raise FrameDamage(off, f"a {body}-byte record runs past the end of the file")
    stored, rtype = BODY_HEAD.unpack_from(buf, off + ALIGN)
    if rtype not in KNOWN_TYPES:
        raise FrameDamage(off, f"unknown record type {rtype}")
    if pad and buf.count(0, data_end, end) != pad:
        raise FrameDamage(off, "the record padding is not zero")
    return rtype, stored, data_end, end


def _plausible(buf: bytes, q: int, n: int) -> tuple[int, int, int] | None:
    """``(type, stored_crc, end)`` if the bytes at ``q`` look like a frame header."""
    (lf,) = LENGTH.unpack_from(buf, q)
    body = lf & LENGTH_MASK
    pad = -body & 7
    if body < BODY_MIN or lf >> 56 != ((0x80 | pad) if pad else 0):
        return None
    end = q + ALIGN + body + pad
    if end > n:
        return None
    stored, rtype = BODY_HEAD.unpack_from(buf, q + ALIGN)
    if rtype not in KNOWN_TYPES:
        return None
    return rtype, stored, end


def find_chained_record(buf: bytes, start: int, preds: set[int]) -> int | None:
    """Offset of a record after ``start`` whose CRC proves it continues the chain.

    Used when a record at ``start`` does not decode: if a verifiable record follows it,
    the damage is in the middle of the log (not a torn tail) and must not be repaired
    by truncation. A candidate at ``q`` is verified against the stored CRC of a
    plausible frame that ends exactly at ``q``, or against ``preds``: the chain values
    the damaged record could have left (its stored CRC, its recomputed CRC, the CRC
    before it). Candidates sit on 8-byte boundaries; zero runs are skipped at C speed.
    """
    n = len(buf)
    mv = memoryview(buf)
    ends: dict[int, list[int]] = {}
    q = start
    # Bounded: q grows by at least ALIGN each round.
    while q + HEADER_SIZE <= n:
        if LENGTH.unpack_from(buf, q)[0] == 0:
            q = max(q + ALIGN, next_nonzero(buf, q + ALIGN) & ~7)
            continue
        fr = _plausible(buf, q, n)
        if fr is not None:
            rtype, stored, end = fr
            if q > start and rtype != RecordType.CRC:
                (lf,) = LENGTH.unpack_from(buf, q)
                data = mv[q + HEADER_SIZE : q + ALIGN + (lf & LENGTH_MASK)]
                for p in (*ends.get(q, ()), *preds):
                    if chain(rtype, data, p) == stored:
                        return q
            ends.setdefault(end, []).append(stored)
        q += ALIGN
    return None


def has_zero_sector(buf: bytes, off: int) -> bool:
    """etcd's torn-write signature: a 512-byte sector (aligned in the file) inside the
    record at ``off`` is all zeros, as left by a write that did not reach the disk."""
    n = len(buf)
    if off + ALIGN > n:
        return False
    (lf,) = LENGTH.unpack_from(buf, off)
    end = min(n, off + ALIGN + (lf & LENGTH_MASK))
    s = (off + SECTOR - 1) // SECTOR * SECTOR
    while s + SECTOR <= end:
        if buf.count(0, s, s + SECTOR) == SECTOR:
            return True
        s += SECTOR
    return False


def next_nonzero(buf: bytes, start: int) -> int:
    """Offset of the first nonzero byte at or after ``start``, or ``len(buf)``."""
    m = _NONZERO.search(buf, start)
    return m.start() if m else len(buf)


# Payload codecs. Entries travel as positional arrays; IntEnum packs as its int value.


def encode_entries(entries: list[Entry]) -> bytes:
    return _packb([(e.term, e.index, e.type, e.data) for e in entries])


def decode_entries(data: bytes | memoryview) -> list[Entry]:
    et = _ENTRY_TYPES
    return [Entry(t, i, et[ty], d) for t, i, ty, d in _unpackb(data, use_list=False)]


def encode_state(hs: HardState) -> bytes:
    return _packb((hs.term, hs.vote, hs.commit))


def decode_state(data: bytes | memoryview) -> HardState:
    term, vote, commit = _unpackb(data, use_list=False)
    if not (isinstance(term, int) and isinstance(vote, int) and isinstance(commit, int)):
        raise ValueError("hard state fields are not integers")
    return HardState(term, vote, commit)


def encode_snapshot(index: int, term: int) -> bytes:
    return _packb((index, term))


def decode_snapshot(data: bytes | memoryview) -> tuple[int, int]:
    index, term = _unpackb(data, use_list=False)
    if not (isinstance(index, int) and isinstance(term, int)):
        raise ValueError("snapshot marker fields are not integers")
    return index, term


def decode_any(rtype: int, data: bytes | memoryview) -> Any:
    """Decode a payload by type (for tools and tests that list records)."""
    if rtype == RecordType.ENTRY:
        return decode_entries(data)
    if rtype == RecordType.STATE:
        return decode_state(data)
    if rtype == RecordType.SNAPSHOT:
        return decode_snapshot(data)
    return bytes(data)
