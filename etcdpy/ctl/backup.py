"""The seam for ``backup``: copy a member's data dir into a fresh, restartable one.

etcd 2.3's ``etcdctl backup`` copies the newest snapshot and rewrites the WAL with a
new random node ID and cluster ID, so the copy can only be started with
``--force-new-cluster``.  Doing that needs the WAL and snapshot packages, which are
being written; until then :func:`backup` refuses with one clear sentence.
"""

from __future__ import annotations

from pathlib import Path


class BackupError(Exception):
    """A backup that cannot be made; str() says what is wrong and what to do."""


class BackupUnavailable(BackupError):
    """The storage layer needed to read and rewrite a data dir is not there yet."""


def backup(
    data_dir: str | Path,
    backup_dir: str | Path,
    *,
    wal_dir: str | Path | None = None,
    backup_wal_dir: str | Path | None = None,
) -> None:
    """Back up ``data_dir`` (WAL in ``wal_dir`` if given) into ``backup_dir``.

    The result holds the newest snapshot and the WAL entries after it, under a new
    node ID and cluster ID (WAL in ``backup_wal_dir`` if given).
    """
    if not str(data_dir):
        raise BackupError("backup needs --data-dir: the data directory of the member to copy.")
    if not str(backup_dir):
        raise BackupError("backup needs --backup-dir: an empty directory to write the copy to.")
    raise BackupUnavailable(
        f"cannot back up {data_dir}: etcdpyctl backup needs the WAL and snapshot storage "
        "layer, which this build does not have yet; copy the stopped member's data "
        "directory by hand instead."
    )
