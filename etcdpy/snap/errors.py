"""Typed errors of the snapshot files; ``str()`` is one sentence for the operator."""

from __future__ import annotations


class SnapError(Exception):
    """Base of every error the snapshotter raises on purpose."""


class SnapCorruptError(SnapError):
    """A ``.snap`` file that does not verify (the loader sets it aside as ``.broken``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(
            f"snapshot file {path} is damaged ({problem}): it is set aside as .broken and an "
            "older snapshot is used; if none is left, remove this member from the cluster "
            "and re-add it with an empty data dir"
        )
        self.path = path
        self.problem = problem


class SnapWriteError(SnapError):
    """Writing a snapshot failed; no partial file is left under a ``.snap`` name."""

    def __init__(self, dirpath: str, err: OSError | str) -> None:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        super().__init__(
            f"could not write a snapshot in {dirpath} ({reason}): "
            "free disk space or fix the disk, the previous snapshot is intact"
        )
        self.dirpath = dirpath


class SnapReadError(SnapError):
    """The disk refused a read (not a damaged file: nothing is set aside)."""

    def __init__(self, path: str, err: OSError) -> None:
        super().__init__(
            f"could not read snapshot file {path} ({err.strerror or err}): "
            "check the disk and the file's permissions"
        )
        self.path = path
