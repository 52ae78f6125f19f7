"""Crashes, freezes and partitions: no acknowledged write is lost and nothing forks.

The partition tests run the members behind a `FaultNet` (tests/faults): each member's
peer listener sits behind a proxy that knows the calling member by PID, so cutting the
leader off from the others is a matter of naming it; clients still reach every member.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cluster.kit import (
    followers,
    get,
    poll,
    put,
    restart,
    same_index,
    self_stats,
    start_cluster,
    wait_leader,
    wait_log,
)
from tests.faults import FaultNet, kill_hard, pause, resume
from tests.procs import Proc, ProcGroup, proc_group


@dataclass
class Proxied:
    net: FaultNet
    group: ProcGroup
    members: list[Proc]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    with FaultNet() as net, proc_group(tmp_path_factory.mktemp("proxied")) as group:
        members = start_cluster(group, 3, net=net)
        wait_leader(members)
        yield Proxied(net, group, members)


@dataclass
class Writers:
    """Clients writing unique keys to random live members, counting what was acked."""

    members: list[Proc]
    prefix: str
    acked: set[str] = field(default_factory=set)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, client: int, limit: int = 5000) -> None:
        rnd = random.Random(client)
        for i in range(limit):  # bounded; normally ended by `stop`
            if self.stop.is_set():
                return
            live = [m for m in self.members if m.alive()]
            key = f"{self.prefix}/c{client}-{i}"
            try:
                r = put(rnd.choice(live).client_url, key, str(i), timeout=8.0)
                ok = r.status == 201
            except OSError:
                ok = False
            with self.lock:
                if ok:
                    self.acked.add(key)
                else:
                    self.failed += 1

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def keys_under(m: Proc, directory: str) -> set[str]:
    r = get(m.client_url, directory, timeout=5.0)
    assert r.status == 200, (m.name, r.status, r.body)
    return {n["key"] for n in r.json()["node"].get("nodes", [])}


def test_kill_9_of_the_leader_under_concurrent_writes_loses_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    with proc_group(tmp_path) as group:
        members = start_cluster(group, 5)
        lead = wait_leader(members)
        writers = Writers(members, "/acked")
        clients = 8
        with ThreadPoolExecutor(clients) as pool:
            running = [pool.submit(writers.run, c) for c in range(clients)]
            try:
                poll(lambda: writers.count() >= 150, "150 acknowledged writes before the kill")
                kill_hard(lead.popen)
                at_kill = writers.count()
                rest = followers(members, lead)
                new = wait_leader(rest)
                poll(
                    lambda: writers.count() >= at_kill + 150,
                    "150 more acknowledged writes after the kill",
                )
            finally:
                writers.stop.set()
            for f in running:
                f.result(timeout=30)
        acked = writers.acked
        print(
            f"{len(acked)} writes acknowledged ({at_kill} before the kill of {lead.name}), "
            f"{writers.failed} failed; new leader {new.name}"
        )
        # Every acknowledged write is on every surviving member, which all agree.
        same_index(rest, "/acked")
        seen = [keys_under(m, "/acked") for m in rest]
        assert all(s == seen[0] for s in seen)
        assert acked <= seen[0], f"lost acknowledged writes: {sorted(acked - seen[0])[:10]}"
        # The killed leader comes back from its WAL and catches up to the same state.
        # (A write that failed for its client may still have been applied meanwhile:
        # every member must just agree, and keep every acknowledged write.)
        back = restart(group, lead)
        everyone = [*rest, back]
        same_index(everyone, "/acked")
        final = {m.name: keys_under(m, "/acked") for m in everyone}
        assert all(k == final[back.name] for k in final.values()), {
            name: sorted(k ^ final[back.name]) for name, k in final.items()
        }
        assert acked <= final[back.name]
        assert seen[0] <= final[back.name]
        if final[back.name] != seen[0]:
            print(f"applied after the survivors agreed: {sorted(final[back.name] - seen[0])}")
        for m in everyone:
            assert "Traceback" not in m.log_text(), m.log_tail()


def test_a_leader_frozen_past_the_election_timeout_steps_down_and_nothing_forks(
    proxied: Proxied,
) -> None:
    members = proxied.members
    lead = wait_leader(members)
    old_term = get(lead.client_url, "/").raft_term
    rest = followers(members, lead)
    with ThreadPoolExecutor(1) as pool:
        pause(lead.pid)
        try:
            # Sent to the frozen leader: the kernel queues it until SIGCONT.
            late = pool.submit(put, lead.client_url, "/frozen/old", "from-old-leader", 30.0)
            new = wait_leader(rest)
            assert put(new.client_url, "/frozen/new", "from-new-leader").status == 201
        finally:
            resume(lead.pid)
        old_write = late.result(timeout=40)
    new_id = self_stats(new)["id"]

    def stepped_down() -> bool:
        s = self_stats(lead)
        return s["state"] == "StateFollower" and s["leaderInfo"]["leader"] not in ("", s["id"])

    poll(stepped_down, f"{lead.name} to follow a newer leader after SIGCONT")
    agreed = wait_leader(members)
    assert get(lead.client_url, "/").raft_term > old_term
    print(f"old leader {lead.name}, new {new.name} ({new_id}), agreed now: {agreed.name}")
    # Nothing forks: all three serve the same /frozen directory at the same index.
    same_index(members, "/frozen")
    names = keys_under(lead, "/frozen")
    assert "/frozen/new" in names
    if old_write.status == 201:
        assert "/frozen/old" in names  # acknowledged: it must be there
    else:
        # Not acknowledged: error 300; the entry may or may not have survived.
        assert old_write.status == 500 and old_write.json()["errorCode"] == 300


def test_a_partition_that_cuts_the_leader_off_then_heals(proxied: Proxied) -> None:
    net, members = proxied.net, proxied.members
    lead = wait_leader(members)
    rest = followers(members, lead)
    net.isolate(lead.name)
    try:
        new = wait_leader(rest)
        assert put(new.client_url, "/part/k", "majority").status == 201
        # Check-quorum: the cut-off leader stops calling itself leader.
        poll(
            lambda: self_stats(lead)["state"] != "StateLeader",
            f"{lead.name} to step down when cut off",
        )
        # Cut off, it serves local reads from its own (stale) store, and refuses what
        # needs the quorum with error 300 instead of hanging or answering stale data.
        assert get(lead.client_url, "/part/k").status == 404
        q = get(lead.client_url, "/part/k", timeout=30.0, quorum="true")
        assert q.status == 500 and q.json()["errorCode"] == 300, q.body
        w = put(lead.client_url, "/part/k", "minority", timeout=30.0)
        assert w.status == 500 and w.json()["errorCode"] == 300, w.body
    finally:
        net.heal()
    for name in (m.name for m in members):
        assert None not in net[name].stats(), f"an unattributed connection to {name}"
    same_index(members, "/part/k")
    values = {get(m.client_url, "/part/k").json()["node"]["value"] for m in members}
    assert values in ({"majority"}, {"minority"})
    # One line per election event, naming the member: the old leader lost its role,
    # the new one took it at a higher term.
    lost = wait_log(lead, "lost leader")
    assert f" | {lead.name} | " in lost
    took = wait_log(new, "became the leader at term")
    assert f" | {new.name} | " in took
    # After the heal the old leader serves quorum reads again.
    poll(
        lambda: get(lead.client_url, "/part/k", quorum="true").status == 200,
        f"{lead.name} to serve quorum reads after the heal",
    )


def test_a_partition_between_two_followers_changes_nothing_for_clients(
    proxied: Proxied,
) -> None:
    net, members = proxied.net, proxied.members
    lead = wait_leader(members)
    a, b = followers(members, lead)
    net.cut(a.name, b.name)
    try:
        for i, m in enumerate(members):
            assert put(m.client_url, "/cut/k", str(i)).status in (200, 201)
        same_index(members, "/cut/k")
        # Both followers still hear the leader: no election was needed.
        assert wait_leader(members) is lead
    finally:
        net.heal()


def test_a_follower_killed_and_restarted_behind_its_proxy_catches_up(proxied: Proxied) -> None:
    members = proxied.members
    lead = wait_leader(members)
    victim = followers(members, lead)[0]
    kill_hard(victim.popen)
    for i in range(20):
        assert put(lead.client_url, f"/restart/k{i}", str(i)).status == 201
    again = restart(proxied.group, victim, net=proxied.net)
    members[members.index(victim)] = again
    same_index(members, "/restart")
    assert len(keys_under(again, "/restart")) == 20
