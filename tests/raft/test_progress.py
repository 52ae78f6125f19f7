"""Flow control: inflights, progress states and the back-off (etcd's tracker tests)."""

from __future__ import annotations

from etcdpy.raft.progress import PROBE, REPLICATE, SNAPSHOT, Inflights, Progress


def test_inflights_window() -> None:
    ins = Inflights(3)
    for i in (5, 7, 9):
        assert not ins.full()
        ins.add(i)
    assert ins.full() and ins.count() == 3
    ins.free_le(6)
    assert ins.count() == 2 and not ins.full()
    ins.free_le(4)  # old acknowledgement
    assert ins.count() == 2
    ins.free_first_one()
    assert ins.count() == 1
    ins.free_le(100)
    assert ins.count() == 0
    ins.add(1)
    ins.reset()
    assert ins.count() == 0


def test_maybe_update() -> None:
    pr = Progress(match=3, next_index=5, max_inflight=4)
    assert not pr.maybe_update(2) and (pr.match, pr.next) == (3, 5)
    assert not pr.maybe_update(3)
    assert pr.maybe_update(4) and (pr.match, pr.next) == (4, 5)
    assert pr.maybe_update(6) and (pr.match, pr.next) == (6, 7)


def test_maybe_decr_to_replicate() -> None:
    pr = Progress(match=5, next_index=10, max_inflight=4)
    pr.become_replicate()
    pr.next = 10
    assert not pr.maybe_decr_to(5, 5)  # rejection at or below match is stale
    assert pr.maybe_decr_to(9, 3)
    assert pr.next == 6  # back to match + 1, not to the hint


def test_maybe_decr_to_probe() -> None:
    pr = Progress(match=0, next_index=10, max_inflight=4)
    pr.probe_sent = True
    assert not pr.maybe_decr_to(8, 3)  # we probed 9: a rejection of 8 is stale
    assert pr.maybe_decr_to(9, 3)
    assert pr.next == 4 and not pr.probe_sent
    assert pr.maybe_decr_to(3, 100)  # a hint beyond the rejection does not move forward
    assert pr.next == 3
    pr.match = 2
    pr.next = 5
    assert pr.maybe_decr_to(4, 0)
    assert pr.next == 3  # never below match + 1


def test_is_paused() -> None:
    pr = Progress(match=0, next_index=1, max_inflight=2)
    assert not pr.is_paused()
    pr.probe_sent = True
    assert pr.is_paused()
    pr.become_replicate()
    assert not pr.is_paused()
    pr.inflights.add(1)
    pr.inflights.add(2)
    assert pr.is_paused()
    pr.become_snapshot(10)
    assert pr.is_paused()


def test_become_probe_after_snapshot() -> None:
    pr = Progress(match=1, next_index=5, max_inflight=4)
    pr.become_snapshot(10)
    assert pr.state is SNAPSHOT and pr.pending_snapshot == 10
    pr.become_probe()
    assert pr.state is PROBE and pr.next == 11
    pr.become_snapshot(10)
    pr.pending_snapshot = 0  # a failed snapshot: probe from the match
    pr.become_probe()
    assert pr.next == 2
    pr.become_replicate()
    assert pr.state is REPLICATE and pr.next == 2
