"""``etcdpyctl backup``: copy a member's data dir into a fresh one that can only be
restarted as a new one-member cluster (etcd 2.3's ``etcdctl backup``).

What lands in the backup dir (etcdpy's layout, the administration guide's)::

    backup-dir/snap/<term>-<index>.snap   the newest snapshot the source WAL has a marker
                                          for, copied in chunks and CRC-checked
    backup-dir/wal/                       a new WAL: new metadata, the source's hard state
                                          and every entry after that snapshot, its marker

The metadata gets a new member id and a new cluster id (etcd's ``idutil`` generator
seeded with member 0 and the clock), so the copy is refused by the old cluster's members
(412, another cluster) and by a plain restart (its member is in no membership): the only
way to start it is ``etcdpy --data-dir <backup> --force-new-cluster``.

The source may belong to a running member. Nothing in it is locked, renamed or written:
the snapshot is read through its own fd (``.snap`` files are renamed into place whole,
so a listed one is complete, and an fd keeps it readable if a purge removes it), the WAL
through ``WAL.open_for_read``, which stops at the last complete record of the newest
segment. What is copied is therefore a prefix of the member's log that starts at a
snapshot it had taken: a consistent point-in-time state. If the member purges the files
between listing and opening them, the copy starts over (a few times at most).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from etcdpy.raft.types import Entry, HardState
from etcdpy.server.idgen import RequestIDs
from etcdpy.server.member import id_str
from etcdpy.server.storage import SNAP_DIR, WAL_DIR, DataDirError, Metadata
from etcdpy.snap import SnapCorruptError, SnapError, SnapshotFile, Snapshotter, parse_snap_name
from etcdpy.wal import WAL, WalError, WalSnapshot, list_wal_snapshots, wal_exists

# Progress lines are printed only when this much is copied (snapshot + WAL bytes).
PROGRESS_THRESHOLD_BYTES = 32 << 20
# Entries per write to the new WAL: bounded memory per batch, progress between batches.
WRITE_BATCH_ENTRIES = 20_000
# A running member may purge what we listed; start over at most this often.
MAX_ATTEMPTS = 3
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup that cannot be made; str() says what is wrong and what to do."""


class _SourceMoved(Exception):
    """The running member purged a file between listing and reading it."""


Progress = Callable[[str], None]


def stderr_progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass(slots=True)
class BackupResult:
    """What was copied, for the caller's report."""

    member_id: int
    cluster_id: int
    old_member_id: int
    old_cluster_id: int
    snapshot_index: int
    snapshot_term: int
    entries: int
    commit_index: int
    bytes_copied: int


