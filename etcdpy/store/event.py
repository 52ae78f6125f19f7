"""Events and external nodes: what the store answers, and their etcd JSON rendering."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

GET = "get"
CREATE = "create"
SET = "set"
UPDATE = "update"
DELETE = "delete"
COMPARE_AND_SWAP = "compareAndSwap"
COMPARE_AND_DELETE = "compareAndDelete"
EXPIRE = "expire"

_NS_PER_S = 1_000_000_000


def rfc3339nano(ns: int) -> str:
    """Format unix nanoseconds like Go's ``time.Time`` JSON (RFC3339Nano, UTC).

    Go drops trailing zeros of the fraction, and the dot too when the fraction is zero.
    """
    sec, frac = divmod(ns, _NS_PER_S)
    t = time.gmtime(sec)
    s = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}"
    if frac:
        s += "." + f"{frac:09d}".rstrip("0")
    return s + "Z"


def ttl_seconds(expire_ns: int, now_ns: int) -> int:
    """Remaining whole seconds, rounded up (etcd shows 1..n, and <= 0 once late)."""
    # Go truncates towards zero and adds one for a positive remainder: that is a ceiling
    # for both signs.
    return -((now_ns - expire_ns) // _NS_PER_S)


@dataclass(slots=True)
class NodeExtern:
    """A node as clients see it (etcd ``NodeExtern``). Treat it as immutable once made:
    the same object is shared by the history, watchers and the writer's answer."""

    key: str
    value: str | None = None
    dir: bool = False
    expiration_ns: int = 0
    ttl: int = 0
    nodes: list[NodeExtern] | None = None
    modified_index: int = 0
    created_index: int = 0

    def to_dict(self, trim_prefix: str = "") -> dict[str, Any]:
        """etcd's JSON object: field order of the Go struct, every field omitempty."""
        d: dict[str, Any] = {}
        key = self.key
        if trim_prefix and key.startswith(trim_prefix):
            key = key[len(trim_prefix) :]
        if key:
            d["key"] = key
        if self.value is not None:
            d["value"] = self.value
        if self.dir:
            d["dir"] = True
        if self.expiration_ns:
            d["expiration"] = rfc3339nano(self.expiration_ns)
        if self.ttl:
            d["ttl"] = self.ttl
        if self.nodes:
            d["nodes"] = [n.to_dict(trim_prefix) for n in self.nodes]
        if self.modified_index:
            d["modifiedIndex"] = self.modified_index
        if self.created_index:
            d["createdIndex"] = self.created_index
        return d


@dataclass(slots=True)
class Event:
    """The result of one store action (etcd ``Event``)."""

    action: str
    node: NodeExtern
    prev_node: NodeExtern | None = None
    etcd_index: int = 0
    refresh: bool = False

    @property
    def index(self) -> int:
        """The store index this event was made at (its node's modifiedIndex)."""
        return self.node.modified_index

    def is_created(self) -> bool:
        """True when the answer is HTTP 201: a create, or a set that made a new key."""
        return self.action == CREATE or (self.action == SET and self.prev_node is None)

    def to_dict(self, trim_prefix: str = "") -> dict[str, Any]:
        """etcd's JSON object for the event.

        ``refresh`` is never rendered: etcd copies every event before writing it with
        ``Event.Clone``, which drops the flag, so no v2 answer carries it (checked against
        etcd 3.4).
        """
        d: dict[str, Any] = {"action": self.action, "node": self.node.to_dict(trim_prefix)}
        if self.prev_node is not None:
            d["prevNode"] = self.prev_node.to_dict(trim_prefix)
        return d

    def with_etcd_index(self, etcd_index: int) -> Event:
        """A shallow copy carrying another store index (a history hit answered later)."""
        return Event(self.action, self.node, self.prev_node, etcd_index, self.refresh)
