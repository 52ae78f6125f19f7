"""The last N events across all keys, for watches that start in the past (``waitIndex``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

from etcdpy.store.errors import ECODE_EVENT_INDEX_CLEARED, EtcdError
from etcdpy.store.event import DELETE, EXPIRE, Event
from etcdpy.store.keypath import is_hidden

DEFAULT_CAPACITY = 1000

# Actions that can remove a directory: a watcher below it hears about it.
_REMOVALS = frozenset((DELETE, EXPIRE))


def event_matches(e: Event, key: str, key_slash: str, recursive: bool) -> bool:
    """Whether a watcher on ``key`` wants history event ``e``.

    Follows etcd 3.4's ``EventHistory.scan`` with two fixes, so that a scan gives what a
    live watcher would have been given: hidden keys below the watched path are skipped
    (etcd's scan leaks them), and a removed directory matches only watchers at or below
    it as a path (etcd compares raw string prefixes, so deleting ``/foo`` also fired a
    watch on ``/foobar``).
    """
    if e.refresh:
        return False
    nk = e.node.key
    if nk == key:
        return True
    if recursive and nk.startswith(key_slash) and not is_hidden(key, nk):
        return True
    prev = e.prev_node
    if prev is not None and prev.dir and e.action in _REMOVALS:
        pk = prev.key
        return key.startswith(pk) and key[len(pk) : len(pk) + 1] == "/"
    return False


class EventHistory:
    """A ring of the most recent events. Every store change adds exactly one event with
    index = previous index + 1, so the event for index i sits at offset i - start_index.
    """

    __slots__ = ("_events", "capacity")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"event history capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._events: deque[Event] = deque(maxlen=capacity)

    @property
    def start_index(self) -> int:
        """Index of the oldest kept event; 0 while the history is empty."""
        return self._events[0].index if self._events else 0

    @property
    def last_index(self) -> int:
        return self._events[-1].index if self._events else 0

    def __len__(self) -> int:
        return len(self._events)

    def add(self, e: Event) -> None:
        self._events.append(e)

    def events(self) -> list[Event]:
        """The kept events, oldest first."""
        return list(self._events)

    def extend(self, events: Iterable[Event]) -> None:
        self._events.extend(events)

    def _from(self, key: str, recursive: bool, index: int) -> Iterator[Event]:
        start = self.start_index
        if index < start:
            raise EtcdError(
                ECODE_EVENT_INDEX_CLEARED,
                f"the requested history has been cleared [{start}/{index}]",
                0,
            )
        if index > self.last_index:
            return iter(())
        key_slash = key if key.endswith("/") else key + "/"
        return (
            e
            for e in islice(self._events, index - start, None)
            if event_matches(e, key, key_slash, recursive)
        )

    def scan(self, key: str, recursive: bool, index: int) -> Event | None:
        """The first event at or after ``index`` that a watcher on ``key`` wants.

        Raises EtcdError 401 (with index 0: the caller fills in the store index) when
        ``index`` is older than the oldest kept event.
        """
        return next(self._from(key, recursive, index), None)

    def scan_all(self, key: str, recursive: bool, index: int) -> list[Event]:
        """Every wanted event at or after ``index``, oldest first (for stream watchers)."""
        return list(self._from(key, recursive, index))
