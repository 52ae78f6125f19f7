"""Data dirs that do not verify, or that are not this member's to start as they are: each
ends the start with status 1 and one sentence naming the fix, never a traceback; damage
etcd recovers from (an older snapshot and the WAL after it) is recovered from."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.ops.kit import ctl, dump, refused_start, start_member
from tests.procs import ProcGroup


def copy_of(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.etcd"
    shutil.copytree(src, dst)
    return dst


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def wal_segment(data_dir: Path) -> Path:
    return sorted((data_dir / "wal").glob("*.wal"))[0]


def newest_snap(data_dir: Path) -> Path:
    return sorted((data_dir / "snap").glob("*.snap"))[-1]


def test_a_flipped_byte_in_the_wal_is_refused_naming_the_file_and_the_fix(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path, group: ProcGroup
) -> None:
    d = copy_of(stopped[0], tmp_path)
    seg = wal_segment(d)
    flip(seg, 300)
    line = refused_start(start_member(group, "solo", d, ready=False))
    assert str(seg) in line and "damaged" in line, line
    assert "remove this member from the cluster and re-add it with an empty data dir" in line


def test_a_damaged_snapshot_is_set_aside_and_the_older_one_plus_the_wal_restore_all(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path, group: ProcGroup
) -> None:
    d = copy_of(stopped[0], tmp_path)
    snap = newest_snap(d)
    flip(snap, 40)
    m = start_member(group, "solo", d)
    assert dump(m.client_url) == stopped[1]
    assert Path(str(snap) + ".broken").exists() and not snap.exists()
    assert any("is damaged" in line for line in m.log_text().splitlines())


def test_a_backup_whose_snapshot_is_damaged_cannot_be_restored(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path, group: ProcGroup
) -> None:
    b = tmp_path / "backup"
    assert ctl("backup", "--data-dir", str(stopped[0]), "--backup-dir", str(b)).rc == 0
    flip(newest_snap(b), 40)
    line = refused_start(start_member(group, "solo", b, "--force-new-cluster", ready=False))
    assert "no snapshot file" in line and "cannot be restored" in line, line
    assert "restore another backup" in line, line


def test_a_backup_started_without_force_new_cluster_is_refused(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path, group: ProcGroup
) -> None:
    b = tmp_path / "backup"
    assert ctl("backup", "--data-dir", str(stopped[0]), "--backup-dir", str(b)).rc == 0
    line = refused_start(start_member(group, "solo", b, ready=False))
    assert f"the data dir {b} is a backup made by etcdpyctl backup" in line, line
    assert "start it once with --force-new-cluster" in line, line
    # (Started with the flag it restores: test_restore.py, test_backup.py.)


def test_another_members_data_dir_is_refused_naming_its_owner(
    stopped: tuple[Path, dict[str, Any]], tmp_path: Path, group: ProcGroup
) -> None:
    d = copy_of(stopped[0], tmp_path)
    initial = "solo=http://127.0.0.1:1,other=http://127.0.0.1:2"
    line = refused_start(start_member(group, "other", d, initial_cluster=initial, ready=False))
    assert f"the data dir {d} belongs to member solo" in line, line
    assert "start other with its own --data-dir, or start this data dir with --name solo" in line
