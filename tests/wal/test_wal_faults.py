"""A full or failing disk: typed error, nothing half-written kept, saves work again after."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from etcdpy.raft.types import HardState
from etcdpy.wal import WAL, WalSnapshot, WalWriteError, fileutil
from tests.wal.wal_helpers import Model, ents, read_back, segments

SEG = 4096


def enospc(*_: object) -> int:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def waldir(tmp_path: object) -> str:
    return os.path.join(str(tmp_path), "wal")


def test_short_write_then_enospc_is_undone(waldir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    w.save(HardState(1, 1, 0), ents(1, 3))
    path, good = w.tail()
    real_pwritev = fileutil.pwritev

    def half_then_full(fd: int, bufs: list[bytes], off: int) -> int:
        data = b"".join(bufs)
        return real_pwritev(fd, [data[: len(data) // 2]], off)

    monkeypatch.setattr(fileutil, "pwritev", half_then_full)
    monkeypatch.setattr(fileutil, "pwrite", enospc)
    with pytest.raises(WalWriteError) as ei:
        w.save(HardState(1, 1, 3), ents(4, 20, size=64))
    assert ei.value.errno == errno.ENOSPC
    msg = str(ei.value)
    assert msg.startswith(f"could not write the WAL in {waldir} (")
    assert "every earlier one is intact" in msg
    # Nothing of the failed batch is left behind the last good record.
    assert w.tail() == (path, good)
    with open(path, "rb") as f:
        assert f.read()[good:].strip(b"\0") == b""
    monkeypatch.undo()
    w.save(HardState(1, 1, 3), ents(4, 5))
    w.close()
    assert read_back(waldir) == (HardState(1, 1, 3), ents(1, 5))


def test_fsync_failure_is_undone(waldir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    w.save(HardState(1, 1, 0), ents(1, 3))

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(fileutil, "fdatasync", eio)
    with pytest.raises(WalWriteError, match="could not fsync the WAL"):
        w.save(HardState(2, 1, 0), ents(4, 6, term=2))
    monkeypatch.undo()
    # The chain and the hard state were not advanced by the failed batch.
    assert w.hard_state == HardState(1, 1, 0)
    w.save(HardState(2, 2, 4), ents(4, 4, term=2))
    w.close()
    assert read_back(waldir) == (HardState(2, 2, 4), ents(1, 3) + ents(4, 4, term=2))


def test_failed_undo_is_retried_and_a_restart_repairs_the_tail(
    tmp_path: object, waldir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = WAL.create(waldir, b"m", segment_size=SEG)
    w.save(HardState(1, 1, 0), ents(1, 3))
    real_pwritev = fileutil.pwritev

    def torn(fd: int, bufs: list[bytes], off: int) -> int:
        data = b"".join(bufs)
        real_pwritev(fd, [data[: len(data) // 2]], off)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def no_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(fileutil, "pwritev", torn)
    monkeypatch.setattr(fileutil, "ftruncate", no_truncate)
    with pytest.raises(WalWriteError):
        w.save(HardState(1, 1, 3), ents(4, 9, size=40))
    # A crash now: a copy of the directory is what a restart would find.
    crashed = os.path.join(str(tmp_path), "crashed")
    shutil.copytree(waldir, crashed)
    # The same WAL refuses until it can drop the partial batch...
    monkeypatch.setattr(fileutil, "pwritev", real_pwritev)
    with pytest.raises(WalWriteError, match="could not recover"):
        w.save(HardState(1, 1, 3), ents(4, 4))
    # ... and goes on once it can.
    monkeypatch.undo()
    w.save(HardState(1, 1, 3), ents(4, 4))
    w.close()
    assert read_back(waldir) == (HardState(1, 1, 3), ents(1, 4))
    # The restart sees the partial batch as a torn tail and repairs it.
    assert read_back(crashed) == (HardState(1, 1, 0), ents(1, 3))
    assert os.path.exists(segments(crashed)[-1] + ".broken")


def test_failed_roll_keeps_the_batch_and_retries(
    waldir: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    w = WAL.create(waldir, b"m", segment_size=512)
    real_prealloc = fileutil.preallocate
    monkeypatch.setattr(fileutil, "preallocate", enospc)
    with caplog.at_level(logging.WARNING, logger="etcdpy.wal"):
        for i in range(1, 30):
            w.save(HardState(1, 1, i - 1), ents(i, i, size=40))
    assert "could not start a new WAL segment" in caplog.text
    assert len(segments(waldir)) == 1
    assert not [n for n in os.listdir(waldir) if n.endswith(".tmp")]
    monkeypatch.setattr(fileutil, "preallocate", real_prealloc)
    w.save(HardState(1, 1, 29), ents(30, 30, size=40))
    w.close()
    assert len(segments(waldir)) == 2
    assert read_back(waldir) == (HardState(1, 1, 29), ents(1, 30, size=40))


# -- a real full file system ---------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: object) -> Iterator[str]:
    mnt = os.path.join(str(tmp_path), f"tmpfs-{uuid.uuid4().hex[:8]}")
    os.makedirs(mnt)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", mnt], capture_output=True, timeout=30)


def fill(path: str) -> int:
    """Write zeros to ``path`` until the file system is full; return the size."""
    chunk = b"\1" * 65536
    size = 0
    with open(path, "wb", buffering=0) as f:
        # Bounded by the 2 MB file system.
        for _ in range(10_000):
            try:
                size += f.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
    for n in (4096, 512, 1):
        with open(path, "ab", buffering=0) as f:
            for _ in range(10_000):
                try:
                    size += f.write(b"\1" * n)
                except OSError:
                    break
    return size


def test_full_tmpfs_keeps_every_acknowledged_save(small_fs: str) -> None:
    waldir = os.path.join(small_fs, "data", "wal")
    w = WAL.create(waldir, b"m", segment_size=64 * 1024)
    model = Model()
    for i in range(1, 50):
        hs, es = HardState(1, 1, i - 1), ents(i, i, size=200)
        w.save(hs, es)
        model.save(hs, es)
    filler = os.path.join(small_fs, "filler")
    fill(filler)
    err: WalWriteError | None = None
    i = 50
    # Bounded: the disk is full, so this fails within a segment's worth of saves.
    for i in range(50, 2000):
        hs, es = HardState(1, 1, i - 1), ents(i, i, size=200)
        try:
            w.save(hs, es)
        except WalWriteError as e:
            err = e
            break
        model.save(hs, es)
    assert err is not None, "the disk never filled up"
    assert err.errno == errno.ENOSPC and waldir in str(err)
    # Still full: the same batch fails again, cleanly.
    with pytest.raises(WalWriteError):
        w.save(HardState(1, 1, i - 1), ents(i, i, size=200))
    w.close()
    assert read_back(waldir, segment_size=64 * 1024) == model.snapshot()
    # Space freed: the log takes appends again and keeps everything.
    os.unlink(filler)
    w = WAL.open(waldir, WalSnapshot(), segment_size=64 * 1024)
    w.read_all()
    for j in range(i, i + 400):
        hs, es = HardState(1, 1, j - 1), ents(j, j, size=200)
        w.save(hs, es)
        model.save(hs, es)
    w.close()
    assert len(segments(waldir)) > 1
    assert read_back(waldir, segment_size=64 * 1024) == model.snapshot()
