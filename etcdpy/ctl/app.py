"""The ``etcdpyctl`` command tree and its exit-status handling."""

from __future__ import annotations

import os
import sys

import click

from etcdpy.ctl.clickgo import DURATION, CommandNotFound, GoGroup
from etcdpy.ctl.errors import CtlExit
from etcdpy.ctl.output import write_err
from etcdpy.ctl.session import GlobalOptions

PROG = "etcdpyctl"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from etcdpy.version import __version__

    click.echo(f"{PROG} version: {__version__}\nAPI version: 2")
    ctx.exit(0)


@click.group(
    PROG,
    cls=GoGroup,
    help="A simple command line client for etcd (the v2 API, as etcdctl v2).",
)
@click.option(
    "--debug", is_flag=True, help="output cURL commands which can be used to reproduce the request"
)
@click.option(
    "--no-sync", is_flag=True, help="don't synchronize cluster information before sending request"
)
@click.option(
    "--output",
    "-o",
    default="simple",
    show_default=True,
    help="output response in the given format (simple, extended or json)",
)
@click.option(
    "--discovery-srv",
    "-D",
    default="",
    help="domain name to query for SRV records describing cluster endpoints",
)
@click.option(
    "--insecure-discovery",
    is_flag=True,
    help="accept insecure SRV records describing cluster endpoints",
)
@click.option("--peers", "-C", default="", help='DEPRECATED - "--endpoints" should be used instead')
@click.option("--endpoint", default="", help='DEPRECATED - "--endpoints" should be used instead')
@click.option(
    "--endpoints",
    default="",
    help="a comma-delimited list of machine addresses in the cluster "
    '(default: "http://127.0.0.1:2379,http://127.0.0.1:4001")',
)
@click.option(
    "--cert-file", default="", help="identify HTTPS client using this SSL certificate file"
)
@click.option("--key-file", default="", help="identify HTTPS client using this SSL key file")
@click.option(
    "--ca-file",
    default="",
    help="verify certificates of HTTPS-enabled servers using this CA bundle",
)
@click.option(
    "--username",
    "-u",
    default="",
    help="provide username[:password] and prompt if password is not supplied.",
)
@click.option(
    "--timeout",
    type=DURATION,
    default="2s",
    show_default=True,
    help="connection timeout per request",
)
@click.option(
    "--total-timeout",
    type=DURATION,
    default="5s",
    show_default=True,
    help="timeout for the command execution (except watch)",
)
@click.option(
    "--version",
    "-v",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="print the version",
)
@click.pass_context
def cli(ctx: click.Context, **flags: object) -> None:
    ctx.obj = GlobalOptions(**flags)  # type: ignore[arg-type]


@cli.command(
    "help", cls=click.Command, short_help="Shows a list of commands or help for one command"
)
@click.argument("names", nargs=-1)
@click.pass_context
def help_command(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Show the help of etcdpyctl, of a command, or of a member subcommand."""
    parent = ctx.parent
    assert parent is not None
    command: click.Command = cli
    target_ctx = parent
    for name in names:
        if not isinstance(command, click.Group):
            break
        sub = command.get_command(target_ctx, name)
        if sub is None:
            raise CommandNotFound(name, target_ctx)
        target_ctx = click.Context(sub, info_name=name, parent=target_ctx)
        command = sub
    click.echo(command.get_help(target_ctx))


def _register() -> None:
    from etcdpy.ctl import cmd_backup, cmd_health, cmd_keys, cmd_member, cmd_watch

    for module in (cmd_backup, cmd_health, cmd_keys, cmd_watch, cmd_member):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def run(argv: list[str] | None = None) -> int:
    """Run one command line; returns the exit status instead of raising."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name=PROG, standalone_mode=False)
    except CtlExit as exc:
        if exc.stderr:
            write_err(exc.stderr)
        return exc.code
    except CommandNotFound as exc:
        write_err(exc.message + "\n")
        return 3
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        write_err(f"Incorrect Usage: {exc.message}{hint}\n")
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): end quietly, as a SIGPIPE would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return 0
