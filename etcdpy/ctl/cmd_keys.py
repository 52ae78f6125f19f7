"""The key commands: set get mk mkdir setdir update updatedir rm rmdir ls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from etcdpy.ctl.clickgo import GoCommand
from etcdpy.ctl.errors import (
    EXIT_BAD_ARGS,
    EXIT_SERVER_ERROR,
    ClientError,
    CtlExit,
    handle_error,
)
from etcdpy.ctl.keys import KeysAPI, PrevExist
from etcdpy.ctl.output import format_ls, print_response, write_out
from etcdpy.ctl.response import Response
from etcdpy.ctl.session import GlobalOptions, new_client

ARGS = click.argument("args", nargs=-1, type=click.UNPROCESSED)


def keys_api(ctx: click.Context) -> tuple[KeysAPI, GlobalOptions]:
    # etcdctl builds (and syncs) the client before it looks at the arguments.
    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions()
    return KeysAPI(new_client(opts)), opts


def need_key(args: tuple[str, ...]) -> str:
    if not args:
        raise handle_error(ClientError("key required"), EXIT_BAD_ARGS)
    return args[0]


def arg_or_stdin(args: tuple[str, ...], i: int) -> str:
    """argOrStdin: the i-th argument, or all of stdin when it is missing."""
    if i < len(args):
        return args[i]
    try:
        data = sys.stdin.buffer.read()
    except (OSError, ValueError):
        data = b""
    if not data:
        raise handle_error(ClientError("value required"), EXIT_BAD_ARGS)
    return data.decode("utf-8", "surrogateescape")


def call(fn: Callable[..., Response], *args: Any, **kwargs: Any) -> Response:
    """Run one keys API call; a failure ends the command like etcdctl's handleError."""
    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        raise handle_error(exc, EXIT_SERVER_ERROR) from None


def ttl_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--ttl", type=int, default=0, show_default=True, help="key time-to-live in seconds"
    )


@click.command(
    "set",
    cls=GoCommand,
    arguments_usage="<key> <value>",
    short_help="set the value of a key",
    help="Set sets the value of a key.\n\nWhen <value> begins with '-', insert '--' first:"
    " set -- <key> <value>.",
)
@ttl_option()
@click.option("--swap-with-value", default="", help="previous value")
@click.option("--swap-with-index", type=int, default=0, show_default=True, help="previous index")
@ARGS
@click.pass_context
def set_command(
    ctx: click.Context, ttl: int, swap_with_value: str, swap_with_index: int, args: tuple[str, ...]
) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    value = arg_or_stdin(args, 1)
    resp = call(
        api.set,
        key,
        value,
        opts.deadline(),
        ttl=ttl,
        prev_value=swap_with_value,
        prev_index=swap_with_index,
    )
    print_response(resp, opts.output)


def _write_value(
    ctx: click.Context, args: tuple[str, ...], ttl: int, prev_exist: PrevExist
) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    value = arg_or_stdin(args, 1)
    resp = call(api.set, key, value, opts.deadline(), ttl=ttl, prev_exist=prev_exist)
    print_response(resp, opts.output)


@click.command(
    "mk",
    cls=GoCommand,
    arguments_usage="<key> <value>",
    short_help="make a new key with a given value",
    help="Make a new key with a given value; fails if the key exists.",
)
@click.option("--in-order", is_flag=True, help="create in-order key under directory <key>")
@ttl_option()
@ARGS
@click.pass_context
def mk_command(ctx: click.Context, in_order: bool, ttl: int, args: tuple[str, ...]) -> None:
    if not in_order:
        _write_value(ctx, args, ttl, "false")
        return
    api, opts = keys_api(ctx)
    key = need_key(args)
    value = arg_or_stdin(args, 1)
    print_response(call(api.create_in_order, key, value, opts.deadline(), ttl), opts.output)


@click.command(
    "update",
    cls=GoCommand,
    arguments_usage="<key> <value>",
    short_help="update an existing key with a given value",
    help="Update an existing key with a given value; fails if the key does not exist.",
)
@ttl_option()
@ARGS
@click.pass_context
def update_command(ctx: click.Context, ttl: int, args: tuple[str, ...]) -> None:
    _write_value(ctx, args, ttl, "true")


def _write_dir(ctx: click.Context, args: tuple[str, ...], ttl: int, prev_exist: PrevExist) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    resp = call(api.set, key, "", opts.deadline(), ttl=ttl, dir=True, prev_exist=prev_exist)
    if opts.output != "simple":
        print_response(resp, opts.output)


