"""The tree node of the v2 key space."""

from __future__ import annotations

from dataclasses import dataclass

from etcdpy.store.event import NodeExtern, ttl_seconds


@dataclass(slots=True, eq=False)
class Node:
    """A key (``children is None``) or a directory (``children`` maps names to nodes).

    ``parent`` is None for the root and for a node cut out of the tree; a node inside a
    cut-out subtree keeps its parent, so "is it still in the tree" means walking up to
    the root (see :meth:`attached_to`). ``ttl_seq`` names the one TTL heap entry that is
    current for this node (0: none), which lets stale heap entries be skipped lazily.
    """

    path: str
    parent: Node | None
    created_index: int
    modified_index: int
    expire_ns: int = 0
    value: str | None = None
    children: dict[str, Node] | None = None
    ttl_seq: int = 0

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    def attached_to(self, root: Node) -> bool:
        n = self
        while n.parent is not None:
            n = n.parent
        return n is root

    def extern(self, now_ns: int) -> NodeExtern:
        """This node alone (no children), as etcd's ``Repr(false, false)``."""
        exp = self.expire_ns
        ttl = ttl_seconds(exp, now_ns) if exp else 0
        if self.children is None:
            return NodeExtern(
                self.path, self.value, False, exp, ttl, None, self.modified_index,
                self.created_index,
            )  # fmt: skip
        return NodeExtern(
            self.path, None, True, exp, ttl, None, self.modified_index, self.created_index
        )

    def extern_tree(self, recursive: bool, sort: bool, now_ns: int) -> NodeExtern:
        """This node with its visible children (all levels when ``recursive``).

        Hidden children (name starting with ``_``) are left out at every level. Built
        with an explicit stack so that very deep trees cannot exhaust Python's stack.
        """
        top = self.extern(now_ns)
        if self.children is None:
            return top
        top.nodes = []
        stack: list[tuple[Node, NodeExtern]] = [(self, top)]
        while stack:
            node, ext = stack.pop()
            children = node.children
            assert children is not None and ext.nodes is not None
            names = sorted(children) if sort else children
            out = ext.nodes
            for name in names:
                if name[0] == "_":
                    continue
                child = children[name]
                cext = child.extern(now_ns)
                out.append(cext)
                if recursive and child.children is not None:
                    cext.nodes = []
                    stack.append((child, cext))
        return top

    def iter_subtree(self) -> list[Node]:
        """Every node of this subtree, itself last (children before their directory)."""
        out: list[Node] = []
        stack: list[Node] = [self]
        while stack:
            n = stack.pop()
            out.append(n)
            if n.children:
                stack.extend(n.children.values())
        out.reverse()
        return out
