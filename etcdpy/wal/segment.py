"""Segment files: naming, listing and choosing where reading starts.

A segment is ``%016x-%016x.wal``: its sequence number, then the first raft index
expected in it (one past the last entry index written before it was cut). Sequence
numbers are contiguous from the oldest kept segment to the newest.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass

from etcdpy.wal.errors import WalForeignFileError, WalNotFoundError, WalSegmentSequenceError

SUFFIX = ".wal"
TMP_SUFFIX = ".tmp"
_NAME = re.compile(r"([0-9a-f]{16})-([0-9a-f]{16})\.wal")


@dataclass(slots=True)
class SegmentName:
    seq: int
    index: int
    path: str


def segment_name(seq: int, index: int) -> str:
    return f"{seq:016x}-{index:016x}{SUFFIX}"


def parse_segment_name(name: str) -> tuple[int, int] | None:
    m = _NAME.fullmatch(name)
    if m is None:
        return None
    return int(m.group(1), 16), int(m.group(2), 16)


def wal_exists(dirpath: str) -> bool:
    """True if ``dirpath`` holds at least one ``.wal`` file (etcd ``wal.Exist``)."""
    try:
        return any(n.endswith(SUFFIX) for n in os.listdir(dirpath))
    except (FileNotFoundError, NotADirectoryError):
        return False


def list_segments(dirpath: str) -> list[SegmentName]:
    """Every segment of ``dirpath`` in sequence order.

    Files not ending in ``.wal`` (``.tmp``, ``.broken``) are ignored; a ``.wal`` file
    with another name is refused rather than skipped, since it means someone mixed
    files into the log.
    """
    try:
        names = os.listdir(dirpath)
    except FileNotFoundError:
        raise WalNotFoundError(
            f"there is no WAL directory {dirpath}: check --data-dir, or create a new member"
        ) from None
    out: list[SegmentName] = []
    for name in names:
        if not name.endswith(SUFFIX):
            continue
        path = os.path.join(dirpath, name)
        parsed = parse_segment_name(name)
        if parsed is None:
            raise WalForeignFileError(
                path,
                0,
                "a .wal file whose name is not <16 hex digits>-<16 hex digits>.wal",
                remedy="move it out of the WAL directory",
            )
        out.append(SegmentName(parsed[0], parsed[1], path))
    out.sort(key=lambda s: s.seq)
    return out


def check_sequence(segments: list[SegmentName]) -> None:
    for prev, cur in itertools.pairwise(segments):
        if cur.seq != prev.seq + 1:
            problem = (
                f"segment sequence {prev.seq + 1} is missing before it"
                if cur.seq > prev.seq + 1
                else f"it repeats sequence number {cur.seq}"
            )
            raise WalSegmentSequenceError(cur.path, 0, problem)


def select_from(dirpath: str, snap_index: int) -> list[SegmentName]:
    """The segments to read to restart from a snapshot at ``snap_index``.

    Reading starts at the last segment whose first index is <= the snapshot index (the
    snapshot marker is in it or after it) and goes to the newest.
    """
    segments = list_segments(dirpath)
    if not segments:
        raise WalNotFoundError(
            f"there is no WAL segment in {dirpath}: check --data-dir, or create a new member"
        )
    start = -1
    for i in range(len(segments) - 1, -1, -1):
        if segments[i].index <= snap_index:
            start = i
            break
    if start < 0:
        raise WalNotFoundError(
            f"no WAL segment in {dirpath} reaches back to snapshot index {snap_index} "
            f"(the oldest is {os.path.basename(segments[0].path)}): the segments the "
            "snapshot needs were removed, remove this member from the cluster and "
            "re-add it with an empty data dir"
        )
    chosen = segments[start:]
    check_sequence(chosen)
    return chosen
