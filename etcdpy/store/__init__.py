"""The v2 key space (etcd's v2 store), pure and deterministic: no I/O, no clock.

Public interface: :class:`Store`, :class:`Event`, :class:`NodeExtern`, :class:`Watcher`,
:class:`EtcdError` and the action names. Times are integer unix nanoseconds; an
``expire_ns`` of 0 (or less) means permanent.

Additions to the agreed interface (nothing was changed):
- ``Store(namespaces, history_capacity=1000)``: the history size, etcd's hard-coded
  1000 by default (its most complained-about limit, so it is a knob here).
- ``Store.history()``, ``Store.version``, ``Store.namespaces``, ``Event.index``,
  ``Event.with_etcd_index()``, ``Watcher.pending``, ``Watcher.path``,
  ``WATCHER_QUEUE_LIMIT``, ``StoreSnapshotError`` (raised by ``Store.recover`` on
  damaged data).

Using a watcher: ``w = store.watch(...)`` (may raise 401), ``w.set_notify(wake)`` (fires
at once if something is already pending), then loop: ``e = w.pop()``; an event is sent,
``None`` with ``w.closed`` ends the answer, ``None`` otherwise waits for ``wake``. Call
``w.remove()`` when the client goes away. Event and NodeExtern objects are shared with
the history: render them with ``to_dict``, never mutate them.

Deliberate differences from etcd 3.4's v2 store, and choices where it has none:
- A stream watcher gets each event once. etcd sends the event of a deleted, expired or
  compare-and-deleted node twice to the stream watchers registered at that node's path.
- A stream watch starting in the history gets every matching kept event and then keeps
  streaming; etcd sends the first one and then nothing ever again.
- History scans (``waitIndex`` in the past) apply the same hidden-key rule as live
  notification, and a deleted directory matches watchers below it by path, not by raw
  string prefix (etcd fired a watch on ``/foobar`` when ``/foo`` was deleted).
- Stats count each failure as a failure. etcd counts some failures as successes
  (update's read-only and not-a-file errors, delete's and compareAndSwap's read-only
  errors, compareAndDelete's not-a-file and compare errors) and counts a create that
  fails on a file in its path as a failed set too.
- ``refresh`` is never rendered in JSON: etcd's response path drops it too, so this
  matches the wire, not the struct tag.
- Expiry ties (equal expire times) are broken by path, so every member, recovered from
  a snapshot or not, expires them in the same order.
"""

from etcdpy.store.codec import StoreSnapshotError
from etcdpy.store.errors import EtcdError
from etcdpy.store.event import (
    COMPARE_AND_DELETE,
    COMPARE_AND_SWAP,
    CREATE,
    DELETE,
    EXPIRE,
    GET,
    SET,
    UPDATE,
    Event,
    NodeExtern,
)
from etcdpy.store.store import Store
from etcdpy.store.watcher import WATCHER_QUEUE_LIMIT, Watcher

__all__ = [
    "COMPARE_AND_DELETE",
    "COMPARE_AND_SWAP",
    "CREATE",
    "DELETE",
    "EXPIRE",
    "GET",
    "SET",
    "UPDATE",
    "WATCHER_QUEUE_LIMIT",
    "EtcdError",
    "Event",
    "NodeExtern",
    "Store",
    "StoreSnapshotError",
    "Watcher",
]
