"""Run the same request against the reference etcd and etcdpy and compare the answers.

A :class:`Step` is one request (or a watch action) written once, with placeholders that
each server fills from its own earlier answers (``{mi:/k/a}`` is that server's last
modifiedIndex of ``/k/a``). Answers are compared after normalizing what legitimately
differs: store indexes relative to each server's index right after start, expiration
times and ttls within a tolerance, member/cluster ids and URLs by shape, version strings.
Everything else — status, error code, message, cause, the compared headers and the body
bytes (escaping, field order, trailing newline) — must be identical.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.compat import wire
from tests.procs import Proc

FORM = "application/x-www-form-urlencoded"

# Headers whose values must match (after normalization); framing and Date may differ.
COMPARED_HEADERS = (
    "Content-Type",
    "Allow",
    "Location",
    "X-Content-Type-Options",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "X-Etcd-Index",
    "X-Raft-Term",
)
# Headers that must be present on both or neither (values differ by nature).
PRESENCE_HEADERS = ("X-Raft-Index", "X-Etcd-Cluster-Id")

TTL_TOLERANCE = 1
EXPIRATION_TOLERANCE_NS = 2_000_000_000


@dataclass
class Step:
    """One line of the comparison table."""

    id: str
    method: str = "GET"
    target: str = ""
    form: dict[str, str] | list[tuple[str, str]] | bytes | None = None
    content_type: str | None = FORM
    headers: dict[str, str] | None = None
    raw: bytes | None = None
    # "req" (compare one request), "watch" (open a long poll, compare its headers),
    # "event" (read the next event line of a watch), "end" (the watch body is over),
    # "close" (drop a watch), "gone" (poll until a key is gone, no comparison),
    # "bulk" (``count`` writes, compared by the final index only), "stats_reset" and
    # "stats" (compare how the store stats moved since the last of either).
    kind: str = "req"
    watch: str = ""
    count: int = 0
    timeout: float = 10.0
    # Compare JSON with every "nodes" list sorted by key (Go map order is random).
    unordered: bool = False
    # Compare only the status and these top-level JSON keys' presence (volatile bodies).
    shape_only: bool = False


@dataclass
class Side:
    """One server as the comparison sees it."""

    label: str
    proc: Proc
    base: int = 0
    nodes: dict[str, tuple[int, int]] = field(default_factory=dict)
    last_key: str = ""
    last_index: int = 0
    watches: dict[str, wire.Watch] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    member_id: str = ""
    cluster_id: str = ""

    @property
    def port(self) -> int:
        return self.proc.client_port


_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^}+]*?))?([+-]\d+)?\}")


def fill(text: str, side: Side) -> str:
    """Replace placeholders with this server's values."""

    def one(m: re.Match[str]) -> str:
        name, arg, delta = m.group(1), m.group(2), int(m.group(3) or 0)
        if name == "mi":
            return str(side.nodes[arg][0] + delta)
        if name == "ci":
            return str(side.nodes[arg][1] + delta)
        if name == "idx":
            return str(side.last_index + delta)
        if name == "last":
            return side.last_key
        if name == "mid":
            return side.member_id
        if name == "peer":
            return side.proc.peer_url
        if name == "client":
            return side.proc.client_url
        return m.group()  # not a placeholder (e.g. JSON braces in a body)

    return _PLACEHOLDER.sub(one, text)


def _fill_form(f: Any, side: Side) -> Any:
    if f is None:
        return f
    if isinstance(f, bytes):
        return fill(f.decode("latin-1"), side).encode("latin-1") if b"{" in f else f
    items = f.items() if isinstance(f, dict) else f
    return [(k, fill(v, side)) for k, v in items]


def _record_nodes(side: Side, node: Any) -> None:
    if not isinstance(node, dict):
        return
    key = node.get("key")
    if isinstance(key, str) and "modifiedIndex" in node:
        side.nodes[key] = (node["modifiedIndex"], node.get("createdIndex", 0))
    for child in node.get("nodes", []) or []:
        _record_nodes(side, child)


def record(side: Side, resp: wire.Resp) -> None:
    """Remember indexes and keys from an answer for later placeholders."""
    idx = resp.header("X-Etcd-Index")
    if idx is not None and idx != "0":
        side.last_index = int(idx)
    if not resp.body.startswith(b"{"):
        return
    try:
        doc = json.loads(resp.body)
    except ValueError:
        return
    if isinstance(doc, dict) and "action" in doc:
        node = doc.get("node")
        _record_nodes(side, node)
        if isinstance(node, dict) and isinstance(node.get("key"), str):
            side.last_key = node["key"]
            if doc["action"] in ("delete", "compareAndDelete", "expire"):
                side.nodes[node["key"]] = (node["modifiedIndex"], node.get("createdIndex", 0))


