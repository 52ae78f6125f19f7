"""MemoryStorage, the unstable tail and RaftLog (etcd's storage_test.go, log_test.go)."""

from __future__ import annotations

import pytest

from etcdpy.raft.errors import (
    CompactedError,
    RaftInvariantError,
    SnapshotOutOfDateError,
    UnavailableError,
)
from etcdpy.raft.log import RaftLog
from etcdpy.raft.storage import ENTRY_OVERHEAD, MemoryStorage, limit_size
from etcdpy.raft.types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata
from etcdpy.raft.unstable import Unstable


def e(index: int, term: int, data: bytes = b"") -> Entry:
    return Entry(term=term, index=index, data=data)


def storage_3_4_5() -> MemoryStorage:
    """Entries 3, 4, 5 of terms 3, 4, 5 after a snapshot at (3, 3)."""
    st = MemoryStorage()
    st.apply_snapshot(Snapshot(SnapshotMetadata(3, 3, ConfState([1]))))
    st.append([e(4, 4), e(5, 5)])
    return st


class TestMemoryStorage:
    def test_term(self) -> None:
        st = storage_3_4_5()
        with pytest.raises(CompactedError):
            st.term(2)
        assert [st.term(i) for i in (3, 4, 5)] == [3, 4, 5]
        with pytest.raises(UnavailableError):
            st.term(6)

    def test_entries(self) -> None:
        st = storage_3_4_5()
        st.append([e(6, 6)])
        with pytest.raises(CompactedError):
            st.entries(3, 5)
        assert st.entries(4, 5) == [e(4, 4)]
        assert st.entries(4, 7) == [e(4, 4), e(5, 5), e(6, 6)]
        # A size limit keeps at least one entry, then as many as fit.
        assert st.entries(4, 7, 0) == [e(4, 4)]
        assert st.entries(4, 7, 2 * ENTRY_OVERHEAD) == [e(4, 4), e(5, 5)]
        assert st.entries(4, 7, 2 * ENTRY_OVERHEAD + 1) == [e(4, 4), e(5, 5)]
        with pytest.raises(RaftInvariantError):
            st.entries(4, 8)

    def test_first_last_index(self) -> None:
        st = storage_3_4_5()
        assert (st.first_index(), st.last_index()) == (4, 5)
        st.compact(4)
        assert (st.first_index(), st.last_index()) == (5, 5)

    def test_compact(self) -> None:
        st = storage_3_4_5()
        with pytest.raises(CompactedError):
            st.compact(3)
        st.compact(4)
        assert st.term(4) == 4
        with pytest.raises(CompactedError):
            st.term(3)
        with pytest.raises(RaftInvariantError):
            st.compact(6)

    def test_create_snapshot(self) -> None:
        st = storage_3_4_5()
        snap = st.create_snapshot(4, ConfState([1, 2]), b"data")
        assert (snap.metadata.index, snap.metadata.term) == (4, 4)
        assert snap.metadata.conf_state.voters == [1, 2]
        assert st.snapshot() is snap
        with pytest.raises(SnapshotOutOfDateError):
            st.create_snapshot(4, None, b"")
        with pytest.raises(RaftInvariantError):
            st.create_snapshot(9, None, b"")
        # None keeps the configuration of the previous snapshot.
        assert st.create_snapshot(5, None, b"x").metadata.conf_state.voters == [1, 2]

    def test_append_truncates_and_skips_compacted(self) -> None:
        st = storage_3_4_5()
        st.append([e(3, 3), e(4, 4), e(5, 5)])  # idempotent, 3 is compacted
        assert st.entries(4, 6) == [e(4, 4), e(5, 5)]
        st.append([e(4, 6), e(5, 6)])  # conflict at 4 replaces the tail
        assert st.entries(4, 6) == [e(4, 6), e(5, 6)]
        st.append([e(6, 5)])
        assert st.last_index() == 6
        st.append([e(5, 7)])  # truncates 6
        assert st.last_index() == 5 and st.term(5) == 7
        with pytest.raises(RaftInvariantError):
            st.append([e(7, 7)])  # gap
        st.append([e(1, 1), e(2, 2)])  # wholly compacted: ignored
        assert st.last_index() == 5

    def test_apply_snapshot(self) -> None:
        st = MemoryStorage()
        snap = Snapshot(SnapshotMetadata(4, 4, ConfState([1, 2, 3])), b"x")
        st.apply_snapshot(snap)
        assert (st.first_index(), st.last_index(), st.term(4)) == (5, 4, 4)
        assert st.initial_state() == (HardState(), ConfState([1, 2, 3]))
        with pytest.raises(SnapshotOutOfDateError):
            st.apply_snapshot(Snapshot(SnapshotMetadata(3, 3, ConfState([1]))))

    def test_initial_state_is_a_copy(self) -> None:
        st = MemoryStorage()
        st.set_hard_state(HardState(3, 2, 1))
        hs, _ = st.initial_state()
        hs.term = 99
        assert st.initial_state()[0] == HardState(3, 2, 1)


