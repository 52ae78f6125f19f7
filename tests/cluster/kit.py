"""What every cluster test needs: start members, talk v2 HTTP to them, poll with a deadline.

    with proc_group(tmp_path) as group:
        members = start_cluster(group, 3)                  # n1..n3, fast elections
        lead = wait_leader(members)                        # exactly one, all agree
        r = put(members[1].client_url, "/k", "v")          # through a follower
        same_index(members, "/k")                          # every member applied it

Members started with a `FaultNet` advertise the proxy in front of their peer listener,
so the test can cut links between them (see tests/faults/__init__.py); the net knows
each member by PID, so a restarted member is registered again by `restart`.

Every wait here is `poll`: a check run until it gives a value or a deadline passes,
failing with the last thing it saw.  No bare sleeps.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp

from tests.faults import FaultNet
from tests.procs import LOOPBACK, Proc, ProcGroup, free_port, member_args, wait_ready

T = TypeVar("T")

# Short Raft timings for most tests: an election settles in well under a second.
FAST = ("--heartbeat-interval", "50", "--election-timeout", "500")
DEADLINE_S = 30.0
# Heavier variants (longer histories, the 30 s purge cycle) run when this is set.
HEAVY = bool(os.environ.get("ETCDPY_CLUSTER_HEAVY"))
POLL_S = 0.05

_ADVERTISE = "--initial-advertise-peer-urls"


# --- HTTP ----------------------------------------------------------------------------


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def etcd_index(self) -> int:
        return int(self.header("X-Etcd-Index"))

    @property
    def raft_index(self) -> int:
        return int(self.header("X-Raft-Index"))

    @property
    def raft_term(self) -> int:
        return int(self.header("X-Raft-Term"))


def call(
    base_url: str,
    method: str,
    path: str,
    form: Mapping[str, str] | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> Reply:
    """One request on a fresh connection; raises OSError (incl. timeouts) if no answer."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    hdrs = dict(headers or {})
    if form is not None:
        body = urlencode(form).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def key_path(key: str, **params: str) -> str:
    path = "/v2/keys/" + quote(key.lstrip("/"))
    return f"{path}?{urlencode(params)}" if params else path


def get(base_url: str, key: str, timeout: float = 5.0, **params: str) -> Reply:
    return call(base_url, "GET", key_path(key, **params), timeout=timeout)


def put(base_url: str, key: str, value: str, timeout: float = 5.0, **form: str) -> Reply:
    return call(base_url, "PUT", key_path(key), form={"value": value, **form}, timeout=timeout)


def get_json(base_url: str, path: str, timeout: float = 2.0) -> Any:
    r = call(base_url, "GET", path, timeout=timeout)
    return r.json()


# --- waiting -----------------------------------------------------------------------------


def poll(
    check: Callable[[], T | None],
    what: str,
    deadline_s: float = DEADLINE_S,
    interval_s: float = POLL_S,
) -> T:
    """Run ``check`` until it returns something other than None/False; fail after the
    deadline naming ``what`` and the last value or error seen."""
    end = time.monotonic() + deadline_s
    last: object = None
    while True:
        try:
            value = check()
            if value is not None and value is not False:
                return value
            last = value
        except (OSError, ValueError, KeyError, AssertionError) as exc:
            last = exc
        if time.monotonic() >= end:
            raise AssertionError(f"{what}: not within {deadline_s} s (last: {last!r})")
        time.sleep(interval_s)  # the pace of a poll with a deadline


# --- members ---------------------------------------------------------------------------


def self_stats(m: Proc, timeout: float = 1.0) -> dict[str, Any]:
    return get_json(m.client_url, "/v2/stats/self", timeout)


def member_id(m: Proc) -> str:
    return str(self_stats(m)["id"])


def current_leader(members: Sequence[Proc]) -> Proc | None:
    """The one member of ``members`` that is leader and that all the others follow, or
    None while that is not so (an election, or a member still on an old term)."""
    stats = [self_stats(m) for m in members]
    leaders = [m for m, s in zip(members, stats, strict=True) if s["state"] == "StateLeader"]
    if len(leaders) != 1:
        return None
    lead_id = stats[members.index(leaders[0])]["id"]
    if all(s["leaderInfo"]["leader"] == lead_id for s in stats):
        return leaders[0]
    return None


def wait_leader(members: Sequence[Proc], deadline_s: float = DEADLINE_S) -> Proc:
    """Poll until ``members`` agree on one leader among them; return it."""
    names = [m.name for m in members]
    return poll(lambda: current_leader(members), f"one leader agreed by {names}", deadline_s)


def followers(members: Sequence[Proc], lead: Proc) -> list[Proc]:
    return [m for m in members if m is not lead]


def same_index(members: Sequence[Proc], key: str, deadline_s: float = DEADLINE_S) -> int:
    """Poll until every member serves ``key`` with the same node and the same
    X-Etcd-Index (local reads: each member's own applied state); return that index."""

    def check() -> int | None:
        seen = []
        for m in members:
            r = get(m.client_url, key, timeout=2.0)
            seen.append((r.status, r.etcd_index, r.json().get("node")))
        return seen[0][1] if all(s == seen[0] for s in seen) else None

    return poll(check, f"{key} alike on {[m.name for m in members]}", deadline_s)


def modified_index(members: Sequence[Proc], key: str, deadline_s: float = DEADLINE_S) -> int:
    """Poll until every member serves ``key`` alike; the node's modifiedIndex.  (Unlike
    the store index, it does not move when a restarted member publishes itself.)"""
    same_index(members, key, deadline_s)
    return int(get(members[0].client_url, key).json()["node"]["modifiedIndex"])


