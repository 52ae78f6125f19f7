"""The member's data dir: ``wal/`` and ``snap/`` as the administration guide describes,
and the metadata the WAL carries (this member's id and its cluster's id)."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

import msgpack

from etcdpy.raft.types import Entry, HardState, Snapshot
from etcdpy.server.config import ConfigError
from etcdpy.snap import Snapshotter, purge_snapshots
from etcdpy.wal import WAL, WalSnapshot, purge_wal_segments

log = logging.getLogger(__name__)

WAL_DIR = "wal"
SNAP_DIR = "snap"
_EMPTY = HardState()


class DataDirError(ConfigError):
    """A data dir that cannot be used as it is; the message says what to do. A
    ConfigError, so the daemon ends with that one sentence and exit status 1."""


def wal_dir(data_dir: str) -> str:
    return os.path.join(data_dir, WAL_DIR)


def snap_dir(data_dir: str) -> str:
    return os.path.join(data_dir, SNAP_DIR)


@dataclass(slots=True)
class Metadata:
    """Who wrote a WAL: its member id and cluster id (etcd ``etcdserverpb.Metadata``)."""

    member_id: int
    cluster_id: int
    # Written by ``etcdpyctl backup``: the member is in no membership until the copy is
    # started with --force-new-cluster, and a plain start is refused with that advice.
    from_backup: bool = False

    def encode(self) -> bytes:
        v: dict[str, object] = {"member_id": self.member_id, "cluster_id": self.cluster_id}
        if self.from_backup:
            v["from_backup"] = True
        return msgpack.packb(v)

    @classmethod
    def decode(cls, data: bytes, where: str) -> Metadata:
        try:
            v = msgpack.unpackb(data)
            return cls(int(v["member_id"]), int(v["cluster_id"]), bool(v.get("from_backup")))
        except Exception:
            raise DataDirError(
                f"the WAL in {where} does not hold etcdpy member metadata; it was not written "
                "by etcdpy: point --data-dir at an etcdpy data dir or at an empty one"
            ) from None


class MemberStorage:
    """The open WAL and the snapshotter of one member, used by the Raft loop only."""

    def __init__(self, data_dir: str, wal: WAL, snapshotter: Snapshotter) -> None:
        self.data_dir = data_dir
        self.wal = wal
        self.snapshotter = snapshotter

    async def save(self, hard_state: HardState | None, entries: list[Entry]) -> None:
        """Persist one Ready's entries and hard state: one write, one fsync at most."""
        await self.wal.save_async(hard_state or _EMPTY, entries)

    async def save_snapshot(self, snap: Snapshot) -> None:
        """The ``.snap`` file first, then its marker in the WAL (etcd 3.4's order: a
        marker never points at a missing file)."""
        await asyncio.to_thread(self.snapshotter.save, snap)
        marker = WalSnapshot(snap.metadata.index, snap.metadata.term)
        await asyncio.to_thread(self.wal.save_snapshot, marker)
        self.wal.release_lock_to(snap.metadata.index)

    def purge(self, max_snapshots: int, max_wals: int) -> None:
        """Remove snapshots beyond ``max_snapshots`` and the WAL segments no restart from
        a kept snapshot needs beyond ``max_wals`` (0 keeps all)."""
        purge_snapshots(self.snapshotter.dirpath, max_snapshots)
        kept = self.snapshotter.names()
        oldest = None
        if kept:
            from etcdpy.snap import parse_snap_name

            parsed = parse_snap_name(kept[-1])
            oldest = parsed[1] if parsed else None
        purge_wal_segments(self.wal.dirpath, max_wals, oldest if oldest is not None else 0)

    def close(self) -> None:
        self.wal.close()