def test_limit_size() -> None:
    ents = [e(i, 1, b"x" * 10) for i in range(1, 6)]
    size = 10 + ENTRY_OVERHEAD
    assert limit_size(ents, 0) == ents[:1]
    assert limit_size(ents, size) == ents[:1]
    assert limit_size(ents, 3 * size) == ents[:3]
    assert limit_size(ents, 3 * size + 1) == ents[:3]
    assert limit_size(ents, 10 * size) == ents


class TestUnstable:
    def test_maybe_term_and_indexes(self) -> None:
        u = Unstable(5)
        u.entries = [e(5, 1)]
        assert (u.maybe_first_index(), u.maybe_last_index()) == (None, 5)
        assert u.maybe_term(5) == 1 and u.maybe_term(4) is None and u.maybe_term(6) is None
        u.restore(Snapshot(SnapshotMetadata(4, 1)))
        assert (u.maybe_first_index(), u.maybe_last_index(), u.maybe_term(4)) == (5, 4, 1)

    def test_stable_to_checks_term(self) -> None:
        u = Unstable(5)
        u.entries = [e(5, 1), e(6, 1)]
        u.stable_to(5, 2)  # the entry was replaced meanwhile: nothing is stable
        assert u.offset == 5 and len(u.entries) == 2
        u.stable_to(5, 1)
        assert u.offset == 6 and u.entries == [e(6, 1)]
        u.stable_to(4, 1)  # old news
        assert u.offset == 6

    def test_truncate_and_append(self) -> None:
        u = Unstable(5)
        u.entries = [e(5, 1), e(6, 1), e(7, 1)]
        u.truncate_and_append([e(8, 1)])
        assert [x.index for x in u.entries] == [5, 6, 7, 8]
        u.truncate_and_append([e(6, 2)])
        assert [(x.index, x.term) for x in u.entries] == [(5, 1), (6, 2)]
        u.truncate_and_append([e(4, 3)])  # before the offset: replaces everything
        assert u.offset == 4 and [(x.index, x.term) for x in u.entries] == [(4, 3)]


def log_with(terms: list[int], committed: int = 0) -> RaftLog:
    st = MemoryStorage()
    log = RaftLog(st)
    log.append([e(i + 1, t) for i, t in enumerate(terms)])
    log.committed = committed
    return log


