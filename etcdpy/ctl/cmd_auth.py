"""user, role and auth subcommands, worded like etcdctl's v2 user/role/auth_commands.go.

Every failure prints the error's text alone on stderr and exits 1, as etcdctl does for
these commands (no ``Error:`` prefix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from etcdpy.ctl.auth import READ, READ_WRITE, WRITE, AuthAPI
from etcdpy.ctl.clickgo import GoCommand, GoGroup
from etcdpy.ctl.client import canonical_url_path
from etcdpy.ctl.cmd_keys import ARGS
from etcdpy.ctl.errors import ClientError, CtlExit
from etcdpy.ctl.output import write_out
from etcdpy.ctl.session import GlobalOptions, ask_password, new_client

F = TypeVar("F", bound=Callable[..., Any])


def fail(text: str) -> CtlExit:
    return CtlExit(1, text if text.endswith("\n") else text + "\n")


def auth_api(ctx: click.Context) -> tuple[AuthAPI, GlobalOptions]:
    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions()
    return AuthAPI(new_client(opts)), opts


def _one_name(args: tuple[str, ...], what: str) -> str:
    if len(args) != 1:
        raise fail(f"Please provide a {what}")
    return args[0]


def _no_args(args: tuple[str, ...]) -> None:
    if args:
        raise fail("No arguments accepted")


# --- auth ----------------------------------------------------------------------------------


@click.group("auth", cls=GoGroup, short_help="overall auth controls")
def auth_group() -> None:
    """Enable or disable v2 authentication."""


def _enable_disable(ctx: click.Context, args: tuple[str, ...], enable: bool) -> None:
    _no_args(args)
    api, opts = auth_api(ctx)
    try:
        if enable:
            api.enable(opts.deadline())
        else:
            api.disable(opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out("Authentication Enabled\n" if enable else "Authentication Disabled\n")


@auth_group.command(
    "enable", cls=GoCommand, arguments_usage=" ", short_help="enable auth access controls"
)
@ARGS
@click.pass_context
def auth_enable(ctx: click.Context, args: tuple[str, ...]) -> None:
    _enable_disable(ctx, args, True)


@auth_group.command(
    "disable", cls=GoCommand, arguments_usage=" ", short_help="disable auth access controls"
)
@ARGS
@click.pass_context
def auth_disable(ctx: click.Context, args: tuple[str, ...]) -> None:
    _enable_disable(ctx, args, False)


# --- user ----------------------------------------------------------------------------------


@click.group("user", cls=GoGroup, short_help="user add, grant and revoke subcommands")
def user_group() -> None:
    """Manage v2 auth users."""


ROLES = click.option("--roles", multiple=True, help="List of roles to grant or revoke")


@user_group.command(
    "add", cls=GoCommand, arguments_usage="<user>", short_help="add a new user for the etcd cluster"
)
@ARGS
@click.pass_context
def user_add(ctx: click.Context, args: tuple[str, ...]) -> None:
    spec = _one_name(args, "username")
    api, opts = auth_api(ctx)
    user, colon, password = spec.partition(":")
    if not colon:
        try:
            password = ask_password("New password: ")
        except ClientError as exc:
            raise fail(f"Error reading password: {exc}") from None
    try:
        api.add_user(user, password, opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out(f"User {user} created\n")


@user_group.command(
    "get", cls=GoCommand, arguments_usage="<user>", short_help="get details for a user"
)
@ARGS
@click.pass_context
def user_get(ctx: click.Context, args: tuple[str, ...]) -> None:
    name = _one_name(args, "username")
    api, opts = auth_api(ctx)
    try:
        user = api.get_user(name, opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out(f"User: {user.user}\nRoles: {' '.join(user.roles)}\n")


@user_group.command(
    "list", cls=GoCommand, arguments_usage="<user>", short_help="list all current users"
)
@ARGS
@click.pass_context
def user_list(ctx: click.Context, args: tuple[str, ...]) -> None:
    _no_args(args)
    api, opts = auth_api(ctx)
    try:
        users = api.list_users(opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out("".join(f"{u}\n" for u in users))


@user_group.command(
    "remove",
    cls=GoCommand,
    arguments_usage="<user>",
    short_help="remove a user for the etcd cluster",
)
@ARGS
@click.pass_context
def user_remove(ctx: click.Context, args: tuple[str, ...]) -> None:
    name = _one_name(args, "username")
    api, opts = auth_api(ctx)
    try:
        api.remove_user(name, opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out(f"User {name} removed\n")


def _user_grant_revoke(
    ctx: click.Context, args: tuple[str, ...], roles: tuple[str, ...], grant: bool
) -> None:
    if not roles:
        raise fail("No roles specified; please use `--roles`")
    name = _one_name(args, "username")
    api, opts = auth_api(ctx)
    try:
        if grant:
            api.grant_user(name, list(roles), opts.deadline())
        else:
            api.revoke_user(name, list(roles), opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out(f"User {name} updated\n")


@user_group.command(
    "grant", cls=GoCommand, arguments_usage="<user>", short_help="grant roles to an etcd user"
)
@ROLES
@ARGS
@click.pass_context
def user_grant(ctx: click.Context, roles: tuple[str, ...], args: tuple[str, ...]) -> None:
    _user_grant_revoke(ctx, args, roles, True)


@user_group.command(
    "revoke", cls=GoCommand, arguments_usage="<user>", short_help="revoke roles for an etcd user"
)
@ROLES
@ARGS
@click.pass_context
def user_revoke(ctx: click.Context, roles: tuple[str, ...], args: tuple[str, ...]) -> None:
    _user_grant_revoke(ctx, args, roles, False)


@user_group.command(
    "passwd", cls=GoCommand, arguments_usage="<user>", short_help="change password for a user"
)
@ARGS
@click.pass_context
def user_passwd(ctx: click.Context, args: tuple[str, ...]) -> None:
    name = _one_name(args, "username")
    api, opts = auth_api(ctx)
    try:
        password = ask_password("New password: ")
    except ClientError as exc:
        raise fail(f"Error reading password: {exc}") from None
    try:
        api.change_password(name, password, opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out("Password updated\n")


# --- role ----------------------------------------------------------------------------------


@click.group("role", cls=GoGroup, short_help="role add, grant and revoke subcommands")
def role_group() -> None:
    """Manage v2 auth roles."""


@role_group.command(
    "add",
    cls=GoCommand,
    arguments_usage="<role> ",
    short_help="add a new role for the etcd cluster",
)
@ARGS
@click.pass_context
def role_add(ctx: click.Context, args: tuple[str, ...]) -> None:
    name = _one_name(args, "role name")
    api, opts = auth_api(ctx)
    deadline = opts.deadline()
    try:
        api.get_role(name, deadline)
    except ClientError:
        pass
    else:
        raise fail(f"Role {name} already exists")
    try:
        api.add_role(name, deadline)
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out(f"Role {name} created\n")


@role_group.command(
    "get", cls=GoCommand, arguments_usage="<role>", short_help="get details for a role"
)
@ARGS
@click.pass_context
def role_get(ctx: click.Context, args: tuple[str, ...]) -> None:
    name = _one_name(args, "role name")
    api, opts = auth_api(ctx)
    try:
        role = api.get_role(name, opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    lines = [f"Role: {role.role}\n", "KV Read:\n"]
    lines += [f"\t{p}\n" for p in role.read or ()]
    lines.append("KV Write:\n")
    lines += [f"\t{p}\n" for p in role.write or ()]
    write_out("".join(lines))


@role_group.command("list", cls=GoCommand, arguments_usage=" ", short_help="list all roles")
@ARGS
@click.pass_context
def role_list(ctx: click.Context, args: tuple[str, ...]) -> None:
    _no_args(args)
    api, opts = auth_api(ctx)
    try:
        roles = api.list_roles(opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out("".join(f"{r}\n" for r in roles))


@role_group.command(
    "remove",
    cls=GoCommand,
    arguments_usage="<role>",
    short_help="remove a role from the etcd cluster",
)
@ARGS
@click.pass_context
def role_remove(ctx: click.Context, args: tuple[str, ...]) -> None:
    name = _one_name(args, "role name")
    api, opts = auth_api(ctx)
    try:
        api.remove_role(name, opts.deadline())
    except ClientError as exc:
        raise fail(str(exc)) from None
    write_out(f"Role {name} removed\n")


def _perm_options(verb: str, read: str, write: str, rw: str) -> Callable[[F], F]:
    """--path and exactly one of --read/--write/--readwrite (etcdctl's role flags)."""

    def decorate(f: F) -> F:
        f = click.option("--readwrite", "--rw", is_flag=True, help=rw)(f)
        f = click.option("--write", is_flag=True, help=write)(f)
        f = click.option("--read", is_flag=True, help=read)(f)
        return click.option("--path", default="", help=f"Path {verb} for the role to access")(f)

    return decorate


GRANT_FLAGS = _perm_options(
    "granted", "Grant read-only access", "Grant write-only access", "Grant read-write access"
)
REVOKE_FLAGS = _perm_options(
    "revoked", "Revoke read access", "Revoke write access", "Revoke read-write access"
)


def _role_grant_revoke(
    ctx: click.Context,
    args: tuple[str, ...],
    path: str,
    flags: tuple[bool, bool, bool],
    grant: bool,
) -> None:
    if not path:
        raise fail("No path specified; please use `--path`")
    canonical = canonical_url_path(path)
    if canonical != path:
        raise fail(f"Not canonical path; please use `--path={canonical}`")
    if sum(flags) != 1:
        raise fail("Please specify exactly one of --read, --write or --readwrite")
    kind = READ if flags[0] else WRITE if flags[1] else READ_WRITE
    name = _one_name(args, "role name")
    api, opts = auth_api(ctx)
    deadline = opts.deadline()
    try:
        current = api.get_role(name, deadline)
        new = api.change_role(name, [path], kind, grant, deadline)
    except ClientError as exc:
        raise fail(str(exc)) from None
    if new.same_as(current):
        write_out("Role unchanged; already granted" if grant else "Role unchanged; already revoked")
    write_out(f"Role {name} updated\n")


@role_group.command(
    "grant",
    cls=GoCommand,
    arguments_usage="<role>",
    short_help="grant path matches to an etcd role",
)
@GRANT_FLAGS
@ARGS
@click.pass_context
def role_grant(
    ctx: click.Context, args: tuple[str, ...], path: str, read: bool, write: bool, readwrite: bool
) -> None:
    _role_grant_revoke(ctx, args, path, (read, write, readwrite), True)


@role_group.command(
    "revoke",
    cls=GoCommand,
    arguments_usage="<role>",
    short_help="revoke path matches for an etcd role",
)
@REVOKE_FLAGS
@ARGS
@click.pass_context
def role_revoke(
    ctx: click.Context, args: tuple[str, ...], path: str, read: bool, write: bool, readwrite: bool
) -> None:
    _role_grant_revoke(ctx, args, path, (read, write, readwrite), False)
