"""Three members started two seconds apart (as an operator or a service manager starts
them) serve writes within a second of the second one's start: the first member waits
for a quorum, and the second one campaigns as soon as it is up (etcd's
advanceTicksForElection) instead of waiting a whole election timeout.

"Start" is taken as the moment the second member answers on its client port: before
that the time is the Python interpreter's and the imports', which on a loaded two-core
machine alone can exceed a second (the test prints the time from the spawn too).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.kit import FAST, call, modified_index, poll, put, wait_leader
from tests.procs import LOOPBACK, Proc, ProcGroup, free_port, member_args, proc_group

APART_S = 2.0
BOUND_S = 1.0


@dataclass
class Timeline:
    spawned: float = 0.0  # n2's process started
    up: float = 0.0  # n2 answered on its client port
    written: float = 0.0  # the first write through n1 was acknowledged


def _first_answer(m: Proc, timeline: Timeline) -> None:
    def answers() -> bool:
        call(m.client_url, "GET", "/version", timeout=0.5)
        return True

    poll(answers, f"{m.name} to answer on its client port", 30.0, 0.005)
    timeline.up = time.monotonic()


def _first_write(m: Proc, timeline: Timeline) -> None:
    def written() -> bool:
        return put(m.client_url, "/staggered", "first", timeout=1.0).status in (200, 201)

    poll(written, f"a write through {m.name}", 30.0, 0.01)
    timeline.written = time.monotonic()


def start_staggered(group: ProcGroup, extra: tuple[str, ...]) -> tuple[list[Proc], Timeline]:
    names = ("n1", "n2", "n3")
    ports = {n: (free_port(), free_port()) for n in names}
    initial = ",".join(f"{n}=http://{LOOPBACK}:{pp}" for n, (_, pp) in ports.items())
    members: list[Proc] = []
    timeline = Timeline()
    watchers: list[threading.Thread] = []
    began = time.monotonic()
    for i, n in enumerate(names):
        # The schedule of the scenario (not a wait for a condition): member i starts
        # i * APART_S after the first.
        time.sleep(max(0.0, began + i * APART_S - time.monotonic()))
        cp, pp = ports[n]
        data_dir = group.base_dir / f"etcdpy-{n}.etcd"
        args = [*member_args(n, cp, pp, data_dir, initial), *extra]
        spawned = time.monotonic()
        m = group.start(
            "etcdpy", n, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
        )
        members.append(m)
        if n == "n2":
            timeline.spawned = spawned
            watchers = [
                threading.Thread(target=_first_answer, args=(m, timeline)),
                threading.Thread(target=_first_write, args=(members[0], timeline)),
            ]
            for t in watchers:
                t.start()
    for t in watchers:
        t.join(timeout=60)
    return members, timeline


@pytest.mark.parametrize("timings", [(), FAST], ids=["default timings", "fast timings"])
def test_members_started_two_seconds_apart_serve_writes_within_a_second(
    tmp_path: Path, timings: tuple[str, ...]
) -> None:
    with proc_group(tmp_path) as group:
        members, t = start_staggered(group, timings)
        assert t.up and t.written, f"n2 never answered or no write went through: {t}"
        print(
            f"n2 answered {t.up - t.spawned:.2f} s after its spawn; the first write was "
            f"acknowledged {t.written - t.up:.2f} s later ({t.written - t.spawned:.2f} s "
            "after the spawn)"
        )
        assert t.written - t.up <= BOUND_S, (
            f"the first write took {t.written - t.up:.2f} s after the second member was up"
        )
        # The third one joins the two and catches up.
        wait_leader(members)
        w = put(members[2].client_url, "/staggered", "third")
        assert w.status == 200
        assert modified_index(members, "/staggered") == w.etcd_index
