"""What security costs: GET /v2/keys/k on one member with auth off, auth on (guest,
right password, wrong password) and over TLS, measured with wrk.

    python benchmarks/security.py [--seconds 5] [--connections 16]

Prints requests/s and the median and p99 latency of each case. A right password is
checked with scrypt once and then answered from the check cache; a wrong one costs a
full scrypt on every request (that row shows the ceiling of a password-guessing flood).
The reference etcd, when installed, is measured with a right password too: it checks
its bcrypt hash on every request.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.procs import ProcGroup, free_port, member_args, wait_ready  # noqa: E402
from tests.security.tlskit import client_ctx, make_pki, start_tls_member  # noqa: E402

_LAT = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)$", re.M)


def wrk(url: str, seconds: int, connections: int, header: str | None) -> tuple[float, str, str]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(_RPS.search(out).group(1))  # type: ignore[union-attr]
    lat = {p: f"{v}{u}" for p, v, u in _LAT.findall(out)}
    return rps, lat.get("50", "?"), lat.get("99", "?")


def put(url: str, body: bytes, ctype: str, auth: str | None = None) -> None:
    req = urllib.request.Request(url, data=body, method="PUT")
    req.add_header("Content-Type", ctype)
    if auth:
        req.add_header("Authorization", auth)
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    base = Path(tempfile.mkdtemp(prefix="etcdpy-bench-security-"))
    group = ProcGroup(base)
    rows: list[tuple[str, float, str, str]] = []
    try:
        cp, pp = free_port(), free_port()
        m = group.start("etcdpy", "b", member_args("b", cp, pp, base / "b.etcd"), client_port=cp)
        wait_ready(m)
        url = m.client_url
        put(url + "/v2/keys/k", b"value=" + b"v" * 64, "application/x-www-form-urlencoded")
        target = url + "/v2/keys/k"
        rows.append(("auth off", *wrk(target, a.seconds, a.connections, None)))
        user = json.dumps({"user": "root", "password": "pw"}).encode()
        put(url + "/v2/auth/users/root", user, "application/json")
        put(url + "/v2/auth/enable", b"", "application/json")
        rows.append(("auth on, guest", *wrk(target, a.seconds, a.connections, None)))
        ok = "Authorization: " + basic("root", "pw")
        rows.append(("auth on, right password", *wrk(target, a.seconds, a.connections, ok)))
        bad = "Authorization: " + basic("root", "nope")
        rows.append(("auth on, wrong password", *wrk(target, a.seconds, a.connections, bad)))
        pki = make_pki(base / "pki")
        flags = ["--cert-file", str(pki.server.cert), "--key-file", str(pki.server.key)]
        t = start_tls_member(group, "etcdpy", "tls", flags, client_ctx(pki.ca))
        ctx = client_ctx(pki.ca)
        req = urllib.request.Request(
            f"https://127.0.0.1:{t.client_port}/v2/keys/k", data=b"value=v", method="PUT"
        )
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            r.read()
        tls_url = f"https://127.0.0.1:{t.client_port}/v2/keys/k"
        rows.append(("TLS, auth off", *wrk(tls_url, a.seconds, a.connections, None)))
        if shutil.which("etcd") is not None:
            # The reference checks the bcrypt hash on every request: no cache.
            cp, pp = free_port(), free_port()
            ref_args = member_args("r", cp, pp, base / "r.etcd")
            r = group.start("reference", "r", ref_args, client_port=cp)
            wait_ready(r)
            put(r.client_url + "/v2/keys/k", b"value=v", "application/x-www-form-urlencoded")
            put(r.client_url + "/v2/auth/users/root", user, "application/json")
            put(r.client_url + "/v2/auth/enable", b"", "application/json")
            ref_target = r.client_url + "/v2/keys/k"
            ref_row = wrk(ref_target, a.seconds, a.connections, ok)
            rows.append(("etcd 3.4, right password", *ref_row))
    finally:
        group.close()
        shutil.rmtree(base, ignore_errors=True)
    print(f"GET /v2/keys/k, wrk -t1 -c{a.connections} -d{a.seconds}s, one member")
    print(f"{'case':28} {'req/s':>10} {'p50':>10} {'p99':>10}")
    for name, rps, p50, p99 in rows:
        print(f"{name:28} {rps:10.0f} {p50:>10} {p99:>10}")


if __name__ == "__main__":
    ssl.create_default_context()  # fail early if the ssl module is unusable
    main()
