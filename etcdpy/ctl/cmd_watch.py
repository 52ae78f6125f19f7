"""watch and exec-watch: long-poll a key and print, or run a command, per event.

Both run until interrupted; Ctrl-C ends them with status 0, as in etcdctl.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from etcdpy.ctl.clickgo import GoCommand
from etcdpy.ctl.cmd_keys import ARGS, keys_api, need_key
from etcdpy.ctl.errors import EXIT_BAD_ARGS, EXIT_SERVER_ERROR, ClientError, CtlExit, handle_error
from etcdpy.ctl.output import print_response, write_err, write_out
from etcdpy.ctl.response import Response

if TYPE_CHECKING:
    import subprocess


@click.command(
    "watch",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="watch a key for changes",
    help="Watch a key for changes and print the first one (every one with --forever).",
)
@click.option("--forever", "-f", is_flag=True, help="forever watch a key until CTRL+C")
@click.option(
    "--after-index", type=int, default=0, show_default=True, help="watch after the given index"
)
@click.option("--recursive", "-r", is_flag=True, help="returns all values for key and child keys")
@ARGS
@click.pass_context
def watch_command(
    ctx: click.Context, forever: bool, after_index: int, recursive: bool, args: tuple[str, ...]
) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    try:
        events = api.watch(key, after_index=after_index, recursive=recursive)
        while True:
            try:
                resp = next(events)
            except ClientError as exc:
                raise handle_error(exc, EXIT_SERVER_ERROR) from None
            if resp.node.dir:
                continue
            if recursive:
                write_out(f"[{resp.action}] {resp.node.key}\n")
            print_response(resp, opts.output)
            if not forever:
                return
    except KeyboardInterrupt:
        raise CtlExit(0) from None


def split_exec_args(args: tuple[str, ...]) -> tuple[str, list[str]]:
    """etcdctl's key/command split: ``<key> -- <cmd...>`` when a ``--`` survived
    argument parsing, otherwise the key is the *last* argument."""
    if "--" in args[1:]:
        return args[0], list(args[2:])
    return args[-1], list(args[:-1])


def environ_for(resp: Response) -> dict[str, str]:
    env = dict(os.environ)
    env["ETCD_WATCH_ACTION"] = resp.action
    env["ETCD_WATCH_MODIFIED_INDEX"] = str(resp.node.modified_index)
    env["ETCD_WATCH_KEY"] = resp.node.key
    env["ETCD_WATCH_VALUE"] = resp.node.value
    return env


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``command`` without waiting for it; a failure to start ends exec-watch."""
    import shutil
    import subprocess

    program = command[0]
    if "/" not in program and shutil.which(program, path=env.get("PATH")) is None:
        raise CtlExit(1, f'exec: "{program}": executable file not found in $PATH')
    try:
        return subprocess.Popen(command, env=env)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CtlExit(1, f"fork/exec {program}: {reason}") from None


@click.command(
    "exec-watch",
    cls=GoCommand,
    arguments_usage="<key> <command> [args...]",
    short_help="watch a key for changes and exec an executable",
    help="Watch a key and run <command> on every change, with ETCD_WATCH_ACTION, "
    "ETCD_WATCH_KEY, ETCD_WATCH_VALUE and ETCD_WATCH_MODIFIED_INDEX in its environment.",
)
@click.option(
    "--after-index", type=int, default=0, show_default=True, help="watch after the given index"
)
@click.option("--recursive", "-r", is_flag=True, help="watch all values for key and child keys")
@ARGS
@click.pass_context
def exec_watch_command(
    ctx: click.Context, after_index: int, recursive: bool, args: tuple[str, ...]
) -> None:
    api, _ = keys_api(ctx)
    if len(args) < 2:
        raise handle_error(ClientError("key and command to exec required"), EXIT_BAD_ARGS)
    key, command = split_exec_args(args)
    running: list[subprocess.Popen[bytes]] = []
    try:
        events = api.watch(key, after_index=after_index, recursive=recursive)
        while True:
            try:
                resp = next(events)
            except ClientError as exc:
                raise handle_error(exc, EXIT_SERVER_ERROR) from None
            # Reap the commands that finished meanwhile; the others keep running.
            running = [proc for proc in running if proc.poll() is None]
            if resp.node.dir:
                write_err(f"Ignored dir {resp.node.key} change\n")
                continue
            running.append(start(command, environ_for(resp)))
    except KeyboardInterrupt:
        raise CtlExit(0) from None