def backup(
    data_dir: str | Path,
    backup_dir: str | Path,
    *,
    wal_dir: str | Path | None = None,
    backup_wal_dir: str | Path | None = None,
    progress: Progress | None = stderr_progress,
    progress_threshold: int = PROGRESS_THRESHOLD_BYTES,
    clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> BackupResult:
    """Back up ``data_dir`` (WAL in ``wal_dir`` if given) into ``backup_dir``.

    The result holds the newest snapshot and the WAL entries after it, under a new
    member id and cluster id (WAL in ``backup_wal_dir`` if given). ``progress`` gets a
    line now and then when more than ``progress_threshold`` bytes are copied.
    """
    if not str(data_dir):
        raise BackupError("backup needs --data-dir: the data directory of the member to copy.")
    if not str(backup_dir):
        raise BackupError("backup needs --backup-dir: an empty directory to write the copy to.")
    src = os.path.normpath(str(data_dir))
    src_wal = os.path.normpath(str(wal_dir)) if wal_dir else os.path.join(src, WAL_DIR)
    src_snap = os.path.join(src, SNAP_DIR)
    dst = os.path.normpath(str(backup_dir))
    dst_wal = (
        os.path.normpath(str(backup_wal_dir)) if backup_wal_dir else os.path.join(dst, WAL_DIR)
    )
    dst_snap = os.path.join(dst, SNAP_DIR)
    _check_source(src, src_wal)
    for d, flag in ((dst, "--backup-dir"), (dst_wal, "--backup-wal-dir")):
        _check_destination(d, flag, src)
    gen = RequestIDs(0, clock_ms())
    meta = Metadata(gen.next(), gen.next(), from_backup=True)
    made_dst = _make_dir(dst)
    wal_existed = os.path.isdir(dst_wal)
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return _copy(
                    src, src_wal, src_snap, dst_snap, dst_wal, meta, progress, progress_threshold
                )
            except _SourceMoved as e:
                _clear(dst_snap, dst_wal, wal_existed)
                if attempt == MAX_ATTEMPTS:
                    raise BackupError(
                        f"cannot back up {src}: its files changed under the copy "
                        f"{MAX_ATTEMPTS} times ({e}); try again, or stop the member first."
                    ) from None
    except BaseException:
        _clear(dst_snap, dst_wal, wal_existed)
        if made_dst:
            shutil.rmtree(dst, ignore_errors=True)
        raise
    raise AssertionError("unreachable")  # the loop returns or raises


def _check_source(src: str, src_wal: str) -> None:
    if not os.path.isdir(src):
        raise BackupError(
            f"cannot back up {src}: there is no such directory; give --data-dir the data "
            "directory of the member to copy."
        )
    if wal_exists(src_wal):
        return
    if wal_exists(os.path.join(src, "member", WAL_DIR)):
        raise BackupError(
            f"cannot back up {src}: it is a data dir of Go etcd (member/wal), which etcdpy "
            "cannot read; back it up with etcd's own etcdctl."
        )
    raise BackupError(
        f"cannot back up {src}: {src_wal} holds no WAL, so this is no member's data dir; "
        "check --data-dir (and --wal-dir)."
    )


def _check_destination(d: str, flag: str, src: str) -> None:
    if os.path.abspath(d) == os.path.abspath(src) or os.path.abspath(d).startswith(
        os.path.abspath(src) + os.sep
    ):
        raise BackupError(
            f"cannot back up into {d}: it is inside the data dir being copied; give {flag} a "
            "directory outside it."
        )
    if os.path.exists(d):
        if not os.path.isdir(d):
            raise BackupError(f"cannot back up into {d}: it is a file; give {flag} a directory.")
        if os.listdir(d):
            raise BackupError(
                f"cannot back up into {d}: it is not empty and a backup never overwrites "
                f"anything; give {flag} a new or empty directory."
            )


def _make_dir(d: str) -> bool:
    """Create ``d`` if missing; True if it was created (removed again on failure)."""
    if os.path.isdir(d):
        return False
    try:
        os.makedirs(d, mode=0o700)
    except OSError as e:
        raise BackupError(
            f"cannot create the backup dir {d}: {e.strerror}; check its parent and its permissions."
        ) from None
    return True


def _clear(dst_snap: str, dst_wal: str, wal_existed: bool) -> None:
    """Remove what a failed attempt wrote (the destination dirs were empty before)."""
    shutil.rmtree(dst_snap, ignore_errors=True)
    shutil.rmtree(dst_wal + ".tmp", ignore_errors=True)
    if not wal_existed:
        shutil.rmtree(dst_wal, ignore_errors=True)
    elif os.path.isdir(dst_wal):
        for name in os.listdir(dst_wal):
            p = os.path.join(dst_wal, name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)


class _Reporter:
    """Prints a line at every tenth of the total, only for a big copy."""

    def __init__(self, progress: Progress | None, threshold: int) -> None:
        self._progress = progress
        self._threshold = threshold
        self._total = 0
        self._done = 0
        self._next = 0

    def start(self, total: int, first_line: str) -> None:
        self._total = max(total, 1)
        if self._on():
            self._emit(first_line)
        self._next = self._total // 10

    def _on(self) -> bool:
        return self._progress is not None and self._total >= self._threshold

    def _emit(self, line: str) -> None:
        assert self._progress is not None
        self._progress(line)

    def add(self, n: int, what: str) -> None:
        self._done += n
        if not self._on() or self._done < self._next:
            return
        pct = min(100, self._done * 100 // self._total)
        self._emit(f"backup: {pct}% ({_mib(self._done)} of {_mib(self._total)}), {what}")
        step = max(1, self._total // 10)
        self._next = (self._done // step + 1) * step

    def finish(self, line: str) -> None:
        if self._on():
            self._emit(line)


def _mib(n: int) -> str:
    if n < 1 << 20:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1 << 20):.1f} MiB"


def _copy(
    src: str,
    src_wal: str,
    src_snap: str,
    dst_snap: str,
    dst_wal: str,
    meta: Metadata,
    progress: Progress | None,
    threshold: int,
) -> BackupResult:
    try:
        markers = list_wal_snapshots(src_wal)
    except WalError as e:
        raise BackupError(f"cannot back up {src}: {_sentence(e)}") from None
    # Open the snapshot first: its fd pins the file, then the WAL from its marker on.
    snap_file = _open_newest_snapshot(src_snap, markers, progress)
    try:
        walsnap = (
            WalSnapshot(snap_file.metadata.index, snap_file.metadata.term)
            if snap_file is not None
            else WalSnapshot(0, 0)
        )
        old_meta, hs, ents = _read_wal(src, src_wal, walsnap)
        snap_bytes = snap_file.data_size if snap_file is not None else 0
        ent_bytes = _approx_bytes(ents)
        rep = _Reporter(progress, threshold)
        rep.start(
            snap_bytes + ent_bytes,
            f"backup: copying {src}: a snapshot of {_mib(snap_bytes)} and {len(ents)} WAL "
            f"entries ({_mib(ent_bytes)})",
        )
        if snap_file is not None:
            _copy_snapshot(snap_file, dst_snap, rep)
        else:
            os.makedirs(dst_snap, mode=0o700, exist_ok=True)
    finally:
        if snap_file is not None:
            snap_file.close()
    _write_wal(dst_wal, meta, hs, ents, walsnap, rep)
    rep.finish(f"backup: done, {len(ents)} entries after the snapshot at index {walsnap.index}")
    return BackupResult(
        meta.member_id,
        meta.cluster_id,
        old_meta.member_id,
        old_meta.cluster_id,
        walsnap.index,
        walsnap.term,
        len(ents),
        hs.commit,
        snap_bytes + ent_bytes,
    )


def _open_newest_snapshot(
    snap_dir: str, markers: list[WalSnapshot], progress: Progress | None
) -> SnapshotFile | None:
    """The newest ``.snap`` with a WAL marker whose header reads; None when the member
    has taken no snapshot yet (the WAL then starts at index 0).

    A damaged file is skipped (an older one is tried) but left in place: the source
    belongs to the member, the member's own restart sets it aside."""
    wanted = {(m.term, m.index) for m in markers}
    try:
        names = sorted(
            (n for n in os.listdir(snap_dir) if parse_snap_name(n) in wanted), reverse=True
        )
    except FileNotFoundError:
        names = []
    for name in names:
        path = os.path.join(snap_dir, name)
        try:
            f = SnapshotFile.open(path)
        except SnapCorruptError as e:
            if progress is not None:
                progress(f"backup: skipping damaged snapshot {path} ({e.problem})")
        except SnapError:
            # Purged after the listing: the next older one is as good a start.
            continue
        if (f.metadata.term, f.metadata.index) == parse_snap_name(name):
            return f
        f.close()
        if progress is not None:
            progress(f"backup: skipping snapshot {path}: it holds another index than its name")
    if any(m.index > 0 for m in markers):
        raise BackupError(
            f"cannot back up {os.path.dirname(snap_dir)}: no snapshot file in {snap_dir} "
            "verifies for the snapshots its WAL records; the data dir is damaged, back up "
            "another member."
        )
    return None


def _copy_snapshot(f: SnapshotFile, dst_snap: str, rep: _Reporter) -> None:
    def chunks() -> Iterator[bytes]:
        for chunk in f.iter_data(_CHUNK):
            rep.add(len(chunk), "snapshot")
            yield chunk

    try:
        Snapshotter(dst_snap).save_stream(f.metadata, f.data_size, chunks())
    except SnapCorruptError as e:
        raise BackupError(
            f"cannot back up: the snapshot {f.path} does not verify ({e.problem}); the data "
            "dir is damaged, back up another member."
        ) from None
    except SnapError as e:
        raise BackupError(f"cannot back up: {_sentence(e)}") from None


def _read_wal(
    src: str, src_wal: str, walsnap: WalSnapshot
) -> tuple[Metadata, HardState, list[Entry]]:
    try:
        w = WAL.open_for_read(src_wal, walsnap)
        raw_meta, hs, ents = w.read_all(require_snapshot=False)
    except WalError as e:
        if not os.path.exists(src_wal) or _segment_missing(e):
            raise _SourceMoved(str(e)) from None
        raise BackupError(f"cannot back up {src}: {_sentence(e)}") from None
    if not w.snapshot_found and walsnap.index > 0:
        # We picked the snapshot from the WAL's own markers, so a missing one means the
        # segment holding it was purged meanwhile.
        raise _SourceMoved(f"the WAL no longer reaches back to index {walsnap.index}")
    try:
        meta = Metadata.decode(raw_meta, src_wal)
    except DataDirError as e:
        raise BackupError(f"cannot back up {src}: {_sentence(e)}") from None
    return meta, hs, ents


def _segment_missing(e: WalError) -> bool:
    text = str(e)
    return "cannot open WAL file" in text or "no WAL segment" in text or "no such" in text.lower()


def _write_wal(
    dst_wal: str,
    meta: Metadata,
    hs: HardState,
    ents: list[Entry],
    walsnap: WalSnapshot,
    rep: _Reporter,
) -> None:
    try:
        # WAL.create builds the log in <dir>.tmp and renames it over an empty dir.
        w = WAL.create(dst_wal, meta.encode())
    except (WalError, OSError) as e:
        raise BackupError(f"cannot write the backup WAL in {dst_wal}: {_sentence(e)}") from None
    try:
        # The hard state goes last, after every entry it may commit (as in the source).
        n = len(ents)
        per_entry = max(1, _approx_bytes(ents) // max(n, 1))
        for start in range(0, n, WRITE_BATCH_ENTRIES):
            batch = ents[start : start + WRITE_BATCH_ENTRIES]
            w.save(HardState(), batch)
            rep.add(len(batch) * per_entry, f"{start + len(batch)} of {n} WAL entries")
        w.save(hs, [])
        w.save_snapshot(walsnap)
    except WalError as e:
        raise BackupError(f"cannot write the backup WAL in {dst_wal}: {_sentence(e)}") from None
    finally:
        w.close()


def _approx_bytes(ents: list[Entry]) -> int:
    return sum(len(e.data) + 24 for e in ents)


def _sentence(e: BaseException) -> str:
    text = str(e.strerror if isinstance(e, OSError) and e.strerror else e).strip()
    return text if text.endswith(".") else text + "."


def describe(result: BackupResult) -> str:
    """One line for the operator about what the backup holds."""
    return (
        f"backup: member {id_str(result.old_member_id)} of cluster "
        f"{id_str(result.old_cluster_id)} copied as member {id_str(result.member_id)} of "
        f"cluster {id_str(result.cluster_id)} (snapshot at index {result.snapshot_index}, "
        f"{result.entries} entries after it, commit index {result.commit_index}); start it "
        "with --force-new-cluster"
    )
