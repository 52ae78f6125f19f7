"""Property: whatever a crash or a flipped byte does to the files, reading back yields
exactly the log as of some record boundary of what was written, or a WalError; never
wrong data and never another exception.

Set ETCDPY_HYPOTHESIS=ci (200 examples) or long (2000) for more than the default 30.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdpy.raft.types import Entry, EntryType, HardState
from etcdpy.wal import WAL, WalCorruptError, WalError, WalSnapshot, record
from tests.wal.wal_helpers import Model, segments

EXAMPLES = {"ci": 200, "long": 2000}.get(os.environ.get("ETCDPY_HYPOTHESIS", ""), 30)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

State = tuple[HardState, list[Entry]]


@dataclass
class Mark:
    """The log ends at ``offset`` of ``path`` and then reads back as ``state``."""

    path: str
    offset: int
    state: State


step = st.tuples(
    st.sampled_from(["ents", "hs", "both", "overwrite"]),
    st.integers(1, 6),  # how many entries
    st.lists(st.binary(max_size=80), min_size=6, max_size=6),  # their data
    st.booleans(),  # new term
    st.integers(0, 3),  # vote
)


def write_log(dirpath: str, steps: list, segment_size: int) -> list[Mark]:
    w = WAL.create(dirpath, b"meta-data", segment_size=segment_size)
    m = Model()
    marks = [Mark(*w.tail(), m.snapshot())]
    term = 1
    for kind, n, datas, new_term, vote in steps:
        term += new_term
        last = len(m.log)
        first = last + 1
        if kind == "overwrite" and last > 0:
            first = max(1, last - n + 1)
        es = [
            Entry(term, first + k, EntryType(k % 2 if kind == "overwrite" else 0), datas[k])
            for k in range(n)
        ]
        hs = HardState(term, vote, min(len(m.log), first - 1))
        if kind == "hs":
            es = []
        elif kind in ("ents", "overwrite"):
            hs = HardState()
        start_path, start_off = w.tail()
        w.save(hs, es)
        if es and not hs.is_empty():
            # Entries then hard state: a reader may see the first without the second.
            m.save(HardState(), es)
            frame = record.frame_size(len(record.encode_entries(es)))
            marks.append(Mark(start_path, start_off + frame, m.snapshot()))
            m.save(hs, [])
        else:
            m.save(hs, es)
        path, off = w.tail()
        if path != start_path:
            # The save rolled the segment: its records end the old one, trimmed to them.
            marks.append(Mark(start_path, os.path.getsize(start_path), m.snapshot()))
        marks.append(Mark(path, off, m.snapshot()))
    w.close()
    return marks


def read_only(dirpath: str) -> State | None:
    try:
        r = WAL.open_for_read(dirpath, WalSnapshot())
        _, hs, es = r.read_all()
    except WalError:
        return None
    return hs, es


def expected_at(marks: list[Mark], path: str, c: int) -> State:
    return max(
        (mk for mk in marks if mk.path == path and mk.offset <= c), key=lambda mk: mk.offset
    ).state


@SETTINGS
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    segment_size=st.sampled_from([256, 512, 1024, 4096]),
    cuts=st.lists(st.floats(0, 1), min_size=1, max_size=12),
)
def test_cut_newest_segment_reads_back_a_record_prefix(
    steps: list, segment_size: int, cuts: list[float]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        waldir = os.path.join(tmp, "wal")
        marks = write_log(waldir, steps, segment_size)
        last = segments(waldir)[-1]
        in_last = [mk for mk in marks if mk.path == last]
        header_end = min(mk.offset for mk in in_last)
        end = max(mk.offset for mk in in_last)
        with open(last, "rb") as f:
            original = f.read()
        for frac in cuts:
            c = round(frac * end)
            with open(last, "wb") as f:
                f.write(original[:c])
            got = read_only(waldir)
            if c < header_end:
                assert got is None
                continue
            assert got == expected_at(marks, last, c), f"cut at {c}"
        # The repairing open agrees with the read-only one on the last cut.
        if cuts and round(cuts[-1] * end) >= header_end:
            c = round(cuts[-1] * end)
            w = WAL.open(waldir, WalSnapshot(), segment_size=segment_size)
            _, hs, es = w.read_all()
            assert (hs, es) == expected_at(marks, last, c)
            w.save(HardState(1000, 1, 0), [Entry(1000, len(es) + 1, EntryType.NORMAL, b"z")])
            w.close()
            again = read_only(waldir)
            assert again is not None and again[1] == [
                *es,
                Entry(1000, len(es) + 1, EntryType.NORMAL, b"z"),
            ]


@SETTINGS
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    segment_size=st.sampled_from([256, 512, 1024]),
    where=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.integers(1, 255)), max_size=12),
)
def test_flipped_byte_is_an_error_or_drops_only_the_last_record(
    steps: list, segment_size: int, where: list[tuple[float, float, int]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        waldir = os.path.join(tmp, "wal")
        marks = write_log(waldir, steps, segment_size)
        segs = segments(waldir)
        last = segs[-1]
        in_last = sorted({mk.offset for mk in marks if mk.path == last})
        header_end, end = in_last[0], in_last[-1]
        last_start = in_last[-2] if len(in_last) > 1 else end
        full = marks[-1].state
        before_last = expected_at(marks, last, last_start)
        for seg_frac, pos_frac, mask in where:
            path = segs[min(len(segs) - 1, int(seg_frac * len(segs)))]
            size = os.path.getsize(path) if path != last else min(end + 64, os.path.getsize(path))
            p = min(size - 1, int(pos_frac * size))
            with open(path, "r+b") as f:
                f.seek(p)
                b = f.read(1)[0]
                f.seek(p)
                f.write(bytes([b ^ mask]))
            try:
                got = read_only(waldir)
            finally:
                with open(path, "r+b") as f:
                    f.seek(p)
                    f.write(bytes([b]))
            if path != last or p < last_start:
                assert got is None, f"flip at {os.path.basename(path)}:{p} went unnoticed"
            elif p < end:
                assert got == before_last, f"flip at {p} in the last record"
            else:
                assert got == full, f"flip at {p} past the records"
            assert header_end <= end


@SETTINGS
@given(steps=st.lists(step, min_size=1, max_size=20), junk=st.binary(min_size=1, max_size=600))
def test_garbage_after_the_last_record_is_a_torn_tail(steps: list, junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        waldir = os.path.join(tmp, "wal")
        marks = write_log(waldir, steps, 1 << 14)
        last = segments(waldir)[-1]
        end = marks[-1].offset
        with open(last, "r+b") as f:
            f.seek(end)
            f.write(junk)
        try:
            w = WAL.open(waldir, WalSnapshot(), segment_size=1 << 14)
            _, hs, es = w.read_all()
            w.close()
        except WalCorruptError:
            # Only possible if the junk happens to start a record that verifies.
            raise AssertionError("random bytes passed a CRC32C check") from None
        assert (hs, es) == marks[-1].state
        shutil.rmtree(waldir)
