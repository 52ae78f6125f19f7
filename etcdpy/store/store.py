"""The v2 key space: a tree of keys and directories driven by deterministic calls.

No I/O, no clock: every call that needs "now" takes it as ``now_ns`` (integer unix
nanoseconds), used only to render ``ttl`` in answers. Keys expire only through
:meth:`Store.delete_expired_keys`, which the server applies at the same log position on
every member.
"""

from __future__ import annotations

from collections.abc import Iterable

from etcdpy.store.errors import (
    ECODE_DIR_NOT_EMPTY,
    ECODE_KEY_NOT_FOUND,
    ECODE_NODE_EXIST,
    ECODE_NOT_DIR,
    ECODE_NOT_FILE,
    ECODE_ROOT_RONLY,
    ECODE_TEST_FAILED,
    EtcdError,
)
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
    ttl_seconds,
)
from etcdpy.store.event_history import DEFAULT_CAPACITY
from etcdpy.store.keypath import clean_path, join
from etcdpy.store.node import Node
from etcdpy.store.stats import StoreStats
from etcdpy.store.ttl import TTLHeap
from etcdpy.store.watcher import Watcher, WatcherHub

STORE_VERSION = 2

# Below this many watched paths, finding the watchers under a removed directory scans
# the watched paths; above it, it walks the removed subtree.
_SCAN_WATCHERS_BELOW = 256


def _compare_fail_cause(n: Node, prev_value: str, prev_index: int) -> str | None:
    """None when the node passes the test, else etcd's cause string for error 101."""
    value_ok = not prev_value or n.value == prev_value
    index_ok = not prev_index or n.modified_index == prev_index
    if value_ok and index_ok:
        return None
    if index_ok:
        return f"[{prev_value} != {n.value}]"
    if value_ok:
        return f"[{prev_index} != {n.modified_index}]"
    return f"[{prev_value} != {n.value}] [{prev_index} != {n.modified_index}]"


