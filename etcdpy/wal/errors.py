"""Typed errors of the write-ahead log.

Every error's ``str()`` is one sentence for the operator: what is wrong, where (file and
offset when there is one) and what to do. A log that cannot be trusted is never opened;
the remedy the administration guide gives for a damaged member is to remove it from the
cluster and re-add it with an empty data dir.
"""

from __future__ import annotations

REMEDY = "remove this member from the cluster and re-add it with an empty data dir"


class WalError(Exception):
    """Base of every error the WAL raises on purpose."""


class WalExistsError(WalError):
    """``WAL.create`` on a directory that already holds a WAL."""

    def __init__(self, dirpath: str) -> None:
        super().__init__(
            f"a WAL already exists in {dirpath}: open it instead of creating one, "
            "or move the directory away to start empty"
        )
        self.dirpath = dirpath


class WalNotFoundError(WalError):
    """No segment to open (empty directory, or none reaches back to the snapshot)."""


class WalLockedError(WalError):
    """Another process holds the WAL; we never wait for it."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"WAL file {path} is locked by another process: another etcdpy is using this "
            "data dir, stop it or start this member with a different --data-dir"
        )
        self.path = path


class WalCorruptError(WalError):
    """The log is damaged in a way a crash cannot explain; refusing to start on it."""

    def __init__(self, path: str, offset: int, problem: str, remedy: str = REMEDY) -> None:
        super().__init__(f"WAL file {path} is damaged at offset {offset} ({problem}): {remedy}")
        self.path = path
        self.offset = offset
        self.problem = problem


class WalCrcMismatchError(WalCorruptError):
    """A record's chained CRC32C is wrong and valid records follow it."""


class WalSegmentSequenceError(WalCorruptError):
    """A segment is missing, out of sequence, or does not continue the CRC chain."""


class WalForeignFileError(WalCorruptError):
    """A ``.wal`` file whose name or content is not a segment of this log."""


class WalMetadataConflictError(WalCorruptError):
    """Two segments carry different metadata (member or cluster id)."""


class WalEntryGapError(WalCorruptError):
    """An entry's index skips ahead of the entries read before it."""


class WalSnapshotNotFoundError(WalCorruptError):
    """The snapshot marker the member restarts from is not in the log."""


class WalSnapshotMismatchError(WalCorruptError):
    """The snapshot marker is there but with another term."""


class WalWriteError(WalError):
    """A write, fsync or repair of the WAL failed (often ENOSPC)."""

    SAVE_ADVICE = (
        "the batch was not saved and every earlier one is intact, "
        "free disk space or fix the disk and retry"
    )

    def __init__(self, dirpath: str, action: str, err: OSError, advice: str = SAVE_ADVICE) -> None:
        reason = err.strerror or str(err)
        super().__init__(f"could not {action} the WAL in {dirpath} ({reason}): {advice}")
        self.dirpath = dirpath
        self.errno = err.errno


class WalUsageError(WalError):
    """The WAL was called out of order (a programming error, not a disk problem)."""
