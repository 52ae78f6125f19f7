"""Telling which member opened a TCP connection that arrived at a proxy.

All members dial a peer through the same advertised URL, so the proxy in front of a
member can only cut "A to B" but not "C to B" if it knows who is calling.  Two ways:

- by source address: when a member binds its outgoing sockets to its own loopback
  address (127.0.0.11, 127.0.0.12, ...), the peer address says who it is;
- by process: the caller's end of a loopback connection is a socket in the caller's own
  file table.  /proc/net/tcp maps the caller's (address, port) to a socket inode, and
  /proc/<pid>/fd of each registered member shows which process holds that inode.  This
  needs no cooperation from the member (it works for the reference etcd as is) and no
  privileges beyond reading /proc of one's own child processes.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

Address = tuple[str, int]


def _proc_net_key(host: str, port: int) -> tuple[str, str]:
    """How /proc/net/tcp{,6} spells a local address: little-endian hex words."""
    if ":" not in host:
        packed = socket.inet_aton(host)
        return "tcp", f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
    packed = socket.inet_pton(socket.AF_INET6, host)
    words = "".join(f"{int.from_bytes(packed[i : i + 4], 'little'):08X}" for i in range(0, 16, 4))
    return "tcp6", f"{words}:{port:04X}"


def _plain(address: Address) -> Address:
    host = address[0]
    if host.startswith("::ffff:") and "." in host:
        host = host.removeprefix("::ffff:")
    return host, address[1]


def socket_inode(local: Address, remote: Address | None = None) -> int | None:
    """The inode of the TCP socket bound to `local` (and connected to `remote`, if given).

    Called with a proxy connection's peer address as `local` and the proxy's own
    address as `remote`, this finds the caller's end of the connection.
    """
    table, wanted = _proc_net_key(*_plain(local))
    other = None if remote is None else _proc_net_key(*_plain(remote))[1]
    try:
        with open(f"/proc/net/{table}", encoding="ascii") as listing:
            next(listing, None)  # header
            for line in listing:
                fields = line.split()
                if len(fields) <= 9 or fields[1] != wanted or fields[9] == "0":
                    continue  # inode 0: a TIME_WAIT leftover, owned by nobody
                if other is None or fields[2] == other:
                    return int(fields[9])
    except OSError:
        return None
    return None


def _descendants(pid: int) -> Iterator[int]:
    """`pid` and its children, grandchildren...: a member may run under a wrapper."""
    pending = [pid]
    seen: set[int] = set()
    while pending and len(seen) < 4096:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as f:
                    pending.extend(int(child) for child in f.read().split())
            except OSError:
                continue


def process_holds_inode(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    for member in _descendants(pid):
        directory = f"/proc/{member}/fd"
        try:
            fds = os.listdir(directory)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{directory}/{fd}") == target:
                    return True
            except OSError:
                continue
    return False


class SenderRegistry:
    """Names for the processes and source addresses that connect through proxies.

    Register a member again after each restart: its PID changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pids: dict[str, int] = {}
        self._hosts: dict[str, str] = {}

    def register(self, name: str, pid: int | None = None, host: str | None = None) -> None:
        if pid is None and host is None:
            raise ValueError(f"register({name!r}) needs a pid, a source host, or both")
        with self._lock:
            if pid is not None:
                self._pids[name] = pid
            if host is not None:
                for other, known in self._hosts.items():
                    if known == host and other != name:
                        raise ValueError(
                            f"source host {host} is already registered for {other!r}; "
                            "give every member its own loopback address"
                        )
                self._hosts[name] = host

    def unregister(self, name: str) -> None:
        with self._lock:
            self._pids.pop(name, None)
            self._hosts.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(set(self._pids) | set(self._hosts))

    def resolve(self, peer: Address, local: Address | None = None) -> str | None:
        """The registered name behind a connection from `peer` (to `local`), or None.

        Blocking (reads /proc): run it off the event loop.
        """
        with self._lock:
            for name, host in self._hosts.items():
                if host == peer[0]:
                    return name
            pids = list(self._pids.items())
        if not pids:
            return None
        inode = socket_inode(peer, local)
        if inode is None:
            return None
        for name, pid in pids:
            if process_holds_inode(pid, inode):
                return name
        return None
