"""Snapshot files: atomic save, newest valid load, .broken, WAL-marker selection,
streaming, purge."""

from __future__ import annotations

import errno
import logging
import os
import tracemalloc

import pytest

from etcdpy.raft.types import ConfState, HardState, Snapshot, SnapshotMetadata
from etcdpy.snap import (
    SnapCorruptError,
    SnapshotFile,
    Snapshotter,
    SnapWriteError,
    purge_snapshots,
    snap_name,
)
from etcdpy.wal import WAL, WalSnapshot, fileutil, list_wal_snapshots


def snap(index: int, term: int, data: bytes | None = None) -> Snapshot:
    body = data if data is not None else f"store@{index}".encode() * 10
    return Snapshot(SnapshotMetadata(index, term, ConfState([1, 2, 3])), body)


@pytest.fixture
def snapdir(tmp_path: object) -> str:
    return os.path.join(str(tmp_path), "member", "snap")


def test_save_then_load_round_trips(snapdir: str) -> None:
    s = Snapshotter(snapdir)
    assert s.load() is None  # nothing yet: a first boot
    path = s.save(snap(10, 2))
    assert os.path.basename(path) == "0000000000000002-000000000000000a.snap"
    assert os.listdir(snapdir) == ["0000000000000002-000000000000000a.snap"]
    assert s.load() == snap(10, 2)


def test_load_picks_the_newest(snapdir: str) -> None:
    s = Snapshotter(snapdir)
    for i, t in [(10, 1), (30, 2), (20, 2)]:
        s.save(snap(i, t))
    loaded = s.load()
    assert loaded is not None and loaded.metadata.index == 30


@pytest.mark.parametrize(
    "damage",
    ["flip_data", "flip_header", "truncate", "empty", "extend", "wrong_name"],
)
def test_a_broken_newest_file_is_set_aside_and_the_previous_one_used(
    snapdir: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = Snapshotter(snapdir)
    s.save(snap(10, 1))
    newest = s.save(snap(20, 1))
    size = os.path.getsize(newest)
    if damage == "flip_data":
        with open(newest, "r+b") as f:
            f.seek(size - 10)
            b = f.read(1)
            f.seek(size - 10)
            f.write(bytes([b[0] ^ 0x40]))
    elif damage == "flip_header":
        with open(newest, "r+b") as f:
            f.seek(14)
            b = f.read(1)
            f.seek(14)
            f.write(bytes([b[0] ^ 0x01]))
    elif damage == "truncate":
        os.truncate(newest, size - 3)
    elif damage == "empty":
        os.truncate(newest, 0)
    elif damage == "extend":
        with open(newest, "ab") as f:
            f.write(b"\0")
    elif damage == "wrong_name":
        os.rename(newest, os.path.join(snapdir, snap_name(1, 25)))
        newest = os.path.join(snapdir, snap_name(1, 25))
    with caplog.at_level(logging.WARNING, logger="etcdpy.snap"):
        loaded = s.load()
    assert loaded == snap(10, 1)
    assert os.path.exists(newest + ".broken")
    assert not os.path.exists(newest)
    assert "damaged" in caplog.text and newest in caplog.text


def test_all_broken_means_none(snapdir: str) -> None:
    s = Snapshotter(snapdir)
    p = s.save(snap(5, 1))
    os.truncate(p, 7)
    assert s.load() is None
    assert os.listdir(snapdir) == [os.path.basename(p) + ".broken"]


def test_load_newest_available_skips_snaps_the_wal_does_not_reference(
    tmp_path: object, snapdir: str
) -> None:
    # The crash window of pitfall P8: .snap written, WAL marker not (yet) written.
    waldir = os.path.join(str(tmp_path), "member", "wal")
    w = WAL.create(waldir, b"m", segment_size=1 << 16)
    s = Snapshotter(snapdir)
    w.save(HardState(1, 1, 20), [])
    s.save(snap(10, 1))
    w.save_snapshot(WalSnapshot(10, 1))
    s.save(snap(20, 1))  # ... crash before w.save_snapshot(WalSnapshot(20, 1))
    w.close()
    markers = list_wal_snapshots(waldir)
    assert markers == [WalSnapshot(0, 0), WalSnapshot(10, 1)]
    loaded = s.load_newest_available(markers)
    assert loaded == snap(10, 1)
    assert s.load() == snap(20, 1)  # plain load would have paired the wrong snapshot
    assert s.load_newest_available([WalSnapshot(0, 0)]) is None


def test_load_newest_available_falls_back_past_a_broken_file(snapdir: str) -> None:
    s = Snapshotter(snapdir)
    s.save(snap(10, 1))
    p = s.save(snap(20, 1))
    os.truncate(p, 30)
    got = s.load_newest_available([WalSnapshot(10, 1), WalSnapshot(20, 1)])
    assert got == snap(10, 1)
    assert os.path.exists(p + ".broken")


def test_stream_reads_the_data_in_chunks_and_checks_the_crc(snapdir: str) -> None:
    data = os.urandom(3 * 65536 + 123)
    s = Snapshotter(snapdir)
    path = s.save(snap(7, 3, data))
    with s.open(3, 7) as f:
        assert f.metadata == SnapshotMetadata(7, 3, ConfState([1, 2, 3]))
        assert f.data_size == len(data)
        chunks = list(f.iter_data(65536))
    assert [len(c) for c in chunks] == [65536, 65536, 65536, 123]
    assert b"".join(chunks) == data
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) - 100)
        fh.write(b"X")
    with SnapshotFile.open(path) as f, pytest.raises(SnapCorruptError, match="CRC mismatch"):
        for _ in f.iter_data(65536):
            pass


