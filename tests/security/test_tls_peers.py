"""Peer TLS: a three-member etcdpy cluster whose peer and client traffic is all TLS, and
what happens to a process without a valid peer certificate."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.procs import LOOPBACK, REPO, Proc, ProcGroup, free_port
from tests.security.certs import Pair
from tests.security.tlskit import (
    PKI,
    client_ctx,
    https,
    make_pki,
    member_flags,
    tls_outcome,
    wait_https_ready,
)

JOIN_TIMEOUT_S = 60.0


def peer_tls_flags(pki: PKI, peer: Pair, ca: Path | None = None) -> list[str]:
    return [
        "--cert-file",
        str(pki.server.cert),
        "--key-file",
        str(pki.server.key),
        "--peer-cert-file",
        str(peer.cert),
        "--peer-key-file",
        str(peer.key),
        "--peer-trusted-ca-file",
        str(ca or pki.ca),
        "--peer-client-cert-auth",
    ]


@dataclass
class TLSCluster:
    pki: PKI
    members: list[Proc]
    initial: str
    ctx: ssl.SSLContext


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSCluster]:
    base = tmp_path_factory.mktemp("tls-cluster")
    pki = make_pki(base / "pki")
    group = ProcGroup(base)
    try:
        ports = [(free_port(), free_port()) for _ in range(3)]
        names = ["n1", "n2", "n3"]
        initial = ",".join(
            f"{n}=https://{LOOPBACK}:{pp}" for n, (_, pp) in zip(names, ports, strict=True)
        )
        members = []
        for i, (n, (cp, pp)) in enumerate(zip(names, ports, strict=True)):
            data_dir = base / f"{n}.etcd"
            args = member_flags(
                n, cp, pp, data_dir, peer_scheme="https", initial_cluster=initial
            ) + peer_tls_flags(pki, pki.peers[i])
            members.append(
                group.start(
                    "etcdpy", n, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
                )
            )
        ctx = client_ctx(pki.ca)
        for m in members:
            wait_https_ready(m, ctx)
        yield TLSCluster(pki, members, initial, ctx)
    finally:
        group.close()


def test_three_members_replicate_over_tls(cluster: TLSCluster) -> None:
    n1, n2, n3 = cluster.members
    ctx = cluster.ctx
    a = https(n1.client_port, "PUT", "/v2/keys/tls/a", ctx, b"value=over-tls")
    assert a.status in (200, 201), a.body
    for m in (n2, n3):
        r = https(m.client_port, "GET", "/v2/keys/tls/a?quorum=true", ctx)
        assert r.status == 200
        assert json.loads(r.body)["node"]["value"] == "over-tls"
    members = json.loads(https(n3.client_port, "GET", "/v2/members", ctx).body)["members"]
    assert len(members) == 3
    assert all(u.startswith("https://") for m in members for u in m["peerURLs"])
    assert all(u.startswith("https://") for m in members for u in m["clientURLs"])


def _peer_post(port: int, ctx: ssl.SSLContext) -> str:
    """POST an (empty) Raft batch to a member's peer port, as a peer would."""
    try:
        a = https(
            port,
            "POST",
            "/raft",
            ctx,
            b"\x90",
            {"Content-Type": "application/octet-stream", "X-Server-From": "1"},
        )
    except (ssl.SSLError, ConnectionError, OSError):
        return "refused"
    return f"http {a.status}"


def test_peer_port_refuses_processes_without_a_valid_certificate(cluster: TLSCluster) -> None:
    pki = cluster.pki
    port = cluster.members[1].peer_port
    assert _peer_post(port, client_ctx(pki.ca)) == "refused"
    assert _peer_post(port, client_ctx(pki.ca, pki.rogue_peer)) == "refused"
    # Plain HTTP on the TLS peer port gets nothing either.
    assert tls_outcome(port, client_ctx(pki.other_ca)) == "refused"
    # A certificate of the cluster's CA gets through TLS; the peer checks then apply
    # (here: a message without a cluster id is refused with 412).
    assert _peer_post(port, client_ctx(pki.ca, pki.peers[3])) == "http 412"
    for m in cluster.members:
        assert m.alive()


def test_member_with_a_foreign_certificate_cannot_join(cluster: TLSCluster, tmp_path: Path) -> None:
    n1 = cluster.members[0]
    pki = cluster.pki
    cp, pp = free_port(), free_port()
    peer_url = f"https://{LOOPBACK}:{pp}"
    added = https(
        n1.client_port,
        "POST",
        "/v2/members",
        cluster.ctx,
        json.dumps({"peerURLs": [peer_url]}).encode(),
        {"Content-Type": "application/json"},
    )
    assert added.status == 201, added.body
    mid = json.loads(added.body)["id"]
    try:
        initial = f"{cluster.initial},n4={peer_url}"
        args = member_flags(
            "n4",
            cp,
            pp,
            tmp_path / "n4.etcd",
            peer_scheme="https",
            initial_cluster=initial,
            state="existing",
        ) + peer_tls_flags(pki, pki.rogue_peer)
        proc = subprocess.run(
            [sys.executable, "-m", "etcdpy", *args],
            cwd=str(tmp_path),
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            timeout=JOIN_TIMEOUT_S,
        )
        assert proc.returncode == 1
        err = proc.stderr.decode()
        assert err.startswith("etcdpy: cannot join the cluster:"), err
        # The cluster never heard from it: the added member has no name (never published).
        members = json.loads(https(n1.client_port, "GET", "/v2/members", cluster.ctx).body)
        assert [m["name"] for m in members["members"] if m["id"] == mid] == [""]
    finally:
        https(n1.client_port, "DELETE", f"/v2/members/{mid}", cluster.ctx)
