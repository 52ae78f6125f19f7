"""Copying a WAL under new metadata (the control tool's ``backup``, etcd 2.3 style).

etcd's backup reads the source WAL without locks from the newest snapshot, then creates
a new WAL with new metadata (a new member id and cluster id, so the copy can never join
the old cluster by mistake) holding the same hard state, entries and snapshot marker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from etcdpy.raft.types import HardState
from etcdpy.wal.reader import WalSnapshot
from etcdpy.wal.wal import DEFAULT_SEGMENT_SIZE, WAL

log = logging.getLogger("etcdpy.wal")


@dataclass(slots=True)
class CopyResult:
    old_metadata: bytes
    hard_state: HardState
    entries: int
    # False when the source had no marker for the snapshot; the copy gets one anyway.
    marker_found: bool


def copy_with_metadata(
    src_dir: str,
    dst_dir: str,
    snap: WalSnapshot,
    metadata: bytes,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> CopyResult:
    """Write a new WAL in ``dst_dir``: ``metadata``, then the source's hard state and
    entries after ``snap``, then the marker for ``snap``. The source is only read."""
    src = WAL.open_for_read(src_dir, snap)
    old_md, hs, ents = src.read_all(require_snapshot=False)
    found = src.snapshot_found
    if not found:
        log.warning(
            "the WAL in %s has no marker for snapshot %d (term %d); the copy adds it",
            src_dir,
            snap.index,
            snap.term,
        )
    dst = WAL.create(dst_dir, metadata, segment_size)
    try:
        dst.save(hs, ents)
        dst.save_snapshot(snap)
    finally:
        dst.close()
    return CopyResult(old_md, hs, len(ents), found)