class TestRaftLog:
    def test_find_conflict(self) -> None:
        log = log_with([1, 2, 3])
        assert log.find_conflict([]) == 0
        assert log.find_conflict([e(1, 1), e(2, 2), e(3, 3)]) == 0
        assert log.find_conflict([e(2, 2), e(3, 3), e(4, 4)]) == 4
        assert log.find_conflict([e(2, 1), e(3, 4)]) == 2
        assert log.find_conflict([e(3, 1), e(4, 2)]) == 3

    def test_find_conflict_by_term(self) -> None:
        # Terms 1 1 3 3 5 5 at indexes 1..6: the hint skips whole terms.
        log = log_with([1, 1, 3, 3, 5, 5])
        assert log.find_conflict_by_term(6, 4) == (4, 3)
        assert log.find_conflict_by_term(6, 2) == (2, 1)
        assert log.find_conflict_by_term(6, 5) == (6, 5)
        assert log.find_conflict_by_term(6, 0) == (0, 0)
        assert log.find_conflict_by_term(3, 2) == (2, 1)

    def test_find_conflict_by_term_compacted(self) -> None:
        st = MemoryStorage()
        st.apply_snapshot(Snapshot(SnapshotMetadata(3, 3, ConfState([1]))))
        st.append([e(4, 4), e(5, 5)])
        log = RaftLog(st)
        # Below the snapshot we cannot know: "may match", term 0.
        assert log.find_conflict_by_term(5, 2) == (2, 0)
        assert log.find_conflict_by_term(5, 3) == (3, 3)

    def test_maybe_append(self) -> None:
        def fresh() -> RaftLog:
            return log_with([1, 2, 3], committed=1)

        log = fresh()
        assert log.maybe_append(3, 2, 3, [e(4, 4)]) is None  # (3, 2) does not match
        assert log.maybe_append(4, 3, 3, [e(5, 4)]) is None  # past our last index
        log = fresh()
        assert log.maybe_append(3, 3, 3, []) == 3 and log.committed == 3
        log = fresh()
        assert log.maybe_append(3, 3, 4, [e(4, 4)]) == 4 and log.committed == 4
        log = fresh()
        # The commit index learned is capped by the last new entry.
        assert log.maybe_append(2, 2, 4, []) == 2 and log.committed == 2
        log = fresh()
        assert log.maybe_append(2, 2, 3, [e(3, 4)]) == 3
        assert log.term(3) == 4 and log.last_index() == 3
        log = fresh()
        # A stale append that matches entirely is not a truncation.
        assert log.maybe_append(1, 1, 1, [e(2, 2)]) == 2
        assert log.last_index() == 3

    def test_conflict_with_committed_entry_is_fatal(self) -> None:
        log = log_with([1, 2, 3], committed=2)
        with pytest.raises(RaftInvariantError):
            log.maybe_append(1, 1, 3, [e(2, 9)])

    def test_commit_only_current_term(self) -> None:
        log = log_with([1, 2, 2])
        assert not log.maybe_commit(3, 3)
        assert log.maybe_commit(2, 2) and log.committed == 2
        assert not log.maybe_commit(1, 1)  # never backwards
        with pytest.raises(RaftInvariantError):
            log.commit_to(9)

    def test_next_committed_entries_and_applied(self) -> None:
        log = log_with([1, 1, 1, 1], committed=3)
        assert [x.index for x in log.next_committed_entries()] == [1, 2, 3]
        log.applied_to(2)
        assert [x.index for x in log.next_committed_entries()] == [3]
        assert log.has_next_committed_entries()
        log.applied_to(3)
        assert not log.has_next_committed_entries()
        with pytest.raises(RaftInvariantError):
            log.applied_to(4)

    def test_slice_across_stable_and_unstable(self) -> None:
        st = MemoryStorage()
        st.apply_snapshot(Snapshot(SnapshotMetadata(2, 1, ConfState([1]))))
        st.append([e(3, 1, b"a"), e(4, 1, b"b")])
        log = RaftLog(st)
        log.append([e(5, 2, b"c"), e(6, 2, b"d")])
        assert [x.index for x in log.slice(3, 7)] == [3, 4, 5, 6]
        assert [x.index for x in log.slice(4, 6)] == [4, 5]
        assert [x.index for x in log.slice(5, 7)] == [5, 6]
        one = 1 + ENTRY_OVERHEAD
        assert [x.index for x in log.slice(3, 7, one)] == [3]
        assert [x.index for x in log.slice(3, 7, 3 * one)] == [3, 4, 5]
        with pytest.raises(CompactedError):
            log.slice(2, 4)
        with pytest.raises(RaftInvariantError):
            log.slice(3, 8)
        assert log.entries(7) == []

    def test_term_bounds_and_restore(self) -> None:
        log = log_with([1, 2])
        with pytest.raises(UnavailableError):
            log.term(3)
        log.restore(Snapshot(SnapshotMetadata(10, 5, ConfState([1]))))
        assert (log.first_index(), log.last_index(), log.committed) == (11, 10, 10)
        assert log.term(10) == 5
        with pytest.raises(CompactedError):
            log.term(2)  # the old stable entries are superseded by the pending snapshot
        log.append([e(11, 5)])
        assert log.last_term() == 5

    def test_is_up_to_date(self) -> None:
        log = log_with([1, 2, 3])
        assert log.is_up_to_date(3, 3)
        assert log.is_up_to_date(1, 4)
        assert not log.is_up_to_date(2, 3)
        assert not log.is_up_to_date(9, 2)