def store_index(m: Proc) -> int:
    """The member's store index now (X-Etcd-Index of a local read of the root)."""
    return get(m.client_url, "/", timeout=2.0).etcd_index


# --- processes ---------------------------------------------------------------------------


def start_cluster(
    group: ProcGroup,
    size: int,
    extra_args: Sequence[str] = FAST,
    token: str | None = None,
    net: FaultNet | None = None,
    prefix: str = "n",
    ready: bool = True,
) -> list[Proc]:
    """Bootstrap members <prefix>1..<prefix><size> as one new cluster.

    With ``net`` each member advertises the proxy named after it (peer traffic goes
    through the net) and is registered with its PID before it dials anyone.
    """
    names = [f"{prefix}{i + 1}" for i in range(size)]
    ports = {n: (free_port(), free_port()) for n in names}
    if net is not None:
        for n in names:
            net.proxy((LOOPBACK, ports[n][1]), n)
    advertised = {
        n: net[n].url if net is not None else f"http://{LOOPBACK}:{ports[n][1]}" for n in names
    }
    initial = ",".join(f"{n}={advertised[n]}" for n in names)
    members = []
    for n in names:
        client_port, peer_port = ports[n]
        data_dir = group.base_dir / f"etcdpy-{n}.etcd"
        args = member_args(n, client_port, peer_port, data_dir, initial, token)
        args[args.index(_ADVERTISE) + 1] = advertised[n]
        m = group.start(
            "etcdpy",
            n,
            [*args, *extra_args],
            client_port=client_port,
            peer_port=peer_port,
            data_dir=data_dir,
            ready=False,
        )
        if net is not None:
            net.register(n, pid=m.pid)
        members.append(m)
    if ready:
        for m in members:
            wait_ready(m)
    return members


def restart(
    group: ProcGroup,
    m: Proc,
    net: FaultNet | None = None,
    ready: bool = True,
    args: Sequence[str] | None = None,
) -> Proc:
    """Start a stopped member again: same flags (or ``args``), ports and data dir."""
    if m.alive():
        raise RuntimeError(f"member {m.name} (pid {m.pid}) still runs; stop or kill it first")
    again = group.start(
        "etcdpy",
        m.name,
        list(args) if args is not None else m.args,
        client_port=m.client_port,
        peer_port=m.peer_port,
        data_dir=m.data_dir,
        ready=False,
    )
    if net is not None:
        net.register(m.name, pid=again.pid)
    if ready:
        wait_ready(again)
    return again


def log_lines(m: Proc, needle: str) -> list[str]:
    """The member's log lines that contain ``needle``."""
    return [line for line in m.log_text().splitlines() if needle in line]


def wait_log(m: Proc, needle: str, deadline_s: float = DEADLINE_S) -> str:
    """Poll the member's log until a line contains ``needle``; return the first one."""

    def check() -> str | None:
        lines = log_lines(m, needle)
        return lines[0] if lines else None

    return poll(check, f"{m.name}'s log to say {needle!r}", deadline_s)


def wait_exit(m: Proc, deadline_s: float = DEADLINE_S) -> int:
    """Poll until the member's process has ended; its exit status."""

    def check() -> int | None:
        return m.popen.poll()

    code = poll(lambda: check() is not None, f"{m.name} to exit", deadline_s)
    assert code
    return m.popen.returncode


def stream_events(base_url: str, path: str, count: int, timeout: float = 15.0) -> list[Any]:
    """Read ``count`` JSON events from a streaming watch (``stream=true``) at ``path``;
    fewer if the member ends the stream or nothing comes for ``timeout`` seconds."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        events: list[Any] = []
        while len(events) < count:
            line = resp.readline()
            if not line:
                break
            if line.strip():
                events.append(json.loads(line))
        return events
    finally:
        conn.close()


_LOAD_LUA = Path(__file__).with_name("load_keys.lua")
LOAD_CLIENTS = 64


def load_keys(m: Proc, prefix: str, count: int, deadline_s: float = 300.0) -> int:
    """Write at least ``count`` new keys ``<prefix>/k<n>`` through ``m`` from 64
    concurrent connections (wrk when installed: a C client leaves the CPU to the
    members; else asyncio clients).  Returns the store index once every write that
    was sent has been applied on ``m`` (a last write after the load marks it)."""
    target = store_index(m) + count
    wrk = shutil.which("wrk")
    if wrk is not None:
        env = dict(os.environ, LOAD_PREFIX=key_path(prefix) + "/k")
        cmd = [wrk, "-t1", f"-c{LOAD_CLIENTS}", f"-d{int(deadline_s)}s", "-s", str(_LOAD_LUA)]
        proc = subprocess.Popen(
            [*cmd, m.client_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            poll(lambda: store_index(m) >= target, f"{count} keys loaded", deadline_s, 0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    else:
        asyncio.run(_load_async(m.client_url, prefix, count))
    # Proposals of requests cut off with wrk are in the log before this one.
    r = put(m.client_url, f"{prefix}-done", "1", timeout=30.0)
    assert r.status in (200, 201), r.body
    return r.etcd_index


async def _load_async(base_url: str, prefix: str, count: int) -> None:
    numbers = iter(range(1, count + 1))
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for n in numbers:
                url = f"{base_url}{key_path(prefix)}/k{n}"
                async with session.put(url, data={"value": str(n)}) as r:
                    await r.read()
                    assert r.status == 201, (url, r.status)

        await asyncio.gather(*(worker() for _ in range(LOAD_CLIENTS)))
