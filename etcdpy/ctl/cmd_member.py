"""member list / add / remove / update, worded like etcdctl's member_commands.go."""

from __future__ import annotations

import click

from etcdpy.ctl.clickgo import GoCommand, GoGroup
from etcdpy.ctl.cmd_keys import ARGS
from etcdpy.ctl.errors import ClientError, CtlExit
from etcdpy.ctl.members import MembersAPI
from etcdpy.ctl.output import write_err, write_out
from etcdpy.ctl.response import go_quote
from etcdpy.ctl.session import GlobalOptions, new_client

REMOVE_DOC = (
    "https://github.com/etcd-io/etcd/blob/master/Documentation/"
    "runtime-configuration.md#remove-a-member"
)


def members_api(ctx: click.Context) -> tuple[MembersAPI, GlobalOptions]:
    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions()
    return MembersAPI(new_client(opts)), opts


def fail(text: str) -> CtlExit:
    return CtlExit(1, text)


@click.group("member", cls=GoGroup, short_help="member add, remove and list subcommands")
def member_group() -> None:
    """Member add, remove, list and update subcommands."""


@member_group.command(
    "list", cls=GoCommand, short_help="enumerate existing cluster members", help="List members."
)
@ARGS
@click.pass_context
def member_list(ctx: click.Context, args: tuple[str, ...]) -> None:
    if args:
        raise fail("No arguments accepted\n")
    api, opts = members_api(ctx)
    deadline = opts.deadline()
    try:
        members = api.list(deadline)
    except ClientError as exc:
        raise fail(f"{exc}\n") from None
    try:
        leader = api.leader(deadline)
    except ClientError as exc:
        raise fail(f"Failed to get leader:  {exc}\n") from None
    lines = []
    for m in members:
        if not m.name:
            lines.append(f"{m.id}[unstarted]: peerURLs={','.join(m.peer_urls)}\n")
        else:
            lines.append(
                f"{m.id}: name={m.name} peerURLs={','.join(m.peer_urls)} "
                f"clientURLs={','.join(m.client_urls)} "
                f"isLeader={'true' if m.id == leader.id else 'false'}\n"
            )
    write_out("".join(lines))


@member_group.command(
    "add",
    cls=GoCommand,
    arguments_usage="<name> <peerURL>",
    short_help="add a new member to the etcd cluster",
    help="Add a new member and print the environment it must be started with.",
)
@ARGS
@click.pass_context
def member_add(ctx: click.Context, args: tuple[str, ...]) -> None:
    if len(args) != 2:
        raise fail("Provide a name and a single member peerURL\n")
    api, opts = members_api(ctx)
    new_name, url = args
    deadline = opts.deadline()
    try:
        added = api.add(url, deadline)
    except ClientError as exc:
        raise fail(f"{exc}\n") from None
    write_out(f"Added member named {new_name} with ID {added.id} to cluster\n")
    try:
        members = api.list(deadline)
    except ClientError as exc:
        raise fail(f"{exc}\n") from None
    conf = [
        f"{new_name if m.id == added.id else m.name}={peer}"
        for m in members
        for peer in m.peer_urls
    ]
    write_out(
        "\n"
        f"ETCD_NAME={go_quote(new_name)}\n"
        f"ETCD_INITIAL_CLUSTER={go_quote(','.join(conf))}\n"
        'ETCD_INITIAL_CLUSTER_STATE="existing"\n'
    )


@member_group.command(
    "remove",
    cls=GoCommand,
    arguments_usage="<memberID>",
    short_help="remove an existing member from the etcd cluster",
    help="Remove a member, given by its hexadecimal ID.",
)
@ARGS
@click.pass_context
def member_remove(ctx: click.Context, args: tuple[str, ...]) -> None:
    if len(args) != 1:
        raise fail("Provide a single member ID\n")
    (removal_id,) = args
    api, opts = members_api(ctx)
    deadline = opts.deadline()
    try:
        members = api.list(deadline)
    except ClientError as exc:
        raise fail(f"Error while verifying ID against known members: {exc}\n") from None
    found = False
    for m in members:
        if m.id == removal_id:
            found = True
        if m.name == removal_id:
            write_err(
                f"Found a member named {m.name}; if this is correct, please use its ID, eg:\n"
                f"\tetcdctl member remove {m.id}\n"
                f"For more details, read the documentation at {REMOVE_DOC}\n\n"
            )
    if not found:
        raise fail(f"Couldn't find a member in the cluster with an ID of {removal_id}.\n")
    try:
        api.remove(removal_id, deadline)
    except ClientError as exc:
        raise fail(f"Received an error trying to remove member {removal_id}: {exc}") from None
    write_out(f"Removed member {removal_id} from cluster\n")


@member_group.command(
    "update",
    cls=GoCommand,
    arguments_usage="<memberID> <peerURLs>",
    short_help="update an existing member in the etcd cluster",
    help="Replace a member's peer URLs (comma separated).",
)
@ARGS
@click.pass_context
def member_update(ctx: click.Context, args: tuple[str, ...]) -> None:
    if len(args) != 2:
        raise fail(
            "Provide an ID and a list of comma separated peerURL "
            "(0xabcd http://example.com,http://example1.com)\n"
        )
    api, opts = members_api(ctx)
    member_id, urls = args
    try:
        api.update(member_id, urls.split(","), opts.deadline())
    except ClientError as exc:
        raise fail(f"{exc}\n") from None
    write_out(f"Updated member with ID {member_id} in cluster\n")
