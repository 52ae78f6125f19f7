"""The ``etcdpyctl`` command tree and its exit-status handling."""

from __future__ import annotations

import os
import sys

import click

from etcdpy.ctl.clickgo import DURATION, CommandNotFound, GoGroup
from etcdpy.ctl.errors import CtlExit
from etcdpy.ctl.output import write_err
from etcdpy.ctl.session import GlobalOptions, close_clients

PROG = "etcdpyctl"
# click >= 8.2 raises this for a group called without a subcommand (8.1 just exits 0).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", None)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from etcdpy.version import __version__

    click.echo(f"{PROG} version: {__version__}\nAPI version: 2")
    ctx.exit(0)


class RootGroup(GoGroup):
    """The top level: commands in etcdctl's order, each module imported when needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*_LAZY_COMMANDS, *self.commands]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = _LAZY_COMMANDS.get(cmd_name)
        if spec is None:
            return None
        import importlib

        module = importlib.import_module(f"etcdpy.ctl.{spec[0]}")
        command: click.Command = getattr(module, spec[1])
        return command


@click.group(
    PROG,
    cls=RootGroup,
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


# Command name -> module defining it; modules load on first use to keep start-up fast.
_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "backup": ("cmd_backup", "backup_command"),
    "cluster-health": ("cmd_health", "cluster_health_command"),
    "mk": ("cmd_keys", "mk_command"),
    "mkdir": ("cmd_keys", "mkdir_command"),
    "rm": ("cmd_keys", "rm_command"),
    "rmdir": ("cmd_keys", "rmdir_command"),
    "get": ("cmd_keys", "get_command"),
    "ls": ("cmd_keys", "ls_command"),
    "set": ("cmd_keys", "set_command"),
    "setdir": ("cmd_keys", "setdir_command"),
    "update": ("cmd_keys", "update_command"),
    "updatedir": ("cmd_keys", "updatedir_command"),
    "watch": ("cmd_watch", "watch_command"),
    "exec-watch": ("cmd_watch", "exec_watch_command"),
    "member": ("cmd_member", "member_group"),
    "user": ("cmd_auth", "user_group"),
    "role": ("cmd_auth", "role_group"),
    "auth": ("cmd_auth", "auth_group"),
}


def run(argv: list[str] | None = None) -> int:
    """Run one command line; returns the exit status instead of raising."""
    args = sys.argv[1:] if argv is None else argv
    try:
        return _run(args)
    finally:
        close_clients()


def _run(args: list[str]) -> int:
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
        if _NO_ARGS_IS_HELP is not None and isinstance(exc, _NO_ARGS_IS_HELP):
            # A group without its subcommand shows its help, successfully, as etcdctl does.
            click.echo(exc.message)
            return 0
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
