"""A deliberately naive model of the v2 key space: a flat dict from path to node.

Written independently of the store (no tree, no heap, no history ring) so that the two
can be compared on random operation sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class MNode:
    is_dir: bool
    value: str | None
    created: int
    modified: int
    expire: int = 0


class ModelError(Exception):
    def __init__(self, code: int, cause: str) -> None:
        super().__init__(code, cause)
        self.code = code
        self.cause = cause


Outcome = tuple  # ("ok", action, key, modified, created, value) or ("err", code, cause)


@dataclass
class Model:
    nodes: dict[str, MNode] = field(
        default_factory=lambda: {"/": MNode(True, None, 0, 0), "/1": MNode(True, None, 0, 0)}
    )
    index: int = 0
    readonly: frozenset[str] = frozenset({"/", "/1"})

    @staticmethod
    def _prefixes(p: str) -> list[str]:
        parts = p.strip("/").split("/")
        return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]

    def _check(self, p: str) -> MNode:
        """The node at p or the error etcd gives walking to it."""
        if p == "/":
            return self.nodes["/"]
        parent = "/"
        for pre in self._prefixes(p):
            if not self.nodes[parent].is_dir:
                raise ModelError(104, parent)
            if pre not in self.nodes:
                raise ModelError(100, pre)
            parent = pre
        return self.nodes[p]

    def _parents_ok(self, p: str) -> None:
        """Raise 104 if an ancestor of p is a file (walking from the root)."""
        for pre in self._prefixes(p)[:-1]:
            n = self.nodes.get(pre)
            if n is None:
                return
            if not n.is_dir:
                raise ModelError(104, pre)

    def _make(self, p: str, is_dir: bool, value: str, expire: int, replace: bool) -> MNode | None:
        if p in self.readonly:
            raise ModelError(107, "/")
        self._parents_ok(p)
        old = self.nodes.get(p)
        if old is not None:
            if not replace:
                raise ModelError(105, p)
            if old.is_dir:
                raise ModelError(102, p)
        self.index += 1
        for pre in self._prefixes(p)[:-1]:
            self.nodes.setdefault(pre, MNode(True, None, self.index, self.index))
        self.nodes[p] = MNode(is_dir, None if is_dir else value, self.index, self.index, expire)
        return old

    def _remove(self, p: str) -> None:
        for k in [k for k in self.nodes if k == p or k.startswith(p + "/")]:
            del self.nodes[k]

    @staticmethod
    def _cmp(n: MNode, pv: str, pi: int) -> None:
        vok = not pv or n.value == pv
        iok = not pi or n.modified == pi
        if vok and iok:
            return
        if iok:
            raise ModelError(101, f"[{pv} != {n.value}]")
        if vok:
            raise ModelError(101, f"[{pi} != {n.modified}]")
        raise ModelError(101, f"[{pv} != {n.value}] [{pi} != {n.modified}]")

    # Each op returns an Outcome.
    def set(self, p: str, is_dir: bool, value: str, expire: int) -> Outcome:
        self._make(p, is_dir, value, expire, True)
        n = self.nodes[p]
        return ("ok", "set", p, n.modified, n.created, n.value)

    def create(self, p: str, is_dir: bool, value: str, unique: bool, expire: int) -> Outcome:
        if unique:
            p = ("" if p == "/" else p) + f"/{self.index + 1:020d}"
        self._make(p, is_dir, value, expire, False)
        n = self.nodes[p]
        return ("ok", "create", p, n.modified, n.created, n.value)

    def update(self, p: str, value: str, expire: int) -> Outcome:
        if p in self.readonly:
            raise ModelError(107, "/")
        n = self._check(p)
        if n.is_dir and value:
            raise ModelError(102, p)
        self.index += 1
        if not n.is_dir:
            n.value = value
            n.modified = self.index
        n.expire = expire
        return ("ok", "update", p, self.index, n.created, n.value)

    def cas(self, p: str, pv: str, pi: int, value: str, expire: int) -> Outcome:
        if p in self.readonly:
            raise ModelError(107, "/")
        n = self._check(p)
        if n.is_dir:
            raise ModelError(102, p)
        self._cmp(n, pv, pi)
        self.index += 1
        n.value = value
        n.modified = self.index
        n.expire = expire
        return ("ok", "compareAndSwap", p, self.index, n.created, value)

    def delete(self, p: str, is_dir: bool, recursive: bool) -> Outcome:
        if p in self.readonly:
            raise ModelError(107, "/")
        n = self._check(p)
        if n.is_dir:
            if not (is_dir or recursive):
                raise ModelError(102, p)
            if not recursive and any(k.startswith(p + "/") for k in self.nodes):
                raise ModelError(108, p)
        self.index += 1
        self._remove(p)
        return ("ok", "delete", p, self.index, n.created, None)

    def cad(self, p: str, pv: str, pi: int) -> Outcome:
        n = self._check(p)
        if n.is_dir:
            raise ModelError(102, p)
        self._cmp(n, pv, pi)
        self.index += 1
        self._remove(p)
        return ("ok", "compareAndDelete", p, self.index, n.created, None)

    def get(self, p: str) -> Outcome:
        n = self._check(p)
        return ("ok", "get", p, n.modified, n.created, n.value)

    def expire(self, now: int) -> list[str]:
        """Expire everything due, earliest first (ties by path), one index each."""
        out: list[str] = []
        while True:
            due = sorted((n.expire, k) for k, n in self.nodes.items() if 0 < n.expire <= now)
            if not due:
                return out
            _, k = due[0]
            self.index += 1
            self._remove(k)
            out.append(k)

    def run(self, op: str, *args: object) -> Outcome:
        try:
            return getattr(self, op)(*args)
        except ModelError as err:
            return ("err", err.code, err.cause)