class Store:
    """etcd's v2 store (``etcdserver/api/v2store`` of etcd 3.4) for one member."""

    __slots__ = ("_hub", "_index", "_namespaces", "_readonly", "_root", "_stats", "_ttl")

    def __init__(
        self, namespaces: Iterable[str] = (), history_capacity: int = DEFAULT_CAPACITY
    ) -> None:
        """Create the root and each namespace (e.g. "/0", "/1") as permanent read-only
        directories, without using any index."""
        self._root = Node("/", None, 0, 0, 0, None, {})
        self._namespaces: list[str] = []
        for ns in namespaces:
            p = clean_path(ns)
            if p == "/" or p.count("/") != 1:
                raise ValueError(f"store namespace {ns!r} must be one top-level name like /1")
            assert self._root.children is not None
            self._root.children[p[1:]] = Node(p, self._root, 0, 0, 0, None, {})
            self._namespaces.append(p)
        self._readonly = frozenset(["/", *self._namespaces])
        self._index = 0
        self._hub = WatcherHub(history_capacity)
        self._ttl = TTLHeap(self._root)
        self._stats = StoreStats()

    # ----------------------------------------------------------------- properties

    @property
    def index(self) -> int:
        """The store's CurrentIndex: +1 per successful change."""
        return self._index

    @property
    def version(self) -> int:
        return STORE_VERSION

    @property
    def namespaces(self) -> list[str]:
        return list(self._namespaces)

    @property
    def history_capacity(self) -> int:
        return self._hub.history.capacity

    @property
    def watcher_count(self) -> int:
        return self._hub.count

    # ----------------------------------------------------------------- lookups

    def _find(self, p: str) -> Node | None:
        """The node at clean path ``p``, or None (missing, or below a file)."""
        n = self._root
        if p == "/":
            return n
        for name in p[1:].split("/"):
            children = n.children
            if children is None:
                return None
            child = children.get(name)
            if child is None:
                return None
            n = child
        return n

    def _lookup_error(self, p: str) -> EtcdError:
        """The error etcd gives for a path :meth:`_find` could not resolve.

        100 names the first missing component; 104 names the file in the way.
        """
        n = self._root
        for name in p[1:].split("/"):
            children = n.children
            if children is None:
                return EtcdError(ECODE_NOT_DIR, n.path, self._index)
            child = children.get(name)
            if child is None:
                return EtcdError(ECODE_KEY_NOT_FOUND, join(n.path, name), self._index)
            n = child
        raise AssertionError(f"{p} exists")  # pragma: no cover

    def _get_node(self, p: str) -> Node:
        n = self._find(p)
        if n is None:
            raise self._lookup_error(p)
        return n

    def _make_dirs(self, dir_path: str, index: int) -> Node:
        """The directory at clean path ``dir_path``, creating missing ones (permanent,
        created at ``index``). Raises 104 naming a file in the way."""
        d = self._root
        if dir_path == "/":
            return d
        for name in dir_path[1:].split("/"):
            children = d.children
            assert children is not None
            child = children.get(name)
            if child is None:
                child = Node(join(d.path, name), d, index, index, 0, None, {})
                children[name] = child
            elif child.children is None:
                raise EtcdError(ECODE_NOT_DIR, child.path, self._index)
            d = child
        return d

    # ----------------------------------------------------------------- reads

    def get(self, path: str, recursive: bool, sorted: bool, now_ns: int) -> Event:
        """The node at ``path`` (with its children if a directory). Raises 100 or 104."""
        p = clean_path(path)
        n = self._find(p)
        if n is None:
            self._stats.gets_fail += 1
            raise self._lookup_error(p)
        self._stats.gets_success += 1
        # extern_tree also handles keys; the direct call just saves a little per get.
        ext = n.extern(now_ns) if n.children is None else n.extern_tree(recursive, sorted, now_ns)
        return Event(GET, ext, None, self._index)

    def peek(self, path: str) -> str | None:
        """The value of the key at ``path`` (None: missing or a directory), for the
        server's own lookups: not counted in the statistics, no event built."""
        n = self._find(clean_path(path))
        return n.value if n is not None and n.children is None else None

    def record_get(self, ok: bool) -> None:
        """Count a get served without :meth:`get` (get() counts its own)."""
        self._stats.count(GET, ok)

    # ----------------------------------------------------------------- writes

    def _create(
        self,
        p: str,
        is_dir: bool,
        value: str,
        unique: bool,
        replace: bool,
        expire_ns: int,
        now_ns: int,
        action: str,
    ) -> Event:
        """etcd's ``internalCreate``: make a key or directory at clean path ``p``."""
        index = self._index + 1
        if unique:
            p = join(p, f"{index:020d}")
        if p in self._readonly:
            raise EtcdError(ECODE_ROOT_RONLY, "/", self._index)
        dir_path, _, name = p.rpartition("/")
        d = self._make_dirs(dir_path or "/", index)
        children = d.children
        assert children is not None
        old = children.get(name)
        prev: NodeExtern | None = None
        if old is not None:
            if not replace:
                raise EtcdError(ECODE_NODE_EXIST, p, self._index)
            if old.children is not None:
                raise EtcdError(ECODE_NOT_FILE, p, self._index)
            prev = old.extern(now_ns)
            # A replaced file has no watchers of its own to tell: the new event reaches
            # them. Cutting it loose also retires its TTL heap entry.
            old.parent = None
            old.ttl_seq = 0
        if expire_ns < 0:
            expire_ns = 0
        if is_dir:
            n = Node(p, d, index, index, 0, None, {})
        else:
            n = Node(p, d, index, index, 0, value, None)
        children[name] = n
        ttl = 0
        if expire_ns:
            self._ttl.schedule(n, expire_ns)
            ttl = ttl_seconds(expire_ns, now_ns)
        self._index = index
        ext = NodeExtern(p, None if is_dir else value, is_dir, expire_ns, ttl, None, index, index)
        return Event(action, ext, prev, index)

    def set(
        self,
        path: str,
        dir: bool,
        value: str,
        expire_ns: int,
        now_ns: int,
        refresh: bool = False,
    ) -> Event:
        """Create or replace the key at ``path`` (a directory cannot be replaced: 102).

        With ``refresh`` the key must exist; its value is kept, its TTL becomes
        ``expire_ns``, and watchers are not told (the event still takes an index).
        """
        p = clean_path(path)
        try:
            if refresh:
                n = self._get_node(p)
                value = n.value if n.value is not None else ""
            e = self._create(p, dir, value, False, True, expire_ns, now_ns, SET)
        except EtcdError:
            self._stats.sets_fail += 1
            raise
        self._stats.sets_success += 1
        if refresh:
            e.refresh = True
            self._hub.add(e)
        else:
            self._hub.notify(e)
        return e

    def create(
        self, path: str, dir: bool, value: str, unique: bool, expire_ns: int, now_ns: int
    ) -> Event:
        """Create a key or directory that must not exist (105). With ``unique`` the new
        node is a child of ``path`` named after the new index (``%020d``): in-order keys."""
        p = clean_path(path)
        try:
            e = self._create(p, dir, value, unique, False, expire_ns, now_ns, CREATE)
        except EtcdError:
            self._stats.create_fail += 1
            raise
        self._stats.create_success += 1
        self._hub.notify(e)
        return e

    def update(
        self, path: str, value: str, expire_ns: int, now_ns: int, refresh: bool = False
    ) -> Event:
        """Change an existing key's value and TTL, or a directory's TTL.

        ``expire_ns`` 0 makes the node permanent. A directory takes no value (102); as in
        etcd, the event carries the new index but the directory keeps its modifiedIndex.
        """
        p = clean_path(path)
        stats = self._stats
        try:
            if p in self._readonly:
                raise EtcdError(ECODE_ROOT_RONLY, "/", self._index)
            n = self._get_node(p)
            is_dir = n.children is not None
            if is_dir and value:
                raise EtcdError(ECODE_NOT_FILE, p, self._index)
        except EtcdError:
            stats.update_fail += 1
            raise
        if refresh:
            value = n.value if n.value is not None else ""
        index = self._index + 1
        prev = n.extern(now_ns)
        if not is_dir:
            n.value = value
            n.modified_index = index
        self._reschedule(n, expire_ns)
        exp = n.expire_ns
        ext = NodeExtern(
            p,
            None if is_dir else value,
            is_dir,
            exp,
            ttl_seconds(exp, now_ns) if exp else 0,
            None,
            index,
            n.created_index,
        )
        e = Event(UPDATE, ext, prev, index)
        self._index = index
        stats.update_success += 1
        if refresh:
            e.refresh = True
            self._hub.add(e)
        else:
            self._hub.notify(e)
        return e

    def _reschedule(self, n: Node, expire_ns: int) -> None:
        if expire_ns <= 0:
            if n.expire_ns:
                self._ttl.schedule(n, 0)
        else:
            self._ttl.schedule(n, expire_ns)

    def compare_and_swap(
        self,
        path: str,
        prev_value: str,
        prev_index: int,
        value: str,
        expire_ns: int,
        now_ns: int,
        refresh: bool = False,
    ) -> Event:
        """Set a key's value only if its value is ``prev_value`` and its modifiedIndex
        is ``prev_index`` (an empty value or index 0 is not tested). 101 otherwise."""
        p = clean_path(path)
        stats = self._stats
        try:
            if p in self._readonly:
                raise EtcdError(ECODE_ROOT_RONLY, "/", self._index)
            n = self._get_node(p)
            if n.children is not None:
                raise EtcdError(ECODE_NOT_FILE, p, self._index)
            cause = _compare_fail_cause(n, prev_value, prev_index)
            if cause is not None:
                raise EtcdError(ECODE_TEST_FAILED, cause, self._index)
        except EtcdError:
            stats.compare_and_swap_fail += 1
            raise
        if refresh:
            value = n.value if n.value is not None else ""
        index = self._index + 1
        self._index = index
        prev = n.extern(now_ns)
        n.value = value
        n.modified_index = index
        self._reschedule(n, expire_ns)
        exp = n.expire_ns
        ext = NodeExtern(
            p,
            value,
            False,
            exp,
            ttl_seconds(exp, now_ns) if exp else 0,
            None,
            index,
            n.created_index,
        )
        e = Event(COMPARE_AND_SWAP, ext, prev, index)
        stats.compare_and_swap_success += 1
        if refresh:
            e.refresh = True
            self._hub.add(e)
        else:
            self._hub.notify(e)
        return e

    def delete(self, path: str, dir: bool, recursive: bool, now_ns: int) -> Event:
        """Remove a key, an empty directory (``dir``) or a whole subtree (``recursive``).

        One event, however many nodes go; watchers at or below the removed node hear
        about it.
        """
        p = clean_path(path)
        stats = self._stats
        try:
            if p in self._readonly:
                raise EtcdError(ECODE_ROOT_RONLY, "/", self._index)
            n = self._get_node(p)
            is_dir = n.children is not None
            if is_dir:
                if not (dir or recursive):
                    raise EtcdError(ECODE_NOT_FILE, p, self._index)
                if n.children and not recursive:
                    raise EtcdError(ECODE_DIR_NOT_EMPTY, p, self._index)
        except EtcdError:
            stats.delete_fail += 1
            raise
        index = self._index + 1
        ext = NodeExtern(p, None, is_dir, 0, 0, None, index, n.created_index)
        e = Event(DELETE, ext, n.extern(now_ns), index)
        self._remove(n, e)
        self._index = index
        stats.delete_success += 1
        self._hub.notify(e)
        return e

    def compare_and_delete(self, path: str, prev_value: str, prev_index: int, now_ns: int) -> Event:
        """Remove a key only if it passes the same test as :meth:`compare_and_swap`."""
        p = clean_path(path)
        stats = self._stats
        try:
            n = self._get_node(p)
            if n.children is not None:
                raise EtcdError(ECODE_NOT_FILE, p, self._index)
            cause = _compare_fail_cause(n, prev_value, prev_index)
            if cause is not None:
                raise EtcdError(ECODE_TEST_FAILED, cause, self._index)
        except EtcdError:
            stats.compare_and_delete_fail += 1
            raise
        index = self._index + 1
        self._index = index
        ext = NodeExtern(p, None, False, 0, 0, None, index, n.created_index)
        e = Event(COMPARE_AND_DELETE, ext, n.extern(now_ns), index)
        self._remove(n, e)
        stats.compare_and_delete_success += 1
        self._hub.notify(e)
        return e

    def _remove(self, n: Node, e: Event) -> None:
        """Cut ``n`` out of the tree and tell the watchers at or below it.

        The TTL entries of the removed nodes go stale by themselves (they are no longer
        attached to the root), so the subtree is walked only to find watchers.
        """
        parent = n.parent
        assert parent is not None and parent.children is not None
        del parent.children[n.name]
        n.parent = None
        n.ttl_seq = 0
        hub = self._hub
        watched = hub.watchers
        if not watched:
            return
        if n.children is None:
            hub.notify_path(e, n.path, True)
            return
        if len(watched) < _SCAN_WATCHERS_BELOW:
            # Few watched paths: find the ones inside the removed subtree directly.
            base = n.path
            below = base + "/"
            for wp in list(watched):
                if (wp == base or wp.startswith(below)) and self._in_subtree(n, wp):
                    hub.notify_path(e, wp, True)
            return
        for m in n.iter_subtree():
            if m.path in watched:
                hub.notify_path(e, m.path, True)

    @staticmethod
    def _in_subtree(top: Node, p: str) -> bool:
        """Whether the node at path ``p`` (at or below ``top.path``) exists under ``top``."""
        rest = p[len(top.path) + 1 :]
        n = top
        if not rest:
            return True
        for name in rest.split("/"):
            if n.children is None:
                return False
            child = n.children.get(name)
            if child is None:
                return False
            n = child
        return True

    # ----------------------------------------------------------------- TTL

    def delete_expired_keys(self, now_ns: int) -> list[Event]:
        """Expire every node whose time is ``<= now_ns``: one ``expire`` event (and one
        index) each, directories with their whole subtree, earliest first."""
        out: list[Event] = []
        pop_due = self._ttl.pop_due
        while (n := pop_due(now_ns)) is not None:
            index = self._index + 1
            self._index = index
            is_dir = n.children is not None
            ext = NodeExtern(n.path, None, is_dir, 0, 0, None, index, n.created_index)
            e = Event(EXPIRE, ext, n.extern(now_ns), index)
            self._remove(n, e)
            self._stats.expire_count += 1
            self._hub.notify(e)
            out.append(e)
        return out

    def has_ttl_keys(self) -> bool:
        return self._ttl.top() is not None

    def next_expiration(self) -> int | None:
        """The earliest expiry time (unix ns) of any node, or None."""
        n = self._ttl.top()
        return None if n is None else n.expire_ns

    # ----------------------------------------------------------------- watches

    def watch(
        self, path: str, recursive: bool, stream: bool, since_index: int, now_ns: int
    ) -> Watcher:
        """Watch ``path`` (and below it if ``recursive``) from ``since_index`` (0: the
        next change). Raises EtcdError 401 when ``since_index`` left the history."""
        p = clean_path(path)
        if since_index == 0:
            since_index = self._index + 1
        return self._hub.watch(p, recursive, stream, since_index, self._index)

    # ----------------------------------------------------------------- stats, snapshot

    def stats(self) -> dict[str, int]:
        """The ``/v2/stats/store`` object, in etcd's field order."""
        return self._stats.to_dict(self._hub.count)

    def history(self) -> list[Event]:
        """The kept events, oldest first."""
        return self._hub.history.events()

    def save(self) -> bytes:
        """The whole state (tree, index, history, stats, TTLs) as bytes; no watchers."""
        from etcdpy.store.codec import encode_store

        return encode_store(self)

    @classmethod
    def recover(cls, data: bytes) -> Store:
        """The inverse of :meth:`save`. Raises StoreSnapshotError on bad data."""
        from etcdpy.store.codec import decode_store

        return decode_store(data)

    def restore(self, data: bytes) -> None:
        """Replace the whole state with a saved one (a snapshot from the leader) while
        keeping the registered watchers, as etcd's ``Recovery`` does: they go on
        watching the new tree. Raises StoreSnapshotError on bad data, changing nothing."""
        other = Store.recover(data)
        self._root = other._root
        self._namespaces = other._namespaces
        self._readonly = other._readonly
        self._index = other._index
        self._ttl = other._ttl
        self._stats = other._stats
        self._hub.history = other._hub.history
