"""Creating, appending, reading back, rolling segments, locking, purging, copying."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from etcdpy.raft.types import HardState
from etcdpy.wal import (
    WAL,
    WalExistsError,
    WalLockedError,
    WalNotFoundError,
    WalSnapshot,
    WalUsageError,
    copy_with_metadata,
    fileutil,
    list_wal_snapshots,
    purge_wal_segments,
    wal_exists,
)
from etcdpy.wal.segment import parse_segment_name
from tests.wal.wal_helpers import ents, read_back, segments

SMALL = 1024
# Big enough not to roll; small enough that preallocating and reading it back is cheap.
SEG = 1 << 16


@pytest.fixture
def waldir(tmp_path: object) -> str:
    return os.path.join(str(tmp_path), "data", "wal")


def test_create_builds_in_tmp_and_renames(waldir: str) -> None:
    assert not wal_exists(waldir)
    w = WAL.create(waldir, b"member-1", segment_size=SMALL * 8)
    w.close()
    assert wal_exists(waldir)
    assert os.listdir(waldir) == ["0000000000000000-0000000000000000.wal"]
    assert not os.path.exists(waldir + ".tmp")
    # Preallocated: the file already has its full size.
    assert os.path.getsize(segments(waldir)[0]) == SMALL * 8
    with pytest.raises(WalExistsError, match="already exists"):
        WAL.create(waldir, b"again", segment_size=SEG)


def test_create_replaces_a_leftover_tmp_dir(waldir: str) -> None:
    os.makedirs(waldir + ".tmp")
    with open(os.path.join(waldir + ".tmp", "junk"), "w") as f:
        f.write("x")
    WAL.create(waldir, b"m", segment_size=SEG).close()
    assert not os.path.exists(waldir + ".tmp")
    assert read_back(waldir) == (HardState(), [])


def test_round_trip_metadata_state_entries(waldir: str) -> None:
    w = WAL.create(waldir, b"\x00\x01meta", segment_size=SEG)
    w.save(HardState(1, 2, 0), ents(1, 5))
    w.save(HardState(1, 2, 5), [])
    w.close()
    w = WAL.open(waldir, WalSnapshot(), segment_size=SEG)
    md, hs, es = w.read_all()
    w.close()
    assert md == b"\x00\x01meta"
    assert hs == HardState(1, 2, 5)
    assert es == ents(1, 5)


def test_a_later_index_overwrites_the_tail(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    w.save(HardState(1, 1, 3), ents(1, 10, term=1))
    w.save(HardState(2, 2, 3), ents(6, 8, term=2))
    w.close()
    hs, es = read_back(waldir)
    assert hs == HardState(2, 2, 3)
    assert es == ents(1, 5, term=1) + ents(6, 8, term=2)


def test_append_after_reopen_continues_the_chain(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    w.save(HardState(1, 1, 0), ents(1, 20))
    w.close()
    w = WAL.open(waldir, WalSnapshot(), segment_size=SMALL)
    w.read_all()
    w.save(HardState(1, 1, 20), ents(21, 40))
    w.close()
    assert read_back(waldir) == (HardState(1, 1, 20), ents(1, 40))


def test_entries_up_to_the_snapshot_are_skipped(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    w.save(HardState(1, 1, 10), ents(1, 10))
    w.save_snapshot(WalSnapshot(7, 1))
    w.save(HardState(1, 1, 12), ents(11, 12))
    w.close()
    assert read_back(waldir, WalSnapshot(7, 1)) == (HardState(1, 1, 12), ents(8, 12))
    # The first segment still has the (0, 0) marker: a restart from nothing works too.
    assert read_back(waldir, WalSnapshot(0, 0))[1] == ents(1, 12)


def test_segments_roll_with_contiguous_names_and_header_state(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    for i in range(1, 61):
        w.save(HardState(1, 1, i - 1), ents(i, i, size=40))
    w.close()
    segs = segments(waldir)
    assert len(segs) > 3
    names = [parse_segment_name(os.path.basename(p)) for p in segs]
    assert [n[0] for n in names] == list(range(len(segs)))  # type: ignore[index]
    # Each later segment is named for the first entry it holds; older ones were trimmed.
    for p, (seq, index) in zip(segs, names, strict=True):  # type: ignore[misc]
        if seq:
            w2 = WAL.open_for_read(waldir, WalSnapshot(index - 1, 1))
            _, _, es = w2.read_all(require_snapshot=False)
            assert es[0].index == index
        if p != segs[-1]:
            assert os.path.getsize(p) >= SMALL
            assert os.path.getsize(p) < SMALL + 200  # no preallocated space left behind
    assert not [n for n in os.listdir(waldir) if n.endswith(".tmp")]
    assert read_back(waldir) == (HardState(1, 1, 59), ents(1, 60, size=40))


def test_hard_state_survives_a_roll_without_new_state_records(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    w.save(HardState(3, 2, 1), ents(1, 1))
    for i in range(2, 40):
        w.save(HardState(), ents(i, i, term=3, size=60))
    w.close()
    assert len(segments(waldir)) > 2
    # Reading from the newest segment alone still finds the state in its header.
    last_index = parse_segment_name(os.path.basename(segments(waldir)[-1]))[1]  # type: ignore[index]
    wr = WAL.open_for_read(waldir, WalSnapshot(last_index, 3))
    _, hs, _ = wr.read_all(require_snapshot=False)
    assert hs == HardState(3, 2, 1)


def test_fsync_only_when_etcd_would(waldir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"sync": 0, "write": 0}
    real_sync, real_write = fileutil.fdatasync, fileutil.pwritev

    def counting_sync(fd: int) -> None:
        calls["sync"] += 1
        real_sync(fd)

    def counting_write(fd: int, bufs: object, off: int) -> int:
        calls["write"] += 1
        return real_write(fd, bufs, off)  # type: ignore[arg-type]

    w = WAL.create(waldir, b"m", segment_size=SEG)
    monkeypatch.setattr(fileutil, "fdatasync", counting_sync)
    monkeypatch.setattr(fileutil, "pwritev", counting_write)

    def step(hs: HardState, n_first: int = 0, n_last: int = -1) -> tuple[int, int]:
        before = dict(calls)
        w.save(hs, ents(n_first, n_last) if n_first else [])
        return calls["write"] - before["write"], calls["sync"] - before["sync"]

    assert step(HardState(1, 0, 0), 1, 256) == (1, 1)  # entries: one write, one fsync
    assert step(HardState(1, 0, 5)) == (1, 0)  # commit only: not synced
    assert step(HardState(1, 3, 5)) == (1, 1)  # vote changed
    assert step(HardState(2, 3, 5)) == (1, 1)  # term changed
    assert step(HardState(2, 3, 5), 257, 257) == (1, 1)
    assert step(HardState()) == (0, 0)  # nothing to do
    before = calls["sync"]
    w.save_snapshot(WalSnapshot(5, 1))
    assert calls["sync"] == before + 1
    w.close()


def test_save_async_keeps_order_and_never_blocks_the_loop(
    waldir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    gate = threading.Event()
    in_sync = threading.Event()
    real_sync = fileutil.fdatasync

    def slow_sync(fd: int) -> None:
        in_sync.set()
        gate.wait(30)
        real_sync(fd)

    monkeypatch.setattr(fileutil, "fdatasync", slow_sync)

    async def scenario() -> int:
        saves = [
            asyncio.ensure_future(w.save_async(HardState(1, 1, i - 1), ents(i, i)))
            for i in range(1, 21)
        ]
        ticks = 0
        deadline = time.monotonic() + 30
        # The loop keeps running while the worker sits in fsync.
        while not in_sync.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        while ticks < 50 and time.monotonic() < deadline:
            await asyncio.sleep(0)
            ticks += 1
        assert not saves[0].done()
        gate.set()
        await asyncio.gather(*saves)
        return ticks

    assert asyncio.run(scenario()) == 50
    w.close()
    assert read_back(waldir) == (HardState(1, 1, 19), ents(1, 20))


def test_second_open_fails_at_once_naming_the_lock(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    with pytest.raises(WalLockedError, match=r"0000000000000000-0000000000000000\.wal is locked"):
        WAL.open(waldir, WalSnapshot(), segment_size=SEG)
    code = (
        "import sys\n"
        "from etcdpy.wal import WAL, WalSnapshot, WalLockedError\n"
        "try:\n"
        f"    WAL.open({waldir!r}, WalSnapshot())\n"
        "except WalLockedError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    # A timeout here would mean the second process waited for the lock.
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert proc.returncode == 3, proc.stderr
    assert "is locked by another process" in proc.stdout
    w.close()
    # Released on close: open works now.
    WAL.open(waldir, WalSnapshot(), segment_size=SEG).close()


def test_open_for_read_takes_no_lock(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    w.save(HardState(1, 1, 1), ents(1, 3))
    r = WAL.open_for_read(waldir, WalSnapshot())
    assert r.read_all() == (b"m", HardState(1, 1, 1), ents(1, 3))
    with pytest.raises(WalUsageError):
        r.save(HardState(1, 1, 1), ents(4, 4))
    w.close()


def test_calls_out_of_order_are_usage_errors(waldir: str) -> None:
    WAL.create(waldir, b"m", segment_size=SEG).close()
    w = WAL.open(waldir, WalSnapshot(), segment_size=SEG)
    with pytest.raises(WalUsageError, match="read_all first"):
        w.save(HardState(1, 1, 1), ents(1, 1))
    w.read_all()
    with pytest.raises(WalUsageError, match="once"):
        w.read_all()
    w.close()
    with pytest.raises(WalUsageError, match="closed"):
        w.save(HardState(1, 1, 1), ents(1, 1))


def test_stale_segment_tmp_files_are_removed_on_open(waldir: str) -> None:
    WAL.create(waldir, b"m", segment_size=SEG).close()
    stale = os.path.join(waldir, "0000000000000001-0000000000000005.wal.tmp")
    with open(stale, "wb") as f:
        f.write(b"half a roll")
    w = WAL.open(waldir, WalSnapshot(), segment_size=SEG)
    w.read_all()
    w.close()
    assert not os.path.exists(stale)


def test_release_lock_to_lets_purge_remove_only_unneeded_segments(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    for i in range(1, 101):
        w.save(HardState(1, 1, i), ents(i, i, size=40))
    w.save_snapshot(WalSnapshot(70, 1))
    segs = segments(waldir)
    assert len(segs) >= 5
    # Everything is still locked by the open WAL: nothing can go.
    assert purge_wal_segments(waldir, 1) == []
    w.release_lock_to(70)
    locked = w.locked_paths()
    first_needed = locked[0]
    assert parse_segment_name(os.path.basename(first_needed))[1] <= 70  # type: ignore[index]
    removed = purge_wal_segments(waldir, 1)
    assert removed == [p for p in segs if p < first_needed]
    # The rest is locked, so max_wals=1 cannot take more than that.
    assert segments(waldir) == [p for p in segs if p >= first_needed]
    w.close()
    assert read_back(waldir, WalSnapshot(70, 1)) == (HardState(1, 1, 100), ents(71, 100, size=40))
    with pytest.raises(WalNotFoundError, match="reaches back to snapshot index 5"):
        WAL.open(waldir, WalSnapshot(5, 1), segment_size=SEG)


def test_purge_keep_index_protects_what_a_restart_needs(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    for i in range(1, 101):
        w.save(HardState(1, 1, i), ents(i, i, size=40))
    w.save_snapshot(WalSnapshot(50, 1))
    w.close()  # no locks at all now
    segs = segments(waldir)
    removed = purge_wal_segments(waldir, 1, keep_index=50)
    assert removed
    assert read_back(waldir, WalSnapshot(50, 1))[1] == ents(51, 100, size=40)
    assert purge_wal_segments(waldir, 1, keep_index=50) == []
    assert purge_wal_segments(waldir, 0) == []  # 0 keeps everything
    assert len(segments(waldir)) == len(segs) - len(removed)


def test_list_wal_snapshots_reports_markers_covered_by_commit(waldir: str) -> None:
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    w.save(HardState(1, 1, 10), ents(1, 10))
    w.save_snapshot(WalSnapshot(5, 1))
    w.save(HardState(2, 1, 20), ents(11, 30, term=2))
    w.save_snapshot(WalSnapshot(20, 2))
    w.save_snapshot(WalSnapshot(25, 2))  # past commit 20: not usable
    w.close()
    assert list_wal_snapshots(waldir) == [
        WalSnapshot(0, 0),
        WalSnapshot(5, 1),
        WalSnapshot(20, 2),
    ]


def test_snapshot_ahead_of_entries_names_the_next_segment_past_it(waldir: str) -> None:
    # A follower that installs a snapshot from the leader has no entries up to it.
    w = WAL.create(waldir, b"m", segment_size=SMALL)
    w.save(HardState(1, 1, 3), ents(1, 3))
    w.save_snapshot(WalSnapshot(100, 2))
    for c in range(40):
        w.save(HardState(2, 1, 100 + c % 2), [])
    w.close()
    names = [parse_segment_name(os.path.basename(p)) for p in segments(waldir)]
    assert len(names) > 1 and all(n[1] > 100 for n in names[1:])  # type: ignore[index]
    w = WAL.open(waldir, WalSnapshot(100, 2), segment_size=SEG)
    _, hs, es = w.read_all()
    assert es == [] and hs.term == 2
    w.save(HardState(2, 1, 101), ents(101, 101, term=2))
    w.close()
    assert read_back(waldir, WalSnapshot(100, 2))[1] == ents(101, 101, term=2)


def test_copy_with_metadata_rewrites_only_the_metadata(tmp_path: object, waldir: str) -> None:
    w = WAL.create(waldir, b"old-ids", segment_size=SMALL)
    w.save(HardState(2, 1, 30), ents(1, 30, size=40))
    w.save_snapshot(WalSnapshot(10, 2))
    w.save(HardState(2, 1, 33), ents(31, 33, size=40))
    dst = os.path.join(str(tmp_path), "backup", "wal")
    # The source stays open and locked by its owner: the copy only reads.
    res = copy_with_metadata(waldir, dst, WalSnapshot(10, 2), b"new-ids")
    w.close()
    assert res.old_metadata == b"old-ids" and res.marker_found and res.entries == 23
    c = WAL.open(dst, WalSnapshot(10, 2), segment_size=SEG)
    md, hs, es = c.read_all()
    c.close()
    assert md == b"new-ids"
    assert hs == HardState(2, 1, 33)
    assert es == ents(11, 33, size=40)


def test_copy_with_metadata_adds_a_missing_marker(tmp_path: object, waldir: str) -> None:
    w = WAL.create(waldir, b"old", segment_size=SEG)
    w.save(HardState(1, 1, 8), ents(1, 8))
    w.close()
    dst = os.path.join(str(tmp_path), "backup", "wal")
    res = copy_with_metadata(waldir, dst, WalSnapshot(4, 1), b"new")
    assert not res.marker_found
    assert read_back(dst, WalSnapshot(4, 1)) == (HardState(1, 1, 8), ents(5, 8))
