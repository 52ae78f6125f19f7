"""Unique request ids (etcd ``idutil.Generator``)."""

from __future__ import annotations


class RequestIDs:
    """etcd's generator: 2 bytes of the member id, 5 bytes of milliseconds at start, and
    a counter in the low byte that carries into the time, so ids never repeat on one
    member and rarely collide across members."""

    def __init__(self, member: int, now_ms: int) -> None:
        self._prefix = (member & 0xFFFF) << 48
        self._suffix = (now_ms & 0xFFFFFFFFFF) << 8

    def next(self) -> int:
        self._suffix = (self._suffix + 1) & ((1 << 48) - 1)
        return self._prefix | self._suffix
