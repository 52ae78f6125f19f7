"""The write-ahead log: segmented, CRC32C-chained, locked, group-committed.

Life cycle (the server calls exactly these)::

    w = WAL.create(dirpath, metadata)                    # new member
    w = WAL.open(dirpath, WalSnapshot(index, term))      # restart: locks, then
    metadata, hard_state, entries = w.read_all()         # replays and repairs a torn tail
    w.save(hard_state, entries)                          # blocking; durable on return
    await w.save_async(hard_state, entries)              # same, fsync off the event loop
    w.save_snapshot(WalSnapshot(index, term))            # always fsynced
    w.release_lock_to(index)                             # lets the purge take old segments
    w.close()

``WAL.open_for_read`` takes no lock and never repairs (the backup tool).

Layout: ``dirpath/%016x-%016x.wal`` (sequence, first index). A new WAL is built in
``dirpath.tmp`` and renamed into place; a new segment is built as ``<name>.tmp`` (CRC,
metadata and hard-state records, fsynced) and renamed, then the directory is fsynced, so
a segment is never seen without its header. Segments are preallocated
(``fileutil.preallocate``) and rolled when a save leaves the tail at or past
``segment_size``. Every open segment holds an exclusive flock; a second process fails at
once with :class:`WalLockedError`.

Durability: ``save`` writes entries then hard state in one ``pwritev`` and calls
``fdatasync`` once, unless the batch has no entries and neither term nor vote changed
(a commit-only change is recoverable, as in etcd). When the write or the fsync fails,
the tail is truncated back to the end of the last good record, ``WalWriteError`` is
raised, and later saves work again once the cause is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass

from etcdpy.raft.types import Entry, HardState
from etcdpy.wal import fileutil, record
from etcdpy.wal.errors import (
    WalError,
    WalExistsError,
    WalLockedError,
    WalSnapshotNotFoundError,
    WalUsageError,
    WalWriteError,
)
from etcdpy.wal.reader import LogReader, TornTail, WalSnapshot, read_file
from etcdpy.wal.record import RecordType
from etcdpy.wal.segment import (
    TMP_SUFFIX,
    SegmentName,
    check_sequence,
    list_segments,
    segment_name,
    select_from,
    wal_exists,
)

DEFAULT_SEGMENT_SIZE = 64_000_000

log = logging.getLogger("etcdpy.wal")


@dataclass(slots=True)
class _Segment:
    seq: int
    index: int
    path: str
    fd: int


class WAL:
    """An open write-ahead log. Build one with :meth:`create`, :meth:`open` or
    :meth:`open_for_read`; all methods are thread-safe."""

    def __init__(
        self,
        dirpath: str,
        segment_size: int,
        writable: bool,
        start: WalSnapshot,
        segments: list[_Segment],
    ) -> None:
        self._dir = dirpath
        self._segment_size = segment_size
        self._writable = writable
        self._start = start
        self._segments = segments
        self._metadata = b""
        self._state = HardState()
        self._crc = 0
        self._enti = 0
        self._offset = 0
        self._ready = False  # True once appends are allowed
        self._read_done = False
        self._snapshot_found = False
        self._closed = False
        self._truncate_pending = False
        self._dir_sync_pending = False
        self._mu = threading.Lock()
        # Separate from _mu, which the worker holds for the length of an fsync: the
        # event loop must never wait on it.
        self._executor_mu = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # -- construction -------------------------------------------------------------

    @classmethod
    def create(cls, dirpath: str, metadata: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE) -> WAL:
        """Create a new WAL holding ``metadata`` and the snapshot marker (0, 0)."""
        dirpath = os.path.normpath(dirpath)
        if wal_exists(dirpath):
            raise WalExistsError(dirpath)
        tmpdir = dirpath + TMP_SUFFIX
        parent = os.path.dirname(dirpath) or "."
        name = segment_name(0, 0)
        try:
            if os.path.lexists(tmpdir):
                shutil.rmtree(tmpdir)
            os.makedirs(tmpdir, mode=fileutil.DIR_MODE)
            fd = os.open(
                os.path.join(tmpdir, name),
                os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                fileutil.FILE_MODE,
            )
        except OSError as e:
            raise WalWriteError(dirpath, "create", e, _CREATE_ADVICE) from None
        try:
            fileutil.try_lock(fd)
            fileutil.preallocate(fd, segment_size)
            parts: list[bytes] = []
            crc = record.add_frame(parts, RecordType.CRC, b"", 0)
            crc = record.add_frame(parts, RecordType.METADATA, bytes(metadata), crc)
            crc = record.add_frame(parts, RecordType.SNAPSHOT, record.encode_snapshot(0, 0), crc)
            size = fileutil.write_all(fd, parts, 0)
            fileutil.fdatasync(fd)
            fileutil.fsync_dir(tmpdir)
            # etcd removes a directory without segments before putting the new one there.
            if os.path.isdir(dirpath):
                shutil.rmtree(dirpath)
            os.rename(tmpdir, dirpath)
            fileutil.fsync_dir(parent)
        except OSError as e:
            os.close(fd)
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise WalWriteError(dirpath, "create", e, _CREATE_ADVICE) from None
        w = cls(
            dirpath,
            segment_size,
            True,
            WalSnapshot(),
            [_Segment(0, 0, os.path.join(dirpath, name), fd)],
        )
        w._metadata = bytes(metadata)
        w._crc = crc
        w._offset = size
        w._read_done = True
        w._ready = True
        return w

    @classmethod
    def open(cls, dirpath: str, snap: WalSnapshot, segment_size: int = DEFAULT_SEGMENT_SIZE) -> WAL:
        """Lock the segments needed to restart from ``snap``; call :meth:`read_all` next."""
        return cls._open(os.path.normpath(dirpath), snap, segment_size, writable=True)

    @classmethod
    def open_for_read(cls, dirpath: str, snap: WalSnapshot) -> WAL:
        """Open without locks, for reading only; a torn tail is tolerated, not repaired."""
        return cls._open(os.path.normpath(dirpath), snap, DEFAULT_SEGMENT_SIZE, writable=False)

    @classmethod
    def _open(cls, dirpath: str, snap: WalSnapshot, segment_size: int, writable: bool) -> WAL:
        names = select_from(dirpath, snap.index)
        segments: list[_Segment] = []
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC
        try:
            for s in names:
                try:
                    fd = os.open(s.path, flags)
                except OSError as e:
                    raise WalError(
                        f"cannot open WAL file {s.path} ({e.strerror}): "
                        "check that it exists and that this user may read and write it"
                    ) from None
                segments.append(_Segment(s.seq, s.index, s.path, fd))
                if writable and not fileutil.try_lock(fd):
                    raise WalLockedError(s.path)
        except BaseException:
            for seg in segments:
                os.close(seg.fd)
            raise
        if writable:
            _remove_stale_temp_files(dirpath)
        return cls(dirpath, segment_size, writable, snap, segments)

    # -- reading ------------------------------------------------------------------

    def read_all(self, *, require_snapshot: bool = True) -> tuple[bytes, HardState, list[Entry]]:
        """Replay the log: ``(metadata, last hard state, entries after the snapshot)``.

        In a WAL from :meth:`open`, a torn tail of the newest segment is repaired (the
        file is copied to ``<name>.broken``, truncated after the last good record and
        fsynced) and the WAL is then ready to append. Damage a crash cannot explain
        raises a :class:`WalCorruptError` subclass. ``require_snapshot=False`` (for the
        backup tool) returns the records even when the snapshot marker is missing.
        """
        with self._mu:
            if self._read_done or self._closed:
                raise WalUsageError("read_all may be called once, right after open")
            self._read_done = True
            try:
                return self._read_all(require_snapshot)
            except BaseException:
                self._close_locked()
                raise

    def _read_all(self, require_snapshot: bool) -> tuple[bytes, HardState, list[Entry]]:
        reader = LogReader(self._start)
        end = 0
        torn: TornTail | None = None
        buf = b""
        for i, seg in enumerate(self._segments):
            try:
                buf = read_file(seg.fd)
            except OSError as e:
                raise WalError(
                    f"could not read WAL file {seg.path} ({e.strerror}): check the disk"
                ) from None
            end, torn = reader.read_segment(seg.path, buf, i == len(self._segments) - 1)
        tail = self._segments[-1]
        if torn is not None:
            if self._writable:
                self._repair(tail, buf, torn)
            else:
                log.warning(
                    "WAL file %s ends in a torn record at offset %d (%s); reading up to it",
                    torn.path,
                    torn.offset,
                    torn.problem,
                )
        del buf
        self._snapshot_found = reader.matched
        if not reader.matched and require_snapshot:
            raise WalSnapshotNotFoundError(
                self._segments[0].path,
                0,
                f"no snapshot marker for index {self._start.index} term {self._start.term} "
                "follows it",
            )
        assert reader.metadata is not None and reader.crc is not None  # headers checked
        if self._writable:
            self._metadata = reader.metadata
            self._state = reader.state
            self._crc = reader.crc
            self._enti = reader.enti
            self._offset = end
            try:
                fileutil.preallocate(tail.fd, self._segment_size)
            except OSError as e:
                log.warning("could not preallocate WAL file %s: %s", tail.path, e.strerror)
            self._ready = True
        else:
            self._close_locked()
        return reader.metadata, reader.state, reader.entries

    def _repair(self, seg: _Segment, buf: bytes, torn: TornTail) -> None:
        log.warning(
            "repairing WAL file %s: torn record at offset %d (%s); the file before repair "
            "is kept as %s.broken",
            seg.path,
            torn.offset,
            torn.problem,
            seg.path,
        )
        try:
            fileutil.copy_aside(seg.path, buf)
            fileutil.ftruncate(seg.fd, torn.offset)
            fileutil.fsync(seg.fd)
        except OSError as e:
            raise WalWriteError(
                self._dir, "repair the torn tail of", e, "free disk space and restart"
            ) from None

    # -- appending ----------------------------------------------------------------

    def save(self, hard_state: HardState, entries: Sequence[Entry]) -> None:
        """Append ``entries`` then ``hard_state``; durable when this returns.

        One write and at most one fdatasync (skipped when there are no entries and term
        and vote are unchanged). An entry with index i makes every earlier entry >= i
        obsolete when the log is read back. Raises :class:`WalWriteError` on a disk
        error, after undoing the partial write.
        """
        with self._mu:
            self._check_ready()
            if not entries and hard_state.is_empty():
                return
            self._settle()
            must_sync = (
                bool(entries)
                or hard_state.term != self._state.term
                or hard_state.vote != self._state.vote
            )
            parts: list[bytes] = []
            crc = self._crc
            if entries:
                crc = record.add_frame(parts, RecordType.ENTRY, record.encode_entries(entries), crc)
            if not hard_state.is_empty():
                crc = record.add_frame(
                    parts, RecordType.STATE, record.encode_state(hard_state), crc
                )
            self._append(parts, must_sync)
            self._crc = crc
            if entries:
                self._enti = entries[-1].index
            if not hard_state.is_empty():
                self._state = HardState(hard_state.term, hard_state.vote, hard_state.commit)
            if self._offset >= self._segment_size:
                self._try_cut()

    async def save_async(self, hard_state: HardState, entries: Sequence[Entry]) -> None:
        """:meth:`save` on the WAL's single worker thread: batches stay in call order and
        the event loop never blocks on the fsync. Cancelling the caller does not cancel
        a save that has started; its outcome is then unknown to the caller."""
        hs = HardState(hard_state.term, hard_state.vote, hard_state.commit)
        ents = list(entries)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._worker(), self.save, hs, ents)

    def save_snapshot(self, snap: WalSnapshot) -> None:
        """Append a snapshot marker and fsync (everything before it becomes durable)."""
        with self._mu:
            self._check_ready()
            self._settle()
            parts: list[bytes] = []
            crc = record.add_frame(
                parts, RecordType.SNAPSHOT, record.encode_snapshot(snap.index, snap.term), self._crc
            )
            self._append(parts, True)
            self._crc = crc
            # A segment cut later must be named past this marker so that reading from
            # the snapshot starts at or before the segment holding it.
            self._enti = max(self._enti, snap.index)

    def _check_ready(self) -> None:
        if self._closed:
            raise WalUsageError(f"the WAL in {self._dir} is closed")
        if not self._ready:
            raise WalUsageError(
                f"the WAL in {self._dir} is not ready to append: "
                "open it for writing and call read_all first"
            )

    def _settle(self) -> None:
        """Finish what an earlier failure left undone before writing again."""
        tail = self._segments[-1]
        try:
            if self._truncate_pending:
                fileutil.ftruncate(tail.fd, self._offset)
                fileutil.fsync(tail.fd)
                self._truncate_pending = False
            if self._dir_sync_pending:
                fileutil.fsync_dir(self._dir)
                self._dir_sync_pending = False
        except OSError as e:
            raise WalWriteError(self._dir, "recover", e) from None

    def _append(self, parts: list[bytes], sync: bool) -> None:
        tail = self._segments[-1]
        action = "write"
        try:
            n = fileutil.write_all(tail.fd, parts, self._offset)
            if sync:
                action = "fsync"
                fileutil.fdatasync(tail.fd)
        except OSError as e:
            # Drop the partial batch so that a later save appends right after the last
            # good record; if even that fails, the next save retries it first, and a
            # restart would see a torn tail and repair it.
            try:
                fileutil.ftruncate(tail.fd, self._offset)
                fileutil.fsync(tail.fd)
            except OSError:
                self._truncate_pending = True
            raise WalWriteError(self._dir, action, e) from None
        self._offset += n

    def _try_cut(self) -> None:
        try:
            self._cut()
        except OSError as e:
            # The batch is already durable; keep appending to the current segment and
            # try the roll again after the next save.
            log.warning(
                "could not start a new WAL segment in %s (%s); the current one keeps growing",
                self._dir,
                e.strerror or e,
            )

    def _cut(self) -> None:
        tail = self._segments[-1]
        # The old tail will not grow again: give back its unused preallocated space.
        fileutil.ftruncate(tail.fd, self._offset)
        fileutil.fsync(tail.fd)
        seq, index = tail.seq + 1, self._enti + 1
        path = os.path.join(self._dir, segment_name(seq, index))
        tmp = path + TMP_SUFFIX
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, fileutil.FILE_MODE)
        try:
            fileutil.try_lock(fd)
            fileutil.preallocate(fd, self._segment_size)
            parts: list[bytes] = []
            crc = record.add_frame(parts, RecordType.CRC, b"", self._crc)
            crc = record.add_frame(parts, RecordType.METADATA, self._metadata, crc)
            crc = record.add_frame(parts, RecordType.STATE, record.encode_state(self._state), crc)
            size = fileutil.write_all(fd, parts, 0)
            fileutil.fdatasync(fd)
            os.rename(tmp, path)
        except BaseException:
            os.close(fd)
            with suppress(OSError):
                os.unlink(tmp)
            raise
        self._segments.append(_Segment(seq, index, path, fd))
        self._crc = crc
        self._offset = size
        try:
            fileutil.fsync_dir(self._dir)
        except OSError as e:
            # Nothing may be acknowledged in a file whose name is not durable yet: the
            # next save retries this first and fails if it still cannot.
            self._dir_sync_pending = True
            log.warning("could not fsync WAL directory %s: %s", self._dir, e.strerror)

    # -- locks, closing -----------------------------------------------------------

    def release_lock_to(self, index: int) -> None:
        """Unlock (and stop holding) the segments wholly before the one a restart from a
        snapshot at ``index`` reads first, so that the purge may remove them."""
        with self._mu:
            keep = 0
            for i, seg in enumerate(self._segments):
                if seg.index <= index:
                    keep = i
            for seg in self._segments[:keep]:
                os.close(seg.fd)
            self._segments = self._segments[keep:]

    def close(self) -> None:
        """Flush the tail, release every lock and stop the worker thread."""
        with self._mu:
            self._close_locked()
        with self._executor_mu:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True)

    def _close_locked(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ready = False
        if self._writable and self._read_done and self._segments:
            try:
                fileutil.fdatasync(self._segments[-1].fd)
            except OSError as e:
                log.warning("could not fsync WAL file %s on close: %s", self._segments[-1].path, e)
        for seg in self._segments:
            with suppress(OSError):
                os.close(seg.fd)
        self._segments = []

    def _worker(self) -> ThreadPoolExecutor:
        with self._executor_mu:
            if self._closed:
                raise WalUsageError(f"the WAL in {self._dir} is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etcdpy-wal")
            return self._executor

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection ------------------------------------------------------------

    @property
    def dirpath(self) -> str:
        return self._dir

    @property
    def metadata(self) -> bytes:
        return self._metadata

    @property
    def hard_state(self) -> HardState:
        """The last hard state saved or read back."""
        return HardState(self._state.term, self._state.vote, self._state.commit)

    @property
    def snapshot_found(self) -> bool:
        """Whether read_all met the marker of the snapshot the WAL was opened at."""
        return self._snapshot_found

    def tail(self) -> tuple[str, int]:
        """The newest segment and the offset where the next record will go."""
        with self._mu:
            return self._segments[-1].path, self._offset

    def locked_paths(self) -> list[str]:
        """The segments this WAL holds locked (the oldest one still needed first)."""
        with self._mu:
            return [s.path for s in self._segments]


_CREATE_ADVICE = "check that the data dir is writable and has free space"


def _remove_stale_temp_files(dirpath: str) -> None:
    """Remove ``<segment>.wal.tmp`` left by a roll a crash interrupted (we hold the log)."""
    with suppress(OSError):
        for name in os.listdir(dirpath):
            if name.endswith(".wal" + TMP_SUFFIX):
                with suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))


def list_wal_snapshots(dirpath: str) -> list[WalSnapshot]:
    """Every snapshot marker in the WAL, oldest first, that the hard state covers.

    Reads all segments without locks (a torn tail is tolerated). Markers past the last
    hard state's commit index are left out, as etcd's ``ValidSnapshotEntries`` does. The
    server loads the newest ``.snap`` file that appears in this list (etcd 3.4+), so a
    ``.snap`` written just before a crash, whose marker never reached the WAL, is skipped.
    """
    segments = list_segments(os.path.normpath(dirpath))
    if not segments:
        raise WalError(f"there is no WAL segment in {dirpath}: check --data-dir")
    check_sequence(segments)
    reader = LogReader(WalSnapshot(), want_entries=False)
    for i, seg in enumerate(segments):
        buf = _read_path(seg)
        reader.read_segment(seg.path, buf, i == len(segments) - 1)
    return [m for m in reader.markers if m.index <= reader.state.commit]


def _read_path(seg: SegmentName) -> bytes:
    try:
        fd = os.open(seg.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return read_file(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise WalError(
            f"could not read WAL file {seg.path} ({e.strerror}): check the disk"
        ) from None