def test_save_stream_writes_what_arrives_in_chunks(snapdir: str) -> None:
    data = os.urandom(200_000)
    s = Snapshotter(snapdir)
    md = SnapshotMetadata(9, 4, ConfState([7]))
    s.save_stream(md, len(data), (data[i : i + 4096] for i in range(0, len(data), 4096)))
    assert s.load() == Snapshot(md, data)


def test_save_stream_refuses_a_short_or_long_stream(snapdir: str) -> None:
    s = Snapshotter(snapdir)
    md = SnapshotMetadata(9, 4, ConfState([7]))
    with pytest.raises(SnapWriteError, match="announced"):
        s.save_stream(md, 10, [b"12345"])
    with pytest.raises(SnapWriteError, match="announced"):
        s.save_stream(md, 3, [b"12345"])
    assert os.listdir(snapdir) == []


def test_failed_save_leaves_no_file_and_keeps_the_previous(
    snapdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Snapshotter(snapdir)
    s.save(snap(10, 1))

    def enospc(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileutil, "fsync", enospc)
    with pytest.raises(SnapWriteError, match=r"could not write a snapshot in .*No space left"):
        s.save(snap(20, 1))
    monkeypatch.undo()
    assert os.listdir(snapdir) == [snap_name(1, 10)]
    assert s.load() == snap(10, 1)


def test_purge_keeps_the_newest(snapdir: str) -> None:
    s = Snapshotter(snapdir)
    for i in range(1, 8):
        s.save(snap(i * 10, 1))
    broken = os.path.join(snapdir, snap_name(0, 1) + ".broken")
    with open(broken, "wb") as f:
        f.write(b"x")
    removed = purge_snapshots(snapdir, 3)
    assert [os.path.basename(p) for p in removed] == [snap_name(1, i * 10) for i in range(1, 5)]
    assert sorted(s.names()) == [snap_name(1, i * 10) for i in range(5, 8)]
    assert os.path.exists(broken)
    assert s.purge(0) == []


def test_large_snapshot_is_held_once(snapdir: str) -> None:
    # 32 MB of data: saving streams it from the caller's buffer, loading reads it into
    # one buffer; neither makes a second copy.
    data = b"k" * (32 << 20)
    s = Snapshotter(snapdir)
    tracemalloc.start()
    try:
        s.save(snap(1, 1, data))
        _, save_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loaded = s.load()
        _, load_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert save_peak < 4 << 20
    assert load_peak < len(data) + (4 << 20)
    assert loaded is not None and loaded.data == data