_IDX_FIELD = re.compile(rb'"(modifiedIndex|createdIndex|index)":(\d+)')
_INORDER = re.compile(rb"/(\d{20})(?=[\"/])")
_EXPIRATION = re.compile(rb'"expiration":"([^"]+)"')
_TTL = re.compile(rb'"ttl":(-?\d+)')
_CLEARED = re.compile(rb"cleared \[(\d+)/(\d+)\]")
_VERSIONS = re.compile(rb'"(etcdserver|etcdcluster)":"[^"]*"')


@dataclass
class Norm:
    body: bytes
    ttls: list[int]
    expirations: list[int]


def _parse_rfc3339(s: bytes) -> int:
    text = s.decode()
    frac_ns = 0
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    if not m:
        raise AssertionError(f"expiration {text!r} is not RFC3339 UTC")
    if m.group(2):
        frac_ns = int(m.group(2).ljust(9, "0"))
    dt = datetime.strptime(m.group(1) + "+0000", "%Y-%m-%dT%H:%M:%S%z")
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


def normalize(body: bytes, side: Side) -> Norm:
    base = side.base

    def rel(v: bytes) -> bytes:
        n = int(v)
        return str(n - base).encode() if n else b"0"

    b = _IDX_FIELD.sub(lambda m: b'"' + m.group(1) + b'":' + rel(m.group(2)), body)
    b = _INORDER.sub(lambda m: b"/<" + rel(m.group(1)) + b">", b)
    b = _CLEARED.sub(lambda m: b"cleared [" + rel(m.group(1)) + b"/" + rel(m.group(2)) + b"]", b)
    expirations = [_parse_rfc3339(m.group(1)) for m in _EXPIRATION.finditer(b)]
    b = _EXPIRATION.sub(b'"expiration":"<exp>"', b)
    ttls = [int(m.group(1)) for m in _TTL.finditer(b)]
    b = _TTL.sub(b'"ttl":<ttl>', b)
    b = _VERSIONS.sub(lambda m: b'"' + m.group(1) + b'":"<version>"', b)
    for own, tag in (
        (side.proc.client_url.encode(), b"<client>"),
        (side.proc.peer_url.encode(), b"<peer>"),
        (side.member_id.encode(), b"<member>"),
    ):
        if own:
            b = b.replace(own, tag)
    return Norm(b, ttls, expirations)


def _sorted_nodes(doc: Any) -> Any:
    if isinstance(doc, dict):
        out = {k: _sorted_nodes(v) for k, v in doc.items()}
        if isinstance(out.get("nodes"), list):
            out["nodes"] = sorted(out["nodes"], key=lambda n: n.get("key", ""))
        return out
    if isinstance(doc, list):
        return [_sorted_nodes(v) for v in doc]
    return doc


def header_value(resp: wire.Resp, name: str, side: Side) -> str | None:
    v = resp.header(name)
    if v is not None and name == "X-Etcd-Index" and v != "0":
        v = str(int(v) - side.base)
    if v is not None and name == "Location":
        v = v.replace(side.proc.client_url, "<client>")
    return v


def compare(step: Step, ref: wire.Resp, py: wire.Resp, sref: Side, spy: Side) -> list[str]:
    """Every difference between the two answers, as readable lines."""
    diffs: list[str] = []
    if ref.status != py.status:
        diffs.append(f"status: reference {ref.status} != etcdpy {py.status}")
    for h in COMPARED_HEADERS:
        a, b = header_value(ref, h, sref), header_value(py, h, spy)
        if a != b:
            diffs.append(f"header {h}: reference {a!r} != etcdpy {b!r}")
    for h in PRESENCE_HEADERS:
        if (ref.header(h) is None) != (py.header(h) is None):
            diffs.append(
                f"header {h} present: reference {ref.header(h)!r}, etcdpy {py.header(h)!r}"
            )
    cid = py.header("X-Etcd-Cluster-Id")
    if cid is not None and not re.fullmatch(r"[0-9a-f]{1,16}", cid):
        diffs.append(f"X-Etcd-Cluster-Id {cid!r} is not unpadded lowercase hex")
    nref, npy = normalize(ref.body, sref), normalize(py.body, spy)
    if step.shape_only:
        kref = sorted(json.loads(ref.body)) if ref.body.startswith(b"{") else ref.body
        kpy = sorted(json.loads(py.body)) if py.body.startswith(b"{") else py.body
        if kref != kpy:
            diffs.append(f"body fields: reference {kref!r} != etcdpy {kpy!r}")
        return diffs
    if step.unordered:
        a = _sorted_nodes(json.loads(nref.body)) if nref.body else None
        b = _sorted_nodes(json.loads(npy.body)) if npy.body else None
        if a != b:
            diffs.append(f"body (unordered): reference {a!r}\n   != etcdpy {b!r}")
    elif nref.body != npy.body:
        diffs.append(f"body: reference {nref.body[:600]!r}\n   != etcdpy {npy.body[:600]!r}")
    if len(nref.ttls) == len(npy.ttls):
        for a, b in zip(nref.ttls, npy.ttls, strict=True):
            if abs(a - b) > TTL_TOLERANCE:
                diffs.append(f"ttl: reference {a} vs etcdpy {b}")
    if len(nref.expirations) == len(npy.expirations):
        for a, b in zip(nref.expirations, npy.expirations, strict=True):
            if abs(a - b) > EXPIRATION_TOLERANCE_NS:
                diffs.append(f"expiration differs by {(a - b) / 1e9:.3f}s")
    return diffs


