"""Durable storage of the Raft log: segmented, CRC32C-chained, locked write-ahead log.

Public interface (what the server and the control tool call)::

    WalSnapshot(index, term)
    WAL.create(dirpath, metadata, segment_size=64_000_000) -> WAL
    WAL.open(dirpath, snap, segment_size=...) -> WAL          # locks; then read_all()
    WAL.open_for_read(dirpath, snap) -> WAL                   # no locks, no repair
    wal.read_all() -> (metadata, hard_state, entries)
    wal.save(hard_state, entries) / await wal.save_async(...) / wal.save_snapshot(snap)
    wal.release_lock_to(index) / wal.close()
    wal_exists(dirpath) / list_wal_snapshots(dirpath)
    purge_wal_segments(wal_dir, max_wals, keep_index) / purge_files(...)
    copy_with_metadata(src_dir, dst_dir, snap, metadata)       # backup

See ``record`` for the on-disk frame, ``reader`` for replay and the torn-tail rules,
``wal`` for segments, locking and group commit.
"""

from etcdpy.wal.backup import copy_with_metadata
from etcdpy.wal.errors import (
    WalCorruptError,
    WalCrcMismatchError,
    WalEntryGapError,
    WalError,
    WalExistsError,
    WalForeignFileError,
    WalLockedError,
    WalMetadataConflictError,
    WalNotFoundError,
    WalSegmentSequenceError,
    WalSnapshotMismatchError,
    WalSnapshotNotFoundError,
    WalUsageError,
    WalWriteError,
)
from etcdpy.wal.purge import purge_files, purge_wal_segments
from etcdpy.wal.reader import WalSnapshot
from etcdpy.wal.segment import wal_exists
from etcdpy.wal.wal import DEFAULT_SEGMENT_SIZE, WAL, list_wal_snapshots

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "WAL",
    "WalCorruptError",
    "WalCrcMismatchError",
    "WalEntryGapError",
    "WalError",
    "WalExistsError",
    "WalForeignFileError",
    "WalLockedError",
    "WalMetadataConflictError",
    "WalNotFoundError",
    "WalSegmentSequenceError",
    "WalSnapshot",
    "WalSnapshotMismatchError",
    "WalSnapshotNotFoundError",
    "WalUsageError",
    "WalWriteError",
    "copy_with_metadata",
    "list_wal_snapshots",
    "purge_files",
    "purge_wal_segments",
    "wal_exists",
]
