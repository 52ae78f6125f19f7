"""Removing old WAL segments and snapshot files (``--max-wals``, ``--max-snapshots``).

Pure functions of what is in a directory and which files are locked: the server calls
them periodically (etcd: every 30 s). Only the oldest files go, in order, so the
remaining segments stay contiguous; a file is removed only while we hold its lock, and
the first file that cannot be locked (a WAL still uses it) ends the purge, as in etcd's
``fileutil.PurgeFile``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable

from etcdpy.wal import fileutil
from etcdpy.wal.segment import SUFFIX, list_segments

log = logging.getLogger("etcdpy.wal")


def purge_files(
    dirpath: str,
    suffix: str,
    max_keep: int,
    can_remove: Callable[[str], bool] | None = None,
) -> list[str]:
    """Remove the oldest ``*suffix`` files of ``dirpath`` beyond the newest ``max_keep``.

    Names sort oldest first (both ``.wal`` and ``.snap`` names are fixed-width hex).
    ``max_keep`` 0 keeps everything. The purge stops at the first file ``can_remove``
    refuses or another open file holds locked. Returns the removed paths.
    """
    if max_keep <= 0:
        return []
    try:
        names = sorted(n for n in os.listdir(dirpath) if n.endswith(suffix))
    except FileNotFoundError:
        return []
    removed: list[str] = []
    for name in names[: max(0, len(names) - max_keep)]:
        path = os.path.join(dirpath, name)
        if can_remove is not None and not can_remove(path):
            break
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            if not fileutil.try_lock(fd):
                break
            os.unlink(path)
        finally:
            os.close(fd)
        log.info("purged file %s", path)
        removed.append(path)
    return removed


def purge_wal_segments(wal_dir: str, max_wals: int, keep_index: int | None = None) -> list[str]:
    """Remove the oldest segments beyond ``max_wals`` that no restart can need.

    A segment goes only if it is unlocked (the open WAL keeps locked every segment from
    the one a restart would read first, see ``WAL.release_lock_to``) and, when
    ``keep_index`` is given (the index of the oldest snapshot a restart may use), only if
    the segment after it starts at or before ``keep_index``: reading from that snapshot
    then begins at a later segment.
    """
    if max_wals <= 0:
        return []
    segments = list_segments(wal_dir)
    first_index_after = {prev.path: nxt.index for prev, nxt in itertools.pairwise(segments)}

    def needed(path: str) -> bool:
        if keep_index is None:
            return False
        nxt = first_index_after.get(path)
        return nxt is None or nxt > keep_index

    return purge_files(wal_dir, SUFFIX, max_wals, lambda p: not needed(p))