class Pair:
    """The reference and etcdpy side by side, stepping through one table."""

    def __init__(self, ref: Proc, py: Proc) -> None:
        self.ref = Side("reference", ref)
        self.py = Side("etcdpy", py)
        for s in (self.ref, self.py):
            r = wire.request(s.port, "GET", "/v2/keys/")
            s.base = int(r.header("X-Etcd-Index") or 0)
            s.cluster_id = r.header("X-Etcd-Cluster-Id") or ""
            members = json.loads(wire.request(s.port, "GET", "/v2/members").body)["members"]
            s.member_id = members[0]["id"]
            s.stats = self._store_stats(s)

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.ref, self.py

    def _send(self, step: Step, side: Side) -> wire.Resp:
        if step.raw is not None:
            return wire.request(
                side.port,
                step.method,
                "",
                raw=fill(step.raw.decode("latin-1"), side).encode("latin-1"),
                timeout=step.timeout,
            )
        target = fill(step.target, side)
        headers = dict(step.headers or {})
        body = None
        f = _fill_form(step.form, side)
        if f is not None:
            body = wire.form_body(f)
            if step.content_type is not None:
                headers.setdefault("Content-Type", step.content_type)
        return wire.request(side.port, step.method, target, body, headers, timeout=step.timeout)

    def run(self, step: Step) -> None:
        handler = getattr(self, f"_run_{step.kind}")
        handler(step)

    def _check(self, step: Step, ref: wire.Resp, py: wire.Resp) -> None:
        diffs = compare(step, ref, py, self.ref, self.py)
        record(self.ref, ref)
        record(self.py, py)
        if diffs:
            raise AssertionError(
                f"{step.id}: {step.method} {step.target[:120]}\n  " + "\n  ".join(diffs)
            )

    def _run_req(self, step: Step) -> None:
        ref = self._send(step, self.ref)
        py = self._send(step, self.py)
        self._check(step, ref, py)

    def _run_watch(self, step: Step) -> None:
        got = []
        for s in self.sides:
            w = wire.Watch(s.port, fill(step.target, s), timeout=step.timeout)
            s.watches[step.watch] = w
            got.append(w.resp)
        self._check(step, got[0], got[1])

    def _run_event(self, step: Step) -> None:
        got = []
        for s in self.sides:
            w = s.watches[step.watch]
            line = w.line(step.timeout)
            got.append(wire.Resp(200, "", [("Content-Type", "application/json")], line or b""))
        self._check(step, got[0], got[1])

    def _run_end(self, step: Step) -> None:
        for s in self.sides:
            assert s.watches[step.watch].ended(step.timeout), f"{s.label}: watch body went on"

    def _run_close(self, step: Step) -> None:
        for s in self.sides:
            s.watches.pop(step.watch).close()

    def _run_gone(self, step: Step) -> None:
        end = time.monotonic() + step.timeout
        for s in self.sides:
            while True:
                r = wire.request(s.port, "GET", fill(step.target, s))
                if r.status == 404:
                    break
                assert time.monotonic() < end, f"{s.label}: {step.target} still there"
                time.sleep(0.05)

    def _run_bulk(self, step: Step) -> None:
        import http.client

        last = []
        for s in self.sides:
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            try:
                for i in range(step.count):
                    conn.request(
                        "PUT",
                        fill(step.target, s),
                        body=f"value={i}",
                        headers={"Content-Type": FORM},
                    )
                    r = conn.getresponse()
                    r.read()
                    assert r.status in (200, 201), f"{s.label}: bulk write {i} got {r.status}"
                last.append(int(r.getheader("X-Etcd-Index") or 0) - s.base)
                s.last_index = last[-1] + s.base
            finally:
                conn.close()
        assert last[0] == last[1], f"index after bulk: reference {last[0]} != etcdpy {last[1]}"

    @staticmethod
    def _store_stats(s: Side) -> dict[str, int]:
        return json.loads(wire.request(s.port, "GET", "/v2/stats/store").body)

    def _run_stats_reset(self, step: Step) -> None:
        for s in self.sides:
            s.stats = self._store_stats(s)

    def _run_stats(self, step: Step) -> None:
        deltas = []
        for s in self.sides:
            now = self._store_stats(s)
            deltas.append({k: now[k] - s.stats.get(k, 0) for k in now})
            s.stats = now
        assert deltas[0] == deltas[1], (
            f"store stats moved differently:\n  reference {deltas[0]}\n  etcdpy    {deltas[1]}"
        )
