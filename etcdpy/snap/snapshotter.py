"""Saving and loading ``data-dir/snap/%016x-%016x.snap`` (term, index) files.

Interface (what the server calls)::

    s = Snapshotter(snap_dir)
    s.save(snapshot)                       # temp file, fsync, rename, fsync dir
    s.save_stream(metadata, size, chunks)  # same, from a stream (a snapshot from the leader)
    s.load() -> Snapshot | None            # newest that verifies
    s.load_newest_available(wal_snaps)     # newest that verifies AND has a WAL marker
    s.open(term, index) -> SnapshotFile    # read the data in chunks (to send it)
    s.purge(max_snapshots)                 # drop the oldest beyond max (0 keeps all)

A file that does not verify is renamed ``<name>.broken`` with a warning and the next
older one is tried, as etcd does. The server must write the ``.snap`` file before the
WAL's snapshot marker (etcd 3.4 order) and restart from
``load_newest_available(list_wal_snapshots(wal_dir))``: a ``.snap`` whose marker never
reached the WAL is then skipped instead of being paired with the wrong log.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from contextlib import suppress
from typing import Protocol

from etcdpy.raft.types import Snapshot, SnapshotMetadata
from etcdpy.snap.errors import SnapCorruptError, SnapWriteError
from etcdpy.snap.snapfile import SnapshotFile, write_snapshot
from etcdpy.wal import fileutil
from etcdpy.wal.purge import purge_files

SUFFIX = ".snap"
TMP_SUFFIX = ".tmp"
BROKEN_SUFFIX = ".broken"
_NAME = re.compile(r"([0-9a-f]{16})-([0-9a-f]{16})\.snap")

log = logging.getLogger("etcdpy.snap")


class MarkerLike(Protocol):
    """What ``load_newest_available`` needs of a WAL snapshot marker (``WalSnapshot``)."""

    @property
    def index(self) -> int: ...

    @property
    def term(self) -> int: ...


def snap_name(term: int, index: int) -> str:
    return f"{term:016x}-{index:016x}{SUFFIX}"


def parse_snap_name(name: str) -> tuple[int, int] | None:
    """``(term, index)`` of a ``.snap`` name, or None for any other file."""
    m = _NAME.fullmatch(name)
    return (int(m.group(1), 16), int(m.group(2), 16)) if m else None


class Snapshotter:
    def __init__(self, dirpath: str) -> None:
        self.dirpath = os.path.normpath(dirpath)

    # -- writing ------------------------------------------------------------------

    def save(self, snapshot: Snapshot) -> str:
        """Write ``snapshot`` atomically and durably; return the file's path."""
        return self._save(snapshot.metadata, len(snapshot.data), [snapshot.data])

    def save_stream(self, metadata: SnapshotMetadata, size: int, chunks: Iterable[bytes]) -> str:
        """Write a snapshot whose ``size`` data bytes arrive as ``chunks`` (never held
        whole in memory); a stream that is shorter or longer than ``size`` is refused."""
        return self._save(metadata, size, chunks)

    def _save(self, metadata: SnapshotMetadata, size: int, chunks: Iterable[bytes]) -> str:
        path = os.path.join(self.dirpath, snap_name(metadata.term, metadata.index))
        tmp = path + TMP_SUFFIX
        try:
            os.makedirs(self.dirpath, mode=fileutil.DIR_MODE, exist_ok=True)
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, fileutil.FILE_MODE
            )
        except OSError as e:
            raise SnapWriteError(self.dirpath, e) from None
        try:
            written = write_snapshot(fd, metadata, size, chunks)
            if written != size:
                raise SnapWriteError(
                    self.dirpath, f"the stream had {written} data bytes, {size} were announced"
                )
            fileutil.fsync(fd)
            os.close(fd)
            fd = -1
            os.rename(tmp, path)
            fileutil.fsync_dir(self.dirpath)
        except OSError as e:
            self._discard(fd, tmp)
            raise SnapWriteError(self.dirpath, e) from None
        except BaseException:
            self._discard(fd, tmp)
            raise
        return path

    @staticmethod
    def _discard(fd: int, tmp: str) -> None:
        if fd >= 0:
            with suppress(OSError):
                os.close(fd)
        with suppress(OSError):
            os.unlink(tmp)

    # -- reading ------------------------------------------------------------------

    def names(self) -> list[str]:
        """The ``.snap`` file names, newest first."""
        try:
            found = [n for n in os.listdir(self.dirpath) if parse_snap_name(n) is not None]
        except FileNotFoundError:
            return []
        return sorted(found, reverse=True)

    def load(self) -> Snapshot | None:
        """The newest snapshot that verifies, or None if there is none."""
        return self._load_first(self.names())

    def load_newest_available(self, wal_snaps: Iterable[MarkerLike]) -> Snapshot | None:
        """The newest verified snapshot that the WAL has a marker for (etcd 3.4+)."""
        wanted = {(m.term, m.index) for m in wal_snaps}
        return self._load_first([n for n in self.names() if parse_snap_name(n) in wanted])

    def _load_first(self, names: list[str]) -> Snapshot | None:
        for name in names:
            path = os.path.join(self.dirpath, name)
            try:
                return self._load_file(path, name)
            except SnapCorruptError as e:
                log.warning("%s", e)
                self._set_aside(path)
        return None

    def _load_file(self, path: str, name: str) -> Snapshot:
        with SnapshotFile.open(path) as f:
            term, index = parse_snap_name(name) or (-1, -1)
            if (f.metadata.term, f.metadata.index) != (term, index):
                raise SnapCorruptError(
                    path,
                    f"it holds index {f.metadata.index} term {f.metadata.term}, "
                    "not what its name says",
                )
            return Snapshot(f.metadata, f.read_data())

    def _set_aside(self, path: str) -> None:
        try:
            os.rename(path, path + BROKEN_SUFFIX)
        except OSError as e:
            log.warning("could not rename %s to %s%s: %s", path, path, BROKEN_SUFFIX, e)

    def open(self, term: int, index: int) -> SnapshotFile:
        """The snapshot file for (term, index), header read, data to be streamed."""
        return SnapshotFile.open(os.path.join(self.dirpath, snap_name(term, index)))

    # -- purging ------------------------------------------------------------------

    def purge(self, max_snapshots: int) -> list[str]:
        """Remove the oldest ``.snap`` files beyond the newest ``max_snapshots``."""
        return purge_snapshots(self.dirpath, max_snapshots)


def purge_snapshots(snap_dir: str, max_snapshots: int) -> list[str]:
    """Remove the oldest ``.snap`` files beyond the newest ``max_snapshots`` (0 keeps
    all); ``.broken`` files are kept for the operator."""
    return purge_files(snap_dir, SUFFIX, max_snapshots)
