"""The member's own statistics (``/v2/stats/self``, ``/v2/stats/leader``), as etcd shapes
them, and Go's renderings of times and durations they use."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from etcdpy.server.member import id_str

_NS = 1_000_000_000

STATE_LEADER = "StateLeader"
STATE_FOLLOWER = "StateFollower"
STATE_CANDIDATE = "StateCandidate"


def rfc3339nano_local(ns: int) -> str:
    """Go's JSON for a ``time.Now()`` value: RFC3339Nano in local time ("Z" when UTC)."""
    sec, frac = divmod(ns, _NS)
    lt = time.localtime(sec)
    s = time.strftime("%Y-%m-%dT%H:%M:%S", lt)
    if frac:
        s += "." + f"{frac:09d}".rstrip("0")
    off = lt.tm_gmtoff or 0
    if off == 0:
        return s + "Z"
    sign = "+" if off > 0 else "-"
    off = abs(off) // 60
    return f"{s}{sign}{off // 60:02d}:{off % 60:02d}"


def _frac(v: int, digits: int) -> str:
    whole, part = divmod(v, 10**digits)
    if not part:
        return str(whole)
    return f"{whole}." + f"{part:0{digits}d}".rstrip("0")


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3.5s``, ``8.357973084s``, ``1.5ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < _NS:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_frac(u, 3)}\u00b5s"
        return f"{sign}{_frac(u, 6)}ms"
    secs, part = divmod(u, _NS)
    s = str(secs % 60)
    if part:
        s += "." + f"{part:09d}".rstrip("0")
    s += "s"
    mins = secs // 60
    if mins:
        s = f"{mins % 60}m{s}"
        hours = mins // 60
        if hours:
            s = f"{hours}h{s}"
    return sign + s


@dataclass(slots=True)
class ServerStats:
    """etcd ``stats.ServerStats``: who this member is and how it talks to the leader."""

    name: str
    id: int
    start_ns: int
    state: str = STATE_FOLLOWER
    leader_id: int = 0
    leader_start_ns: int = 0
    recv_append_count: int = 0
    send_append_count: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def become_leader(self, now_ns: int) -> None:
        self.state = STATE_LEADER
        self.leader_id = self.id
        self.leader_start_ns = now_ns

    def to_dict(self, now_ns: int) -> dict[str, Any]:
        """The JSON object, in the Go struct's field order (rates omitted when zero)."""
        d: dict[str, Any] = {
            "name": self.name,
            "id": id_str(self.id),
            "state": self.state,
            "startTime": rfc3339nano_local(self.start_ns),
            "leaderInfo": {
                "leader": id_str(self.leader_id) if self.leader_id else "",
                "uptime": go_duration(now_ns - self.leader_start_ns),
                "startTime": rfc3339nano_local(self.leader_start_ns)
                if self.leader_start_ns
                else "0001-01-01T00:00:00Z",
            },
            "recvAppendRequestCnt": self.recv_append_count,
        }
        for k in ("recvPkgRate", "recvBandwidthRate"):
            if self.extra.get(k):
                d[k] = self.extra[k]
        d["sendAppendRequestCnt"] = self.send_append_count
        for k in ("sendPkgRate", "sendBandwidthRate"):
            if self.extra.get(k):
                d[k] = self.extra[k]
        return d
