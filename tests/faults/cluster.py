"""Members started through tests/procs.py with their peer traffic behind a FaultNet.

    with FaultNet() as net, proc_group(tmp_path) as group:
        members = start_proxied_cluster(group, net, 3)           # n1..n3, all answering
        net.isolate("n1")
        ...
        kill_hard(members[0].popen)
        members[0] = restart_member(group, net, members[0])      # same ports, new PID

Each member listens for peers on its own port and advertises the proxy named after it;
`--initial-cluster` lists the proxies.  Member names double as sender and proxy names.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.faults.proxy import FaultNet
from tests.procs import Proc, ProcGroup, free_port, member_args, wait_ready

_ADVERTISE = "--initial-advertise-peer-urls"


def start_proxied_cluster(
    group: ProcGroup,
    net: FaultNet,
    size: int,
    kind: str = "etcdpy",
    token: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[Proc]:
    """Bootstrap members n1..n<size> whose peers reach each other only through `net`."""
    names = [f"n{i + 1}" for i in range(size)]
    ports = {name: (free_port(), free_port()) for name in names}  # (client, peer)
    for name in names:
        net.proxy(("127.0.0.1", ports[name][1]), name)
    initial = ",".join(f"{name}={net[name].url}" for name in names)
    members = []
    for name in names:
        client_port, peer_port = ports[name]
        data_dir = group.base_dir / f"{kind}-{name}.etcd"
        args = member_args(name, client_port, peer_port, data_dir, initial, token)
        args[args.index(_ADVERTISE) + 1] = net[name].url
        member = group.start(
            kind,
            name,
            args,
            client_port=client_port,
            peer_port=peer_port,
            data_dir=data_dir,
            ready=False,
            extra_args=extra_args,
        )
        net.register(name, pid=member.pid)  # before it dials anyone
        members.append(member)
    for member in members:
        wait_ready(member)
    return members


def restart_member(group: ProcGroup, net: FaultNet, member: Proc, ready: bool = True) -> Proc:
    """Start a stopped member again with its flags, ports and data dir; re-register it."""
    if member.alive():
        raise RuntimeError(
            f"member {member.name} (pid {member.pid}) is still running; stop or kill it first"
        )
    again = group.start(
        member.kind,
        member.name,
        member.args,
        client_port=member.client_port,
        peer_port=member.peer_port,
        data_dir=member.data_dir,
        ready=False,
    )
    net.register(member.name, pid=again.pid)
    if ready:
        wait_ready(again)
    return again
