"""The whole kit against the reference etcd: a 3-member cluster behind fault proxies.

This is the pattern the etcdpy cluster tests follow (see tests/faults/__init__.py): each
member advertises the URL of the proxy in front of its peer listener, the proxies know
each member by PID, and a partition is a matter of naming the members.  It shows that
the sender identification works with an unmodified member (etcd 3.4 dials peers the way
it likes), that isolating the leader really cuts it off, and that a history recorded
across the partition checks as linearizable.  Skipped when etcd is not installed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.faults import FaultNet, kill_hard, paused
from tests.faults.cluster import restart_member, start_proxied_cluster
from tests.lincheck import Recorder, cas, check_history, read, write
from tests.lincheck.etcd_v2 import Indeterminate, run_op
from tests.procs import Proc, ProcGroup, proc_group, reference_binary

pytestmark = pytest.mark.skipif(reference_binary() is None, reason="etcd is not installed")

NAMES = ("n1", "n2", "n3")
DEADLINE = 30.0
FAST_ELECTIONS = ("--heartbeat-interval", "50", "--election-timeout", "500")


@dataclass(slots=True)
class Cluster:
    net: FaultNet
    group: ProcGroup
    members: dict[str, Proc]

    def leader(self, among: set[str]) -> str | None:
        """A member of `among` that calls itself leader.

        Only ask the members that may answer: an isolated old leader keeps calling
        itself leader until it hears of a newer term.
        """
        for name in sorted(among):
            member = self.members[name]
            try:
                stats = get_json(f"{member.client_url}/v2/stats/self", 0.5)
            except (OSError, ValueError):
                continue
            if stats.get("state") == "StateLeader":
                return name
        return None

    def wait_for_leader(self, among: set[str]) -> str:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            leader = self.leader(among)
            if leader is not None:
                return leader
            time.sleep(0.05)  # polling the members' state, with a deadline
        raise AssertionError(f"no leader among {sorted(among)} within {DEADLINE} s")


def get_json(url: str, timeout: float) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def put(url: str, value: str, timeout: float) -> int:
    data = f"value={value}".encode()
    request = urllib.request.Request(url, data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with FaultNet() as net, proc_group(tmp_path_factory.mktemp("etcd")) as group:
        members = start_proxied_cluster(
            group, net, len(NAMES), kind="reference", token="faults", extra_args=FAST_ELECTIONS
        )
        cluster = Cluster(net, group, {m.name: m for m in members})
        cluster.wait_for_leader(set(NAMES))
        yield cluster


def test_isolating_the_leader_cuts_it_off_and_heal_brings_it_back(cluster: Cluster) -> None:
    old = cluster.wait_for_leader(set(NAMES))
    others = set(NAMES) - {old}
    cluster.net.isolate(old)
    try:
        new = cluster.wait_for_leader(others)
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            put(f"{cluster.members[old].client_url}/v2/keys/iso", "lost?", 2.0)
        assert put(f"{cluster.members[new].client_url}/v2/keys/iso", "majority", 5.0) in (200, 201)
    finally:
        cluster.net.heal()
    # Every connection was put down to a member: the PID lookup found all of them.
    for name in NAMES:
        assert None not in cluster.net[name].stats(), name
    # The timed-out write may still land after the heal (etcd keeps the proposal until
    # it finds a leader): either value is right, as long as both members agree.
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            seen = {
                name: quorum_value(cluster.members[name].client_url, "/iso") for name in (old, new)
            }
            if seen[old] == seen[new] and seen[old] in ("majority", "lost?"):
                break
        except (OSError, ValueError, KeyError):
            pass
        assert time.monotonic() < deadline, "the healed member never caught up"
        time.sleep(0.05)  # polling for the catch-up, with a deadline


def quorum_value(client_url: str, key: str) -> object:
    node = get_json(f"{client_url}/v2/keys{key}?quorum=true", 1.0)["node"]
    assert isinstance(node, dict)
    return node["value"]


def wait_for_value(cluster: Cluster, name: str, key: str, expected: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            if quorum_value(cluster.members[name].client_url, key) == expected:
                return
        except (OSError, ValueError, KeyError):
            pass
        assert time.monotonic() < deadline, f"{name} never read {key}={expected!r}"
        time.sleep(0.05)  # polling for the catch-up, with a deadline


def test_a_frozen_leader_is_replaced_and_rejoins(cluster: Cluster) -> None:
    old = cluster.wait_for_leader(set(NAMES))
    with paused(cluster.members[old].pid):
        new = cluster.wait_for_leader(set(NAMES) - {old})
        assert put(f"{cluster.members[new].client_url}/v2/keys/frozen", "during", 5.0) in (
            200,
            201,
        )
    wait_for_value(cluster, old, "/frozen", "during")


def test_a_killed_member_restarts_behind_its_proxy_and_catches_up(cluster: Cluster) -> None:
    leader = cluster.wait_for_leader(set(NAMES))
    victim = next(name for name in NAMES if name != leader)
    kill_hard(cluster.members[victim].popen)
    assert put(f"{cluster.members[leader].client_url}/v2/keys/restart", "down", 5.0) in (200, 201)
    others = [name for name in NAMES if name != victim]
    before = {name: cluster.net[name].stats()[victim].accepted for name in others}
    cluster.members[victim] = restart_member(cluster.group, cluster.net, cluster.members[victim])
    wait_for_value(cluster, victim, "/restart", "down")
    # The new process dialed its peers and was recognised under the same name.  (A
    # request the old process sent just before dying may show up as None: its caller
    # was gone before anyone could look it up.)
    for name in others:
        assert cluster.net[name].stats()[victim].accepted > before[name], name


def test_local_read_on_an_isolated_member_is_caught_as_stale(cluster: Cluster) -> None:
    """A plain v2 GET is served locally: behind a partition it returns old data."""
    recorder = Recorder()
    leader = cluster.wait_for_leader(set(NAMES))
    cut_off = next(name for name in NAMES if name != leader)
    majority = next(name for name in NAMES if name not in (leader, cut_off))
    key = "/lincheck/stale"

    async def scenario(session: aiohttp.ClientSession) -> object:
        url = {name: member.client_url for name, member in cluster.members.items()}
        await run_op(recorder, session, url[leader], 1, write(key, "old"), timeout=5.0)
        deadline = asyncio.get_running_loop().time() + DEADLINE
        seen = None  # wait until the soon-isolated member has applied "old"
        while seen != "old" and asyncio.get_running_loop().time() < deadline:
            async with session.get(f"{url[cut_off]}/v2/keys{key}") as response:
                seen = (await response.json()).get("node", {}).get("value")
        await asyncio.to_thread(cluster.net.isolate, cut_off)
        try:
            await run_op(recorder, session, url[majority], 2, write(key, "new"), timeout=5.0)
            return await run_op(
                recorder, session, url[cut_off], 3, read(key), timeout=5.0, quorum=False
            )
        finally:
            await asyncio.to_thread(cluster.net.heal)

    async def main() -> object:
        async with aiohttp.ClientSession() as session:
            return await scenario(session)

    assert asyncio.run(main()) == "old"
    result = check_history(recorder.history())
    assert result.verdict == "illegal"
    assert "could not place: proc 3: read('/lincheck/stale') -> 'old'" in result.explain()


async def workload(cluster: Cluster, recorder: Recorder, per_phase: int) -> dict[str, int]:
    """Clients on random members; the leader is isolated for the middle phase."""
    urls = [m.client_url for m in cluster.members.values()]
    counts = {"isolated": 0, "lost": 0}
    proc_ids = iter(range(10**6))
    stop = asyncio.Event()

    async def client(session: aiohttp.ClientSession, seed: int) -> None:
        rnd = random.Random(seed)
        proc = next(proc_ids)
        for _ in range(10 * per_phase):  # bounded; normally ended by `stop`
            if stop.is_set():
                return
            key = f"/lincheck/k{rnd.randrange(3)}"
            roll = rnd.random()
            if roll < 0.4:
                op = read(key)
            elif roll < 0.7:
                op = write(key, str(rnd.randrange(5)))
            else:
                op = cas(key, str(rnd.randrange(5)), str(rnd.randrange(5)))
            try:
                await run_op(recorder, session, rnd.choice(urls), proc, op, timeout=1.0)
            except Indeterminate:
                counts["lost"] += 1
                proc = next(proc_ids)  # the old request may still land: a new identity

    async def phases() -> None:
        loop = asyncio.get_running_loop()
        for phase in ("before", "isolated", "after"):
            target = len(recorder) + per_phase
            deadline = loop.time() + DEADLINE
            if phase == "isolated":
                leader = await asyncio.to_thread(cluster.wait_for_leader, set(NAMES))
                await asyncio.to_thread(cluster.net.isolate, leader)
            while len(recorder) < target and loop.time() < deadline:
                await asyncio.sleep(0.02)  # polling the op count, with a deadline
            if phase == "isolated":
                counts["isolated"] = len(recorder)
                await asyncio.to_thread(cluster.net.heal)
        stop.set()

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(phases(), *(client(session, seed) for seed in range(6)))
    return counts


def test_history_across_a_partition_is_linearizable(cluster: Cluster) -> None:
    recorder = Recorder()
    counts = asyncio.run(workload(cluster, recorder, per_phase=120))
    history = recorder.history()
    result = check_history(history, max_seconds=60)
    print(
        f"{len(history)} ops ({counts['lost']} indeterminate, {counts['isolated']} by the heal),"
        f" checked in {result.elapsed:.2f} s"
    )
    assert result.ok, result.explain()
    assert len(history) >= 240
