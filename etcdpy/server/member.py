"""Members and their ids, derived exactly as etcd does (``membership.NewMember``, ``genID``).

A member id is the first 8 bytes (big-endian) of SHA-1 over the sorted peer URLs, the
cluster token and, for a member added at run time, the unix seconds of the addition. The
cluster id is the same over the sorted member ids. Ids print as unpadded lowercase hex.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def member_id(peer_urls: Iterable[str], token: str, now: float | None = None) -> int:
    """The id etcd gives a member with these peer URLs in a cluster with this token.

    ``now`` (unix time) is given only for members added at run time (POST /v2/members,
    where etcd passes an empty token and the current time).
    """
    b = "".join(sorted(peer_urls)).encode() + token.encode()
    if now is not None:
        b += str(int(now)).encode()
    return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


def cluster_id(member_ids: Iterable[int]) -> int:
    """The cluster id of a cluster bootstrapped with these members."""
    b = b"".join(struct.pack(">Q", i) for i in sorted(member_ids))
    return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


def id_str(i: int) -> str:
    """etcd's ``types.ID.String()``: lowercase hex, no padding."""
    return format(i, "x")


def parse_id(s: str) -> int:
    """etcd's ``types.IDFromString``: hex digits only (no ``0x``), at most 64 bits.

    Raises ValueError otherwise.
    """
    if not s or len(s) > 16 or any(c not in "0123456789abcdefABCDEF" for c in s):
        raise ValueError(s)
    return int(s, 16)


@dataclass(slots=True)
class Member:
    id: int
    name: str = ""
    peer_urls: list[str] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The v2 members API object (``httptypes.Member``), in its field order."""
        return {
            "id": id_str(self.id),
            "name": self.name,
            "peerURLs": list(self.peer_urls),
            "clientURLs": list(self.client_urls),
        }
