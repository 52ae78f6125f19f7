"""Members with TLS for the security tests: certificates, flags, https requests, readiness.

Everything listens on 127.0.0.1 on free ports and is killed by PID through the
``ProcGroup`` the caller owns.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from tests.procs import LOOPBACK, READY_TIMEOUT_S, Proc, ProcGroup, free_port
from tests.security.certs import Pair, make_ca


@dataclass
class PKI:
    """One trusted CA with server, peer and client certificates, and a foreign CA."""

    ca: Path
    other_ca: Path
    server: Pair
    peers: list[Pair]
    root_client: Pair  # CN=root
    alice_client: Pair  # CN=alice
    rogue_client: Pair  # CN=root, signed by the foreign CA
    rogue_peer: Pair  # a peer certificate from the foreign CA


def make_pki(directory: Path) -> PKI:
    ca = make_ca(directory, "ca")
    other = make_ca(directory, "other-ca")
    return PKI(
        ca=ca.path,
        other_ca=other.path,
        server=ca.issue(directory, "server", "server"),
        peers=[ca.issue(directory, f"peer{i}", f"peer{i}") for i in range(1, 5)],
        root_client=ca.issue(directory, "root-client", "root", server=False),
        alice_client=ca.issue(directory, "alice-client", "alice", server=False),
        rogue_client=other.issue(directory, "rogue-client", "root", server=False),
        rogue_peer=other.issue(directory, "rogue-peer", "peer9"),
    )


def client_ctx(ca: Path | None, cert: Pair | None = None) -> ssl.SSLContext:
    """A client context trusting ``ca`` (or nothing) and presenting ``cert``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is not None:
        ctx.load_verify_locations(str(ca))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    return ctx


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def https(
    port: int,
    method: str,
    path: str,
    ctx: ssl.SSLContext,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Answer:
    """One request over TLS on a fresh connection."""
    conn = http.client.HTTPSConnection(LOOPBACK, port, context=ctx, timeout=timeout)
    try:
        h = dict(headers or {})
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Answer(r.status, r.read(), {k.lower(): v for k, v in r.getheaders()})
    finally:
        conn.close()


def tls_outcome(port: int, ctx: ssl.SSLContext, path: str = "/version") -> str:
    """``"ok"`` when a GET over TLS is answered 200, else the kind of failure: the
    handshake or the connection is refused (servers differ in which side notices)."""
    try:
        a = https(port, "GET", path, ctx)
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected, OSError):
        return "refused"
    return "ok" if a.status == 200 else f"http {a.status}"


def plain_http_on_tls_port(port: int, timeout: float = 5.0) -> bytes:
    """What a server sends back to a plain HTTP request on its TLS port."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def wait_https_ready(proc: Proc, ctx: ssl.SSLContext, deadline_s: float = READY_TIMEOUT_S) -> None:
    """Poll ``/version`` over TLS until the cluster version is decided."""
    end = time.monotonic() + deadline_s
    last = ""
    while time.monotonic() < end:
        if not proc.alive():
            raise RuntimeError(
                f"{proc.kind} member {proc.name} exited with {proc.popen.returncode}; "
                f"log:\n{proc.log_tail()}"
            )
        try:
            a = https(proc.client_port, "GET", "/version", ctx, timeout=1.0)
            if a.status == 200 and b"not_decided" not in a.body:
                return
            last = f"{a.status} {a.body[:100]!r}"
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            last = repr(exc)
        time.sleep(0.05)
    raise RuntimeError(
        f"{proc.kind} member {proc.name} not ready over TLS within {deadline_s}s "
        f"(last: {last}); log:\n{proc.log_tail()}"
    )


def member_flags(
    name: str,
    client_port: int,
    peer_port: int,
    data_dir: Path,
    *,
    client_scheme: str = "https",
    peer_scheme: str = "http",
    initial_cluster: str | None = None,
    state: str = "new",
) -> list[str]:
    client = f"{client_scheme}://{LOOPBACK}:{client_port}"
    peer = f"{peer_scheme}://{LOOPBACK}:{peer_port}"
    return [
        "--name",
        name,
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        initial_cluster or f"{name}={peer}",
        "--initial-cluster-state",
        state,
    ]


def start_tls_member(
    group: ProcGroup,
    kind: str,
    name: str,
    tls_flags: list[str],
    ready_ctx: ssl.SSLContext | None,
) -> Proc:
    """One member with an https client URL and the given TLS flags; waits until ready
    when ``ready_ctx`` is given."""
    cp, pp = free_port(), free_port()
    data_dir = group.base_dir / f"{kind}-{name}.etcd"
    args = member_flags(name, cp, pp, data_dir) + tls_flags
    proc = group.start(
        kind, name, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
    )
    if ready_ctx is not None:
        wait_https_ready(proc, ready_ctx)
    return proc


def json_body(a: Answer) -> object:
    return json.loads(a.body)
