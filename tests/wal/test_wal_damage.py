"""Torn tails are repaired; every other kind of damage refuses to open, clearly."""

from __future__ import annotations

import hashlib
import os

import pytest

from etcdpy.raft.types import HardState
from etcdpy.wal import (
    WAL,
    WalCorruptError,
    WalCrcMismatchError,
    WalEntryGapError,
    WalError,
    WalForeignFileError,
    WalMetadataConflictError,
    WalSegmentSequenceError,
    WalSnapshot,
    WalSnapshotMismatchError,
    WalSnapshotNotFoundError,
)
from etcdpy.wal.errors import REMEDY
from tests.wal.wal_helpers import Model, copy_dir, cut, ents, flip, read_back, segments

SMALL = 1024
SEGMENT = 512


def build(
    waldir: str, n_ops: int = 40, metadata: bytes = b"meta"
) -> tuple[Model, list[tuple[str, int, tuple]]]:
    """A log over a few small segments; returns the model and, after each save, where
    the log ended and what a reader must see from there. Each save writes exactly one
    record (entries alone, or a hard state alone), so record and save boundaries agree."""
    w = WAL.create(waldir, metadata, segment_size=SEGMENT)
    m = Model()
    marks: list[tuple[str, int, tuple]] = [(*w.tail(), m.snapshot())]
    last = 0
    for i in range(1, n_ops + 1):
        term = 1 + i // 10
        if i % 3 == 0:
            hs, es = HardState(term, 1, max(0, last - 2)), []
        elif i % 7 == 0 and last > 2:  # a new leader rewrites the last two entries
            hs, es = HardState(), ents(last - 1, last + 1, term=term, size=24)
        else:
            hs, es = HardState(), ents(last + 1, last + 1, term=term, size=24)
        if es:
            last = es[-1].index
        w.save(hs, es)
        m.save(hs, es)
        marks.append((*w.tail(), m.snapshot()))
    hs = HardState(9, 2, n_ops - 1)
    w.save(hs, [])
    m.save(hs, [])
    marks.append((*w.tail(), m.snapshot()))
    w.close()
    return m, marks


def sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def waldir(tmp_path: object) -> str:
    return os.path.join(str(tmp_path), "wal")


def read_only(dirpath: str) -> tuple[HardState, list]:
    r = WAL.open_for_read(dirpath, WalSnapshot())
    _, hs, es = r.read_all()
    return hs, es


def test_cut_at_every_byte_of_the_newest_segment_repairs_to_the_last_whole_save(
    tmp_path: object, waldir: str
) -> None:
    m, marks = build(waldir)
    assert len(segments(waldir)) >= 3
    last = segments(waldir)[-1]
    with open(last, "rb") as f:
        original = f.read()
    in_last = [(off, state) for path, off, state in marks if path == last]
    header_end = min(off for off, _ in in_last)
    end = in_last[-1][0]
    work = copy_dir(waldir, os.path.join(str(tmp_path), "work"))
    work_last = segments(work)[-1]
    for c in range(0, end + 1):
        with open(work_last, "wb") as f:
            f.write(original[:c])
        if c < header_end:
            # Only a segment header can be that short; a crash never leaves one.
            with pytest.raises(WalCorruptError, match="segment header"):
                read_only(work)
            continue
        expected = max((o, s) for o, s in in_last if o <= c)[1]
        assert read_only(work) == expected, f"cut at {c}"
        if c % 16 == 5 or c == end:
            # The repairing open agrees, and the repaired log takes appends again.
            repaired = copy_dir(work, os.path.join(str(tmp_path), "repaired"))
            assert read_back(repaired) == expected, f"repair after cut at {c}"
            w = WAL.open(repaired, WalSnapshot(), segment_size=SEGMENT)
            _, _, es = w.read_all()
            w.save(HardState(99, 1, 0), ents(len(es) + 1, len(es) + 1, term=99))
            w.close()
            assert read_back(repaired)[1] == es + ents(len(es) + 1, len(es) + 1, term=99)
    assert m.snapshot() == in_last[-1][1]


def test_flip_any_byte_anywhere_is_an_error_or_loses_only_the_last_record(waldir: str) -> None:
    _, marks = build(waldir)
    segs = segments(waldir)
    last = segs[-1]
    end = marks[-1][1]
    full, before_last = marks[-1][2], marks[-2][2]
    in_last = [off for path, off, _ in marks if path == last]
    # The newest segment may hold only its header (the last save rolled it).
    last_record_start = marks[-2][1] if marks[-2][0] == last else end
    checked = 0
    for path in segs:
        size = os.path.getsize(path)
        for p in range(size if path != last else min(size, end + 64)):
            mask = 0x01 << (p % 8)
            flip(path, p, mask)
            try:
                r = WAL.open_for_read(waldir, WalSnapshot())
                try:
                    _, hs, es = r.read_all()
                    got: tuple | None = (hs, es)
                except WalError:
                    got = None
            finally:
                flip(path, p, mask)
            where = f"flip at {os.path.basename(path)}:{p}"
            if path != last or p < last_record_start:
                assert got is None, f"{where} went unnoticed"
            elif p < end:
                assert got == before_last, f"{where} in the last record"
            else:
                assert got == full, f"{where} in the preallocated space"
            checked += 1
    assert checked > 2000 and in_last


