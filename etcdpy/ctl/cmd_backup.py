"""``backup``: etcdctl's flags in front of :func:`etcdpy.ctl.backup.backup`."""

from __future__ import annotations

import click

from etcdpy.ctl.clickgo import GoCommand
from etcdpy.ctl.cmd_keys import ARGS
from etcdpy.ctl.errors import CtlExit


@click.command(
    "backup",
    cls=GoCommand,
    short_help="backup an etcd directory",
    help="Copy a member's data directory into a new one that starts with a new member "
    "ID and cluster ID (start it with --force-new-cluster).",
)
@click.option("--data-dir", default="", help="Path to the etcd data dir")
@click.option("--wal-dir", default="", help="Path to the etcd wal dir")
@click.option("--backup-dir", default="", help="Path to the backup dir")
@click.option("--backup-wal-dir", default="", help="Path to the backup wal dir")
@click.option("--with-v3", is_flag=True, help="Backup v3 backend data (ignored: etcdpy has none)")
@ARGS
def backup_command(
    data_dir: str,
    wal_dir: str,
    backup_dir: str,
    backup_wal_dir: str,
    with_v3: bool,
    args: tuple[str, ...],
) -> None:
    from etcdpy.ctl.backup import BackupError, backup

    try:
        backup(
            data_dir,
            backup_dir,
            wal_dir=wal_dir or None,
            backup_wal_dir=backup_wal_dir or None,
        )
    except BackupError as exc:
        raise CtlExit(1, f"Error:  {exc}\n") from None
    except OSError as exc:
        raise CtlExit(
            1, f"Error:  backup failed at {exc.filename or data_dir}: {exc.strerror}.\n"
        ) from None
