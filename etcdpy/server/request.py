"""A v2 keys request as it travels through the log (etcd ``etcdserverpb.Request``).

The API builds one from an HTTP request; the server proposes it through Raft (or serves
it locally for plain reads and watches); every member applies it to its store in log
order. Paths are store paths: user keys carry the ``/1`` prefix, cluster data ``/0``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import msgpack

# Methods besides the HTTP ones: a linearizable read through the log, and the leader's
# periodic clock that expires TTL keys on every member at the same log position.
QGET = "QGET"
SYNC = "SYNC"

STORE_KEYS_PREFIX = "/1"

# One packer per thread: msgpack.packb builds a new one (and its buffer) every call,
# which costs twice the packing itself on the write path.
_local = threading.local()
STORE_CLUSTER_PREFIX = "/0"


@dataclass(slots=True)
class Request:
    id: int = 0
    method: str = "GET"
    path: str = ""
    val: str = ""
    dir: bool = False
    prev_value: str = ""
    prev_index: int = 0
    prev_exist: bool | None = None
    # Absolute expiry time in unix nanoseconds, computed where the request entered; 0 = none.
    expiration: int = 0
    wait: bool = False
    since: int = 0
    recursive: bool = False
    sorted: bool = False
    quorum: bool = False
    # Unix nanoseconds of the member that made the request: the clock for SYNC and for
    # the ttl shown in the answer, so that applying stays deterministic.
    time: int = 0
    stream: bool = False
    refresh: bool | None = None

    def to_list(self) -> list[Any]:
        return [
            self.id,
            self.method,
            self.path,
            self.val,
            self.dir,
            self.prev_value,
            self.prev_index,
            self.prev_exist,
            self.expiration,
            self.wait,
            self.since,
            self.recursive,
            self.sorted,
            self.quorum,
            self.time,
            self.stream,
            self.refresh,
        ]

    @classmethod
    def from_list(cls, v: list[Any]) -> Request:
        return cls(*v)

    def encode(self) -> bytes:
        # Keys and values may hold invalid UTF-8 (etcd stores raw bytes); the API keeps
        # such bytes as lone surrogates, which must survive the log byte for byte.
        packer = getattr(_local, "packer", None)
        if packer is None:
            packer = _local.packer = msgpack.Packer(unicode_errors="surrogateescape")
        return packer.pack(self.to_list())

    @classmethod
    def decode(cls, data: bytes) -> Request:
        return cls.from_list(msgpack.unpackb(data, unicode_errors="surrogateescape"))