def test_repair_keeps_the_damaged_file_and_appends_after_the_good_records(waldir: str) -> None:
    _, marks = build(waldir, n_ops=12)
    last = segments(waldir)[-1]
    good_end, before = marks[-2][1], marks[-2][2]
    with open(last, "rb") as f:
        original = f.read()
    # The last write only half reached the disk: garbage where its second half should be.
    with open(last, "r+b") as f:
        f.seek(good_end + 12)
        f.write(os.urandom(9))
    damaged = sha(last)
    w = WAL.open(waldir, WalSnapshot(), segment_size=SEGMENT)
    _, hs, es = w.read_all()
    assert (hs, es) == before
    assert sha(last + ".broken") == damaged
    assert os.path.getsize(last) >= SEGMENT  # truncated, then preallocated again
    w.save(HardState(20, 3, 1), ents(len(es) + 1, len(es) + 2, term=20))
    w.close()
    hs2, es2 = read_back(waldir)
    assert hs2 == HardState(20, 3, 1)
    assert es2 == es + ents(len(es) + 1, len(es) + 2, term=20)
    assert original != b""


def test_zeroed_sector_in_the_last_record_is_a_torn_write(waldir: str) -> None:
    w = WAL.create(waldir, b"meta", segment_size=1 << 16)
    w.save(HardState(1, 1, 0), ents(1, 3))
    path, good_end = w.tail()
    w.save(HardState(), ents(4, 40, size=100))  # one ~4 KB record, the last one
    w.close()
    with open(path, "r+b") as f:
        f.seek((good_end // 512 + 2) * 512)
        f.write(bytes(512))
    assert read_back(waldir) == (HardState(1, 1, 0), ents(1, 3))


def test_zeroed_sector_with_a_valid_record_after_it_is_refused(waldir: str) -> None:
    # Sectors of one write reaching the disk out of order look exactly like a sector
    # lost in the middle of the log: with a verifiable record after the hole, the
    # log is not trusted (etcd would truncate here and could drop acknowledged data).
    w = WAL.create(waldir, b"meta", segment_size=1 << 16)
    w.save(HardState(1, 1, 0), ents(1, 3))
    path, good_end = w.tail()
    w.save(HardState(1, 1, 3), ents(4, 40, size=100))  # entries record + state record
    w.close()
    with open(path, "r+b") as f:
        f.seek((good_end // 512 + 2) * 512)
        f.write(bytes(512))
    with pytest.raises(WalCrcMismatchError, match=r"all-zero sector.*followed by valid records"):
        read_back(waldir)


def test_open_for_read_tolerates_a_torn_tail_without_touching_it(waldir: str) -> None:
    _, marks = build(waldir, n_ops=12)
    last = segments(waldir)[-1]
    cut(last, marks[-1][1] - 3)
    before = sha(last)
    r = WAL.open_for_read(waldir, WalSnapshot())
    _, hs, es = r.read_all()
    assert (hs, es) == marks[-2][2]
    assert sha(last) == before
    assert not os.path.exists(last + ".broken")


def test_flip_in_the_middle_names_file_offset_and_remedy(waldir: str) -> None:
    _, marks = build(waldir, n_ops=12)
    last = segments(waldir)[-1]
    in_last = [off for p, off, _ in marks if p == last]
    target = in_last[1] + 14  # a data byte of a record that has records after it
    flip(last, target)
    with pytest.raises(WalCrcMismatchError) as ei:
        WAL.open(waldir, WalSnapshot(), segment_size=SEGMENT).read_all()
    msg = str(ei.value)
    assert last in msg and f"offset {in_last[1]}" in msg and msg.endswith(REMEDY)
    assert "followed by valid records" in msg
    assert not os.path.exists(last + ".broken")
    # Refused, and the lock is released: a second attempt gives the same answer.
    with pytest.raises(WalCrcMismatchError):
        WAL.open(waldir, WalSnapshot(), segment_size=SEGMENT).read_all()


def test_flip_in_the_crc_field_of_the_second_to_last_record_is_caught(waldir: str) -> None:
    _, marks = build(waldir, n_ops=12)
    last = segments(waldir)[-1]
    flip(last, marks[-3][1] + 8)  # stored CRC of the record before the last one
    with pytest.raises(WalCrcMismatchError):
        read_back(waldir)


def test_zeroed_length_field_in_the_middle_is_caught(waldir: str) -> None:
    _, marks = build(waldir, n_ops=12)
    last = segments(waldir)[-1]
    with open(last, "r+b") as f:
        f.seek(marks[-4][1])
        f.write(bytes(8))
    with pytest.raises(WalCrcMismatchError, match="zero record length"):
        read_back(waldir)


def test_damage_in_an_older_segment_is_never_repaired(waldir: str) -> None:
    build(waldir)
    first = segments(waldir)[0]
    cut(first, os.path.getsize(first) - 5)
    with pytest.raises(WalCrcMismatchError, match="not the newest"):
        read_back(waldir)


def test_damaged_header_of_the_newest_segment_is_not_repaired(waldir: str) -> None:
    build(waldir)
    last = segments(waldir)[-1]
    flip(last, 20)
    with pytest.raises(WalCorruptError, match="segment header"):
        read_back(waldir)


def test_missing_segment(waldir: str) -> None:
    build(waldir)
    segs = segments(waldir)
    os.unlink(segs[1])
    with pytest.raises(WalSegmentSequenceError, match="sequence 1 is missing") as ei:
        read_back(waldir)
    assert segs[2] in str(ei.value)


def test_segments_swapped_break_the_crc_chain(waldir: str) -> None:
    build(waldir)
    segs = segments(waldir)
    a, b = segs[1], segs[2]
    os.rename(a, a + ".x")
    os.rename(b, a)
    os.rename(a + ".x", b)
    with pytest.raises(WalSegmentSequenceError, match="CRC chain"):
        read_back(waldir)


def test_segment_from_another_wal_breaks_the_crc_chain(tmp_path: object, waldir: str) -> None:
    build(waldir)
    other = os.path.join(str(tmp_path), "other")
    build(other, metadata=b"mETA")  # same shape and names, another chain
    os.replace(segments(other)[1], segments(waldir)[1])
    with pytest.raises(WalSegmentSequenceError, match="CRC chain"):
        read_back(waldir)


def test_foreign_wal_name_is_refused(waldir: str) -> None:
    build(waldir, n_ops=3)
    with open(os.path.join(waldir, "backup.wal"), "wb") as f:
        f.write(b"x")
    with pytest.raises(WalForeignFileError, match=r"backup\.wal"):
        read_back(waldir)


def test_garbage_file_with_a_segment_name_is_refused(waldir: str) -> None:
    build(waldir, n_ops=3)
    segs = segments(waldir)
    name = os.path.join(waldir, f"{len(segs):016x}-{1000:016x}.wal")
    with open(name, "wb") as f:
        f.write(os.urandom(4096))
    with pytest.raises(WalCorruptError) as ei:
        read_back(waldir)
    assert name in str(ei.value)
    assert not os.path.exists(name + ".broken")


def test_metadata_conflict_between_segments(waldir: str) -> None:
    w = WAL.create(waldir, b"cluster-a", segment_size=SMALL)
    w.save(HardState(1, 1, 1), ents(1, 3))
    w._metadata = b"cluster-b"  # a writer bug: the next segment carries other ids
    for i in range(4, 40):
        w.save(HardState(1, 1, i), ents(i, i, size=40))
    w.close()
    with pytest.raises(WalMetadataConflictError, match="metadata differs"):
        read_back(waldir)


def test_snapshot_marker_absent_or_with_another_term(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEGMENT)
    w.save(HardState(2, 1, 10), ents(1, 10, term=2))
    w.save_snapshot(WalSnapshot(6, 2))
    w.close()
    with pytest.raises(WalSnapshotNotFoundError, match="index 5 term 2"):
        read_back(waldir, WalSnapshot(5, 2))
    with pytest.raises(WalSnapshotMismatchError, match="has term 2"):
        read_back(waldir, WalSnapshot(6, 1))
    assert read_back(waldir, WalSnapshot(6, 2))[1] == ents(7, 10, term=2)


def test_entry_gap_is_refused(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEGMENT)
    w.save(HardState(1, 1, 1), ents(1, 3))
    w.save(HardState(1, 1, 1), ents(6, 7))
    w.close()
    with pytest.raises(WalEntryGapError, match="entry 6 follows entry 3"):
        read_back(waldir)


def test_torn_tail_is_repaired_only_once_then_clean(tmp_path: object, waldir: str) -> None:
    _, marks = build(waldir, n_ops=8)
    last = segments(waldir)[-1]
    cut(last, marks[-1][1] - 1)
    assert read_back(waldir) == marks[-2][2]
    os.unlink(last + ".broken")
    assert read_back(waldir) == marks[-2][2]
    assert not os.path.exists(last + ".broken")
