"""``etcdpyctl backup``: a consistent copy of a running member, new ids, a source left as
it was, refusals in one sentence, and progress for big copies."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from etcdpy.ctl.backup import backup
from etcdpy.server.storage import Metadata
from etcdpy.wal import WAL, list_wal_snapshots
from tests.cluster.kit import put
from tests.ctl.ctl_harness import run_inprocess
from tests.ops.kit import ctl, dump, start_member
from tests.procs import ProcGroup

# Backups taken while writes go on (each is restored by a process of its own).
COPIES = 3 if os.environ.get("ETCDPY_OPS_HEAVY") == "1" else 1


def fingerprint(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def wal_metadata(wal_dir: Path) -> Metadata:
    newest = list_wal_snapshots(str(wal_dir))[-1]
    w = WAL.open_for_read(str(wal_dir), newest)
    raw, _, _ = w.read_all(require_snapshot=False)
    return Metadata.decode(raw, str(wal_dir))


def test_the_source_is_left_byte_for_byte_and_the_copy_has_new_ids(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    src = stopped[0]
    before = fingerprint(src)
    dst = tmp_path / "b"
    r = ctl("backup", "--data-dir", str(src), "--backup-dir", str(dst))
    assert (r.rc, r.out, r.err) == (0, "", ""), r
    assert fingerprint(src) == before
    old, new = wal_metadata(src / "wal"), wal_metadata(dst / "wal")
    assert new.from_backup and not old.from_backup
    assert new.member_id not in (0, old.member_id)
    assert new.cluster_id not in (0, old.cluster_id, new.member_id)
    # Only the newest snapshot is copied, byte for byte.
    newest = sorted((src / "snap").glob("*.snap"))[-1]
    (copied,) = sorted((dst / "snap").iterdir())
    assert copied.name == newest.name
    assert copied.read_bytes() == newest.read_bytes()


def test_a_backup_of_a_running_member_under_writes_restores_a_prefix_of_them(
    tmp_path: Path, group: ProcGroup
) -> None:
    m = start_member(group, "live", tmp_path / "live.etcd", "--snapshot-count", "25")
    acked = 0
    stop = threading.Event()
    failures: list[str] = []

    def writer() -> None:
        nonlocal acked
        i = 0
        # Bounded by the stop event and by a cap, whichever comes first.
        while not stop.is_set() and i < 5000:
            r = put(m.client_url, f"/seq/k{i:05d}", str(i))
            if r.status not in (200, 201):
                failures.append(f"{r.status} {r.body!r}")
                return
            i += 1
            acked = i

    t = threading.Thread(target=writer)
    t.start()
    copies: list[tuple[Path, int]] = []
    try:
        for n in range(COPIES):
            # Let a few snapshots happen between copies.
            deadline_ack = acked + 60
            while acked < deadline_ack and t.is_alive():
                stop.wait(0.01)
            floor = acked
            dst = tmp_path / f"copy{n}"
            r = ctl("backup", "--data-dir", str(m.data_dir), "--backup-dir", str(dst))
            assert r.rc == 0, r
            copies.append((dst, floor))
    finally:
        stop.set()
        t.join(timeout=30)
    assert not failures, failures
    assert not list(m.data_dir.rglob("*.broken"))
    for dst, floor in copies:
        restored = start_member(group, "restored", dst, "--force-new-cluster")
        keys = [k for k in dump(restored.client_url) if k.startswith("/seq/")]
        values = {k: v[0] for k, v in dump(restored.client_url).items() if k.startswith("/seq/")}
        # Every write acknowledged before the copy began, then possibly a few more, in
        # order and without a gap: a prefix of the history.
        assert len(keys) >= floor, (len(keys), floor)
        assert keys == [f"/seq/k{i:05d}" for i in range(len(keys))]
        assert all(values[k] == str(int(k[-5:])) for k in keys)
        restored.kill()  # the next copy is restored under the same name and ports


def test_refusals_are_one_sentence_and_touch_nothing(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    src = stopped[0]
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    no_wal = tmp_path / "no-wal"
    no_wal.mkdir()
    cases = [
        ([str(src), str(busy)], "it is not empty and a backup never overwrites anything"),
        ([str(src), str(src / "inside")], "it is inside the data dir being copied"),
        ([str(tmp_path / "missing"), str(tmp_path / "b1")], "there is no such directory"),
        ([str(no_wal), str(tmp_path / "b2")], "holds no WAL, so this is no member's data dir"),
        (["", str(tmp_path / "b3")], "backup needs --data-dir"),
        ([str(src), ""], "backup needs --backup-dir"),
    ]
    for (data_dir, backup_dir), words in cases:
        # In this process (the same entry point, without a Python start-up per case).
        r = run_inprocess(["backup", "--data-dir", data_dir, "--backup-dir", backup_dir])
        assert r.rc == 1 and r.out == "", r
        assert r.err.startswith("Error:  ") and r.err.count("\n") == 1, r
        assert words in r.err and "Traceback" not in r.err, r
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    assert not (src / "inside").exists()
    assert not any((tmp_path / b).exists() for b in ("b1", "b2", "b3"))


def test_progress_lines_for_a_big_copy_only(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    lines: list[str] = []
    result = backup(stopped[0], tmp_path / "big", progress=lines.append, progress_threshold=1)
    assert lines[0].startswith(f"backup: copying {stopped[0]}: a snapshot of ")
    percents = [int(x.split("%")[0].split()[-1]) for x in lines[1:-1]]
    assert percents == sorted(percents) and percents and percents[-1] >= 90, lines
    assert lines[-1].startswith(f"backup: done, {result.entries} entries after the snapshot")
    quiet: list[str] = []
    backup(stopped[0], tmp_path / "small", progress=quiet.append)
    assert quiet == []


@pytest.mark.skipif(
    os.environ.get("ETCDPY_OPS_HEAVY") != "1", reason="set ETCDPY_OPS_HEAVY=1 (writes ~48 MB)"
)
def test_the_command_shows_progress_for_a_large_data_dir(tmp_path: Path, group: ProcGroup) -> None:
    m = start_member(group, "big", tmp_path / "big.etcd", "--snapshot-count", "100")
    value = "x" * 200_000
    for i in range(240):
        assert put(m.client_url, f"/big/k{i}", value).status == 201
    assert m.stop() == 0
    r = ctl("backup", "--data-dir", str(m.data_dir), "--backup-dir", str(tmp_path / "b"))
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert lines[0].startswith("backup: copying ") and lines[-1].startswith("backup: done")
    assert any("%" in line for line in lines[1:-1]), lines
