"""Snapshot files under ``data-dir/snap``: ``%016x-%016x.snap`` (term, index), CRC32C,
written atomically, loaded newest-valid-first, streamed in chunks, purged.

Public interface::

    Snapshotter(dirpath).save(snapshot) / .save_stream(metadata, size, chunks)
    Snapshotter(dirpath).load() / .load_newest_available(wal_snaps) -> Snapshot | None
    Snapshotter(dirpath).open(term, index) -> SnapshotFile   # .iter_data(chunk_size)
    purge_snapshots(snap_dir, max_snapshots)
"""

from etcdpy.snap.errors import SnapCorruptError, SnapError, SnapReadError, SnapWriteError
from etcdpy.snap.snapfile import SnapshotFile
from etcdpy.snap.snapshotter import Snapshotter, parse_snap_name, purge_snapshots, snap_name

__all__ = [
    "SnapCorruptError",
    "SnapError",
    "SnapReadError",
    "SnapWriteError",
    "SnapshotFile",
    "Snapshotter",
    "parse_snap_name",
    "purge_snapshots",
    "snap_name",
]
