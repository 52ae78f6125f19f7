"""Random schedules over a simulated network (acceptance point 3 of issue 4).

``ETCDPY_RAFT_SCHEDULES`` sets how many schedules hypothesis explores (default 2000);
``ETCDPY_RAFT_RANDOM=1`` explores new schedules instead of the fixed derandomized set.
A failure shrinks to a short schedule and prints a ``replay(setup=..., actions=...)``
line that ``tests.raft.sim.replay`` runs again.
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from etcdpy.raft.tracker import ProgressTracker

from .sim import KIND_OF, Stats, Violation, actions_from_bytes, replay, shrink

SCHEDULES = int(os.environ.get("ETCDPY_RAFT_SCHEDULES", "2000"))
EXPLORE = os.environ.get("ETCDPY_RAFT_RANDOM", "") not in ("", "0")

setups = st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 2**16))
# A schedule is drawn as one byte string, three bytes per action (one draw instead of
# hundreds keeps hypothesis cheap). The length is drawn first: plain lists and strings
# average ~20 elements, too short to elect leaders, snapshot and change membership;
# this averages ~85 actions and still shrinks to 10 (zero bytes = deliver the oldest).
schedules = st.integers(10, 160).flatmap(
    lambda n: st.binary(min_size=3 * n, max_size=3 * n).map(actions_from_bytes)
)


@pytest.fixture(autouse=True)
def quiet_raft_logs() -> Iterator[None]:
    # Elections are logged at INFO; thousands of schedules would flood the capture.
    logger = logging.getLogger("etcdpy.raft")
    old = logger.level
    logger.setLevel(logging.WARNING + 10)
    yield
    logger.setLevel(old)


def schedule_property(stats: Stats, max_examples: int) -> Callable[[], None]:
    """The hypothesis test: run schedules; a failure is shrunk and re-raised with its
    short replay line (hypothesis' own shrinker cannot see through the length draw)."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=not EXPLORE,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(setup=setups, actions=schedules)
    def run(setup: tuple[int, int, int], actions: list[tuple[int, int, int]]) -> None:
        try:
            replay(setup, actions, stats)
        except Violation:
            replay(setup, shrink(setup, actions))
            raise

    return run


@pytest.mark.timeout(600)
def test_random_schedules_are_safe_and_live() -> None:
    stats = Stats()
    schedule_property(stats, SCHEDULES)()
    print(f"\nraft simulation: {stats}")
    assert stats.schedules >= SCHEDULES * 0.9
    # The schedules really exercise every mechanism, not just idle clusters.
    assert stats.leaders > stats.schedules
    assert stats.committed > 5 * stats.schedules
    assert stats.reads_served > stats.schedules // 10
    assert stats.snapshots_installed > stats.schedules // 50
    assert stats.conf_changes > stats.schedules // 20
    assert stats.crashes > stats.schedules


def max_match_commit(self: ProgressTracker) -> int:
    """A broken commit rule: whatever any voter has is "committed" (no quorum)."""
    return max((self.progress[v].match for v in self.voters), default=0)


def test_checker_catches_and_shrinks_commit_without_quorum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ProgressTracker, "committed", max_match_commit)
    with pytest.raises(Violation) as failure:
        schedule_property(Stats(), 500)()
    message = str(failure.value)
    line = message.split("reproduce with: ", 1)[1]
    setup = ast.literal_eval(line[line.index("setup=") + 6 : line.index(", actions=")])
    schedule = ast.literal_eval(line[line.index("actions=") + 8 : line.rindex(")")])
    print(f"\nshrunk counterexample ({len(schedule)} actions):\n{message}")
    print("as steps:", [KIND_OF[k] for k, _, _ in schedule])
    assert len(schedule) <= 40
    # The printed line replays to the same failure; the correct core passes it.
    with pytest.raises(Violation) as again:
        replay(setup, schedule)
    assert again.value.prop == failure.value.prop
    monkeypatch.undo()
    replay(setup, schedule)


def test_fixed_schedule_with_partitions_and_crashes_passes() -> None:
    # Guard against a checker that fails everything: the correct core is fine on a
    # schedule full of partitions, crashes and proposals.
    schedule = [(55, 0, 0), (36, 0, 0)] * 10 + [(74, 1, 0), (55, 0, 0), (80, 0, 0)] * 5
    replay((0, 0, 0), [(36, 0, 0)] * 12 + schedule)


def test_stats_count_a_replay() -> None:
    stats = Stats()
    replay((0, 0, 1), [(36, 0, 0)] * 15 + [(0, 0, 0)] * 40 + [(56, 0, 0)] * 3, stats)
    assert stats.schedules == 1 and stats.leaders >= 1 and stats.committed >= 3


if __name__ == "__main__":  # pragma: no cover - manual replays
    raise SystemExit(pytest.main([__file__, "-q"]))
