"""Store snapshots: the whole key space, index, history and stats as msgpack.

Layout (one msgpack array)::

    ["etcdpy-store", 1, store_version, index, namespaces, history_capacity,
     tree, history, stats]

``tree`` is one flat array, six items per node in depth-first pre-order (children in
their insertion order, so unsorted listings survive a restart unchanged)::

    name, n_children (-1 for a key), created_index, modified_index, expire_ns, value

``history`` holds one 17-item array per event, oldest first: action, etcd_index,
refresh, then the node and the previous node (``None`` for each of its 7 fields when
there is none) as key, value, dir, expiration_ns, ttl, modified_index, created_index.
Flat arrays keep both encoding and decoding to a single pass without recursion, so a
100k-key store round-trips in a fraction of a second and any depth of tree works.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

import msgpack

from etcdpy.store.event import Event, NodeExtern
from etcdpy.store.node import Node
from etcdpy.store.stats import StoreStats

if TYPE_CHECKING:
    from etcdpy.store.store import Store

MAGIC = "etcdpy-store"
FORMAT = 1
_NODE_WIDTH = 6
_EVENT_WIDTH = 17
_NO_NODE = [None] * 7
_STATS_WIDTH = len(StoreStats().to_list())


class StoreSnapshotError(ValueError):
    """A store snapshot that cannot be decoded."""


def _extern_fields(n: NodeExtern | None) -> list[Any]:
    if n is None:
        return _NO_NODE
    return [n.key, n.value, n.dir, n.expiration_ns, n.ttl, n.modified_index, n.created_index]


def _extern_from(v: list[Any]) -> NodeExtern | None:
    if v[0] is None:
        return None
    return NodeExtern(v[0], v[1], v[2], v[3], v[4], None, v[5], v[6])


class _NoGC:
    """Pause the cyclic garbage collector while building or reading a snapshot.

    Both make hundreds of thousands of objects that live on; the collector would keep
    rescanning them for nothing (it doubles the time of a 100k-key recovery).
    """

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was_enabled:
            gc.enable()


def encode_store(store: Store) -> bytes:
    with _NoGC():
        return _encode_store(store)


def decode_store(data: bytes) -> Store:
    with _NoGC():
        return _decode_store(data)


def _encode_store(store: Store) -> bytes:
    tree: list[Any] = []
    add = tree.extend
    stack: list[tuple[str, Node]] = [("", store._root)]
    while stack:
        name, n = stack.pop()
        children = n.children
        if children is None:
            add((name, -1, n.created_index, n.modified_index, n.expire_ns, n.value))
        else:
            add((name, len(children), n.created_index, n.modified_index, n.expire_ns, None))
            if children:
                stack.extend(reversed(children.items()))
    history: list[list[Any]] = []
    for e in store._hub.history.events():
        row = [e.action, e.etcd_index, e.refresh]
        row += _extern_fields(e.node)
        row += _extern_fields(e.prev_node)
        history.append(row)
    doc = [
        MAGIC,
        FORMAT,
        store.version,
        store._index,
        store._namespaces,
        store._hub.history.capacity,
        tree,
        history,
        store._stats.to_list(),
    ]
    return msgpack.packb(doc, use_bin_type=True)


def _decode_store(data: bytes) -> Store:
    from etcdpy.store.store import Store

    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as err:
        raise StoreSnapshotError(
            f"the store snapshot is not valid msgpack ({err}); restore from another snapshot"
        ) from err
    if not isinstance(doc, list) or len(doc) != 9 or doc[0] != MAGIC:
        raise StoreSnapshotError(
            "the data is not an etcdpy store snapshot (bad header); restore from another snapshot"
        )
    if doc[1] != FORMAT:
        raise StoreSnapshotError(
            f"the store snapshot has format {doc[1]!r} but this etcdpy reads format {FORMAT}; "
            "use a matching etcdpy version"
        )
    _, _, _version, index, namespaces, capacity, tree, history, stats = doc
    if not (
        isinstance(index, int)
        and isinstance(capacity, int)
        and isinstance(namespaces, list)
        and isinstance(tree, list)
        and isinstance(history, list)
        and isinstance(stats, list)
        and len(stats) == _STATS_WIDTH
        and all(isinstance(v, int) for v in stats)
    ):
        raise StoreSnapshotError(
            "the store snapshot is damaged (a header field has the wrong type); "
            "restore from another snapshot"
        )
    try:
        store = Store(namespaces, capacity)
        root, ttl_nodes = _decode_tree(tree)
        store._root = root
        store._ttl._root = root
        store._ttl.rebuild(ttl_nodes)
        store._index = index
        store._hub.history.extend(_decode_event(row) for row in history)
        store._stats = StoreStats.from_list(stats)
    except StoreSnapshotError:
        raise
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        raise StoreSnapshotError(
            f"the store snapshot is damaged ({err}); restore from another snapshot"
        ) from err
    return store


def _decode_event(row: list[Any]) -> Event:
    if len(row) != _EVENT_WIDTH:
        raise StoreSnapshotError(
            f"a history event in the store snapshot has {len(row)} fields instead of "
            f"{_EVENT_WIDTH}; restore from another snapshot"
        )
    node = _extern_from(row[3:10])
    if node is None:
        raise StoreSnapshotError("a history event in the store snapshot has no node")
    return Event(row[0], node, _extern_from(row[10:17]), row[1], row[2])


def _decode_tree(tree: list[Any]) -> tuple[Node, list[Node]]:
    if len(tree) < _NODE_WIDTH or len(tree) % _NODE_WIDTH or tree[1] < 0:
        raise StoreSnapshotError(
            "the tree in the store snapshot is truncated; restore from another snapshot"
        )
    root = Node("/", None, tree[2], tree[3], tree[4], None, {})
    ttl_nodes: list[Node] = []
    # The directory being filled, how many of its children are still to come, and the
    # same for the directories above it.
    parent = root
    children: dict[str, Node] = root.children  # type: ignore[assignment]
    prefix = ""
    left = tree[1]
    stack: list[tuple[Node, dict[str, Node], str, int]] = []
    it = iter(tree)
    for _ in range(_NODE_WIDTH):
        next(it)
    for name, count, created, modified, expire, value in zip(it, it, it, it, it, it, strict=True):
        while not left:
            if not stack:
                raise StoreSnapshotError(
                    "the tree in the store snapshot has extra nodes; restore from another snapshot"
                )
            parent, children, prefix, left = stack.pop()
        left -= 1
        path = prefix + "/" + name
        if count < 0:
            n = Node(path, parent, created, modified, expire, value, None)
            children[name] = n
        else:
            n = Node(path, parent, created, modified, expire, None, {})
            children[name] = n
            stack.append((parent, children, prefix, left))
            parent, children, prefix, left = n, n.children, path, count  # type: ignore[assignment]
        if expire:
            ttl_nodes.append(n)
    if left or any(frame[3] for frame in stack):
        raise StoreSnapshotError(
            "the tree in the store snapshot is truncated; restore from another snapshot"
        )
    return root, ttl_nodes
