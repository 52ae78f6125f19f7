"""``backup`` refuses what it cannot copy with one sentence (the copy itself: tests/ops)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdpy.ctl.backup import BackupError, backup
from tests.ctl.ctl_harness import OURS, run


def test_backup_function_refuses_with_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(BackupError) as info:
        backup(tmp_path / "member", tmp_path / "copy")
    message = str(info.value)
    assert str(tmp_path / "member") in message
    assert message.endswith(".") and "\n" not in message
    with pytest.raises(BackupError, match="--data-dir"):
        backup("", tmp_path / "copy")


def test_backup_command_exits_1_without_a_traceback(tmp_path: Path) -> None:
    args = ["backup", "--data-dir", str(tmp_path / "d"), "--backup-dir", str(tmp_path / "b")]
    r = run(OURS, args, subprocess_only=True)
    assert r.rc == 1
    assert r.out == ""
    assert r.err.startswith("Error:  cannot back up ")
    assert r.err.count("\n") == 1
    assert "Traceback" not in r.err