@click.command(
    "mkdir",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="make a new directory",
    help="Make a new directory; fails if the key exists.",
)
@ttl_option()
@ARGS
@click.pass_context
def mkdir_command(ctx: click.Context, ttl: int, args: tuple[str, ...]) -> None:
    _write_dir(ctx, args, ttl, "false")


@click.command(
    "setdir",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="create a new directory or update an existing directory TTL",
    help="Create a new directory or update an existing directory TTL.",
)
@ttl_option()
@ARGS
@click.pass_context
def setdir_command(ctx: click.Context, ttl: int, args: tuple[str, ...]) -> None:
    _write_dir(ctx, args, ttl, "")


@click.command(
    "updatedir",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="update an existing directory",
    help="Update an existing directory (its TTL); fails if it does not exist.",
)
@ttl_option()
@ARGS
@click.pass_context
def updatedir_command(ctx: click.Context, ttl: int, args: tuple[str, ...]) -> None:
    _write_dir(ctx, args, ttl, "true")


@click.command(
    "get",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="retrieve the value of a key",
    help="Retrieve the value of a key.",
)
@click.option("--sort", is_flag=True, help="returns result in sorted order")
@click.option("--quorum", "-q", is_flag=True, help="require quorum for get request")
@ARGS
@click.pass_context
def get_command(ctx: click.Context, sort: bool, quorum: bool, args: tuple[str, ...]) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    resp = call(api.get, key, opts.deadline(), sort=sort, quorum=quorum)
    if resp.node.dir:
        raise CtlExit(EXIT_BAD_ARGS, f"{resp.node.key}: is a directory\n")
    print_response(resp, opts.output)


@click.command(
    "ls",
    cls=GoCommand,
    arguments_usage="[key]",
    short_help="retrieve a directory",
    help="List a directory (the root when no key is given).",
)
@click.option("--sort", is_flag=True, help="returns result in sorted order")
@click.option(
    "--recursive", "-r", is_flag=True, help="returns all key names recursively for the given path"
)
@click.option("-p", "slash", is_flag=True, help="append slash (/) to directories")
@click.option("--quorum", "-q", is_flag=True, help="require quorum for get request")
@ARGS
@click.pass_context
def ls_command(
    ctx: click.Context,
    sort: bool,
    recursive: bool,
    slash: bool,
    quorum: bool,
    args: tuple[str, ...],
) -> None:
    api, opts = keys_api(ctx)
    key = args[0] if args else "/"
    resp = call(api.get, key, opts.deadline(), recursive=recursive, sort=sort, quorum=quorum)
    if opts.output == "simple":
        write_out(format_ls(resp, slash))
    else:
        print_response(resp, opts.output)


def _print_delete(resp: Response, output: str) -> None:
    # A deleted directory prints nothing in simple mode.
    if not resp.node.dir or output != "simple":
        print_response(resp, output)


@click.command(
    "rm",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="remove a key or a directory",
    help="Remove a key, or a directory with --dir (empty) or --recursive.",
)
@click.option(
    "--dir",
    "dir_",
    is_flag=True,
    help="removes the key if it is an empty directory or a key-value pair",
)
@click.option(
    "--recursive",
    "-r",
    is_flag=True,
    help="removes the key and all child keys(if it is a directory)",
)
@click.option("--with-value", default="", help="previous value")
@click.option("--with-index", type=int, default=0, show_default=True, help="previous index")
@ARGS
@click.pass_context
def rm_command(
    ctx: click.Context,
    dir_: bool,
    recursive: bool,
    with_value: str,
    with_index: int,
    args: tuple[str, ...],
) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    resp = call(
        api.delete,
        key,
        opts.deadline(),
        prev_value=with_value,
        prev_index=with_index,
        dir=dir_,
        recursive=recursive,
    )
    _print_delete(resp, opts.output)


@click.command(
    "rmdir",
    cls=GoCommand,
    arguments_usage="<key>",
    short_help="removes the key if it is an empty directory or a key-value pair",
    help="Remove the key if it is an empty directory or a key-value pair.",
)
@ARGS
@click.pass_context
def rmdir_command(ctx: click.Context, args: tuple[str, ...]) -> None:
    api, opts = keys_api(ctx)
    key = need_key(args)
    _print_delete(call(api.delete, key, opts.deadline(), dir=True), opts.output)
