"""The frame format: padding, length field, chained CRC, and what counts as damage."""

from __future__ import annotations

import struct

import pytest

from etcdpy.raft.types import Entry, EntryType, HardState
from etcdpy.wal import record
from etcdpy.wal.record import FrameDamage, RecordType


def frames(*specs: tuple[int, bytes], crc: int = 0) -> tuple[bytes, int]:
    parts: list[bytes] = []
    for rtype, data in specs:
        crc = record.add_frame(parts, rtype, data, crc)
    return b"".join(parts), crc


@pytest.mark.parametrize("n", range(0, 20))
def test_every_frame_is_8_aligned_and_padding_is_in_the_length_field(n: int) -> None:
    buf, _ = frames((RecordType.METADATA, b"m" * n))
    assert len(buf) % 8 == 0
    assert len(buf) == record.frame_size(n)
    (lf,) = struct.unpack_from("<Q", buf)
    body = 5 + n
    pad = -body % 8
    assert lf & ((1 << 56) - 1) == body
    assert lf >> 56 == ((0x80 | pad) if pad else 0)
    assert buf[len(buf) - pad :] == bytes(pad)


def test_crc_chains_over_type_and_data_from_the_previous_record() -> None:
    buf, crc = frames((RecordType.METADATA, b"abc"), (RecordType.STATE, b"xyz"), crc=7)
    first = record.read_frame(buf, 0)
    assert first is not None
    _, stored1, _, nxt = first
    assert stored1 == record.crc32c(b"abc", record.crc32c(bytes([RecordType.METADATA]), 7))
    second = record.read_frame(buf, nxt)
    assert second is not None
    assert second[1] == record.crc32c(b"xyz", record.crc32c(bytes([RecordType.STATE]), stored1))
    assert second[1] == crc


def test_crc_record_carries_the_chain_value_unchanged() -> None:
    buf, crc = frames((RecordType.CRC, b""), crc=0xDEADBEEF)
    assert crc == 0xDEADBEEF
    fr = record.read_frame(buf, 0)
    assert fr is not None and fr[0] == RecordType.CRC and fr[1] == 0xDEADBEEF


def test_zero_length_and_end_of_file_end_the_records() -> None:
    buf, _ = frames((RecordType.METADATA, b"abc"))
    assert record.read_frame(buf + bytes(64), len(buf)) is None
    assert record.read_frame(buf, len(buf)) is None
    assert record.read_frame(buf + bytes(3), len(buf)) is None


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda b: b[:-8], "past the end"),
        (lambda b: b[:5], "ends inside a record header"),
        (lambda b: b[:7] + b"\x7f" + b[8:], "length field is invalid"),
        (lambda b: b[:12] + b"\x63" + b[13:], "unknown record type"),
        (lambda b: b[:-1] + b"\x01", "padding is not zero"),
    ],
)
def test_structural_damage_is_reported_with_its_offset(mutate: object, problem: str) -> None:
    buf, _ = frames((RecordType.METADATA, b"abcd"))  # 13 + 4 = 17 bytes -> 7 bytes of pad
    bad = mutate(buf)  # type: ignore[operator]
    with pytest.raises(FrameDamage) as ei:
        record.read_frame(bad, 0)
    assert ei.value.offset == 0
    assert problem in ei.value.problem


def test_payload_codecs_round_trip() -> None:
    es = [Entry(3, 7, EntryType.CONF_CHANGE, b"\x00cc"), Entry(3, 8, EntryType.NORMAL, b"")]
    assert record.decode_entries(record.encode_entries(es)) == es
    assert record.decode_state(record.encode_state(HardState(4, 2, 9))) == HardState(4, 2, 9)
    assert record.decode_snapshot(record.encode_snapshot(10, 3)) == (10, 3)


def test_find_chained_record_sees_a_valid_record_behind_a_damaged_one() -> None:
    buf, _ = frames(
        (RecordType.CRC, b""),
        (RecordType.METADATA, b"meta"),
        (RecordType.STATE, b"s1"),
        (RecordType.STATE, b"s2"),
    )
    third = record.frame_size(0) + record.frame_size(4)
    fourth = third + record.frame_size(2)
    damaged = bytearray(buf)
    damaged[third + 13] ^= 0x01  # a data byte of the third record
    found = record.find_chained_record(bytes(damaged), third, set())
    assert found == fourth
    # With nothing after the damaged record there is nothing to find.
    assert record.find_chained_record(bytes(damaged[:fourth]) + bytes(64), third, set()) is None


def test_find_chained_record_ignores_garbage_and_zeros() -> None:
    garbage = bytes(range(256)) * 4 + bytes(4096)
    assert record.find_chained_record(garbage, 0, {0, 1, 2}) is None
