"""Watchers and the hub that finds them when an event happens."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from etcdpy.store.errors import EtcdError
from etcdpy.store.event import Event
from etcdpy.store.event_history import DEFAULT_CAPACITY, EventHistory
from etcdpy.store.keypath import is_hidden

# Undelivered events a watcher may hold; one more and it is dropped (etcd's channel size).
WATCHER_QUEUE_LIMIT = 100


class Watcher:
    """One watch: a queue of events for the caller to :meth:`pop`.

    The store calls the notify callback synchronously whenever it queues an event or
    closes the watcher, so an asyncio handler can set an ``asyncio.Event`` and drain
    :meth:`pop` when it runs. Once :attr:`closed`, no event will be added any more, but
    the ones already queued can still be popped.
    """

    __slots__ = (
        "_cb",
        "_closed",
        "_events",
        "_hub",
        "_last_index",
        "path",
        "recursive",
        "since_index",
        "start_index",
        "stream",
    )

    def __init__(
        self, path: str, recursive: bool, stream: bool, since_index: int, start_index: int
    ) -> None:
        self.path = path
        self.recursive = recursive
        self.stream = stream
        self.since_index = since_index
        self.start_index = start_index
        self._events: deque[Event] = deque()
        self._cb: Callable[[], None] | None = None
        self._closed = False
        self._hub: WatcherHub | None = None
        # Highest event index queued: a stream watcher must not get one event twice
        # (etcd sends a removed key's event to its watchers twice; see the store docs).
        self._last_index = 0

    def set_notify(self, cb: Callable[[], None] | None) -> None:
        """Set the wake-up callback; it fires at once if something is already pending."""
        self._cb = cb
        if cb is not None and (self._events or self._closed):
            cb()

    def pop(self) -> Event | None:
        """The next queued event, or None."""
        return self._events.popleft() if self._events else None

    @property
    def pending(self) -> int:
        return len(self._events)

    @property
    def closed(self) -> bool:
        return self._closed

    def remove(self) -> None:
        """Unregister from the store; idempotent."""
        if self._hub is not None:
            self._hub.unregister(self)
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._cb is not None:
                self._cb()

    def _queue(self, e: Event) -> None:
        """Queue ``e``, or drop the watcher when its queue is full (a slow consumer)."""
        if len(self._events) >= WATCHER_QUEUE_LIMIT:
            if self._hub is not None:
                self._hub.unregister(self)
            self._close()
            return
        self._events.append(e)
        self._last_index = e.node.modified_index
        if self._cb is not None:
            self._cb()

    def _deliver_last(self, e: Event) -> None:
        """Queue the one event of a one-shot watcher and close it, waking the caller once."""
        self._events.append(e)
        self._last_index = e.node.modified_index
        self._close()

    def __repr__(self) -> str:
        return (
            f"Watcher({self.path!r}, recursive={self.recursive}, stream={self.stream}, "
            f"since={self.since_index}, pending={len(self._events)}, closed={self._closed})"
        )


class WatcherHub:
    """Registered watchers by watched path, plus the event history.

    Notifying walks only the changed key's ancestors (and, for a removed directory, the
    paths below it that someone watches), so the cost does not grow with the number of
    watchers elsewhere.
    """

    __slots__ = ("count", "history", "watchers")

    def __init__(self, history_capacity: int = DEFAULT_CAPACITY) -> None:
        self.watchers: dict[str, dict[Watcher, None]] = {}
        self.history = EventHistory(history_capacity)
        self.count = 0

    def watch(
        self, path: str, recursive: bool, stream: bool, since_index: int, store_index: int
    ) -> Watcher:
        """A watcher on ``path`` for events from ``since_index`` on.

        Events already in the history are queued at once (answering with the store's
        current index, as etcd does). A one-shot watcher answered from the history is
        closed right away; a stream watcher gets every matching kept event and stays
        registered for the next ones. Raises EtcdError 401 when ``since_index`` is older
        than the history.
        """
        w = Watcher(path, recursive, stream, since_index, store_index)
        history = self.history
        try:
            if stream:
                past = history.scan_all(path, recursive, since_index)
            else:
                hit = history.scan(path, recursive, since_index)
                past = [hit] if hit is not None else []
        except EtcdError as err:
            err.index = store_index
            raise
        if past and not stream:
            w._deliver_last(past[0].with_etcd_index(store_index))
            return w
        for e in past:
            w._queue(e.with_etcd_index(store_index))
            if w._closed:
                return w
        w._hub = self
        self.watchers.setdefault(path, {})[w] = None
        self.count += 1
        return w

    def unregister(self, w: Watcher) -> None:
        if w._hub is not self:
            return
        w._hub = None
        ws = self.watchers.get(w.path)
        if ws is not None and w in ws:
            del ws[w]
            self.count -= 1
            if not ws:
                del self.watchers[w.path]

    def add(self, e: Event) -> None:
        """Record ``e`` in the history without telling anyone (refresh events)."""
        self.history.add(e)

    def notify(self, e: Event) -> None:
        """Record ``e`` and deliver it to watchers on the key and on its ancestors."""
        self.history.add(e)
        if not self.watchers:
            return
        key = e.node.key
        self.notify_path(e, "/", False)
        if key == "/":
            return
        i = key.find("/", 1)
        while i != -1:
            self.notify_path(e, key[:i], False)
            i = key.find("/", i + 1)
        self.notify_path(e, key, False)

    def notify_path(self, e: Event, path: str, deleted: bool) -> None:
        """Deliver ``e`` to the watchers registered exactly at ``path``.

        ``deleted`` marks a watcher at or below a removed node: it hears about the
        removal whatever its recursive flag and hidden rules.
        """
        ws = self.watchers.get(path)
        if ws is None:
            return
        key = e.node.key
        original = key == path
        if not original and not deleted and is_hidden(path, key):
            return
        index = e.node.modified_index
        for w in list(ws):
            if not (w.recursive or original or deleted) or index < w.since_index:
                continue
            if index <= w._last_index:
                continue
            if w.stream:
                w._queue(e)
            else:
                self.unregister(w)
                w._deliver_last(e)
