"""The expiry schedule: a min-heap of (expire_ns, path, seq, node) with lazy deletion."""

from __future__ import annotations

import heapq

from etcdpy.store.node import Node

# Rebuild the heap when it holds more than this many entries and twice the live ones.
_MIN_COMPACT = 1024


class TTLHeap:
    """Nodes with an expiry time, earliest first.

    An entry is current only while ``seq == node.ttl_seq`` and the node is still in the
    tree; changing or dropping a TTL, or removing the node, just leaves the old entry to
    be skipped when it reaches the top. Equal times are broken by path, never by the
    order of scheduling: a member recovered from a snapshot must expire keys in the same
    order (and so give them the same indexes) as one that applied the whole log.
    """

    __slots__ = ("_compact_at", "_heap", "_root", "_seq")

    def __init__(self, root: Node) -> None:
        self._root = root
        self._heap: list[tuple[int, str, int, Node]] = []
        self._seq = 0
        self._compact_at = _MIN_COMPACT

    def __len__(self) -> int:
        """Heap entries, stale ones included."""
        return len(self._heap)

    def schedule(self, node: Node, expire_ns: int) -> None:
        """Make ``expire_ns`` the node's expiry time; 0 makes it permanent."""
        node.expire_ns = expire_ns
        if not expire_ns:
            node.ttl_seq = 0
            return
        self._seq += 1
        node.ttl_seq = self._seq
        heapq.heappush(self._heap, (expire_ns, node.path, self._seq, node))
        if len(self._heap) > self._compact_at:
            self._compact()

    def _current(self, entry: tuple[int, str, int, Node]) -> bool:
        node = entry[3]
        return entry[2] == node.ttl_seq and node.attached_to(self._root)

    def top(self) -> Node | None:
        """The node that expires first, dropping stale entries on the way."""
        heap = self._heap
        while heap:
            if self._current(heap[0]):
                return heap[0][3]
            heapq.heappop(heap)
        return None

    def pop_due(self, now_ns: int) -> Node | None:
        """Take out the first node whose time is ``<= now_ns``, or return None."""
        heap = self._heap
        while heap:
            entry = heap[0]
            if not self._current(entry):
                heapq.heappop(heap)
                continue
            if entry[0] > now_ns:
                return None
            heapq.heappop(heap)
            node = entry[3]
            node.ttl_seq = 0
            return node
        return None

    def rebuild(self, nodes: list[Node]) -> None:
        """Schedule every node of ``nodes`` (which all carry an expiry) at once."""
        heap = []
        seq = self._seq
        for n in nodes:
            seq += 1
            n.ttl_seq = seq
            heap.append((n.expire_ns, n.path, seq, n))
        self._seq = seq
        heapq.heapify(heap)
        self._heap = heap
        self._compact_at = max(_MIN_COMPACT, 2 * len(heap))

    def _compact(self) -> None:
        live = [e for e in self._heap if self._current(e)]
        heapq.heapify(live)
        self._heap = live
        self._compact_at = max(_MIN_COMPACT, 2 * len(live))
