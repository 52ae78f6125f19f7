"""Auth state is ordinary replicated data: set on one member, enforced by all, kept across
a restart from a snapshot, and no clear password ever reaches a disk or a log."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import LOOPBACK, Proc, ProcGroup, free_port, member_args, wait_ready

ROOT_PW = "r00t-Pa55word-xyzzy"
APP_PW = "app-Pa55word-plugh"
SNAPSHOT_COUNT = 20
DEADLINE_S = 20.0


def call(
    proc: Proc,
    method: str,
    path: str,
    body: bytes | None = None,
    user: tuple[str, str] | None = None,
    json_body: bool = False,
) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(proc.client_url + path, data=body, method=method)
    if body is not None:
        ct = "application/json" if json_body else "application/x-www-form-urlencoded"
        req.add_header("Content-Type", ct)
    if user is not None:
        token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    return status, (json.loads(data) if data.strip() else {})


def wait_for(predicate: object, what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {DEADLINE_S}s: {what}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProcGroup, list[Proc]]]:
    base = tmp_path_factory.mktemp("auth-cluster")
    group = ProcGroup(base)
    try:
        ports = [(free_port(), free_port()) for _ in range(3)]
        names = ["a1", "a2", "a3"]
        initial = ",".join(
            f"{n}=http://{LOOPBACK}:{pp}" for n, (_, pp) in zip(names, ports, strict=True)
        )
        members = []
        for n, (cp, pp) in zip(names, ports, strict=True):
            data_dir = base / f"{n}.etcd"
            args = [
                *member_args(n, cp, pp, data_dir, initial),
                "--snapshot-count",
                str(SNAPSHOT_COUNT),
            ]
            members.append(
                group.start(
                    "etcdpy", n, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
                )
            )
        for m in members:
            wait_ready(m)
        yield group, members
    finally:
        group.close()


def test_auth_replicates_survives_restart_and_never_stores_passwords(
    cluster: tuple[ProcGroup, list[Proc]],
) -> None:
    group, (a1, a2, a3) = cluster
    root = ("root", ROOT_PW)
    app = ("app", APP_PW)
    user = json.dumps({"user": "root", "password": ROOT_PW}).encode()
    assert call(a1, "PUT", "/v2/auth/users/root", user, json_body=True)[0] == 201
    role = b'{"role":"app","permissions":{"kv":{"read":["/app/*"],"write":["/app/*"]}}}'
    assert call(a1, "PUT", "/v2/auth/roles/app", role, root, json_body=True)[0] == 201
    body = json.dumps({"user": "app", "password": APP_PW, "roles": ["app"]}).encode()
    assert call(a2, "PUT", "/v2/auth/users/app", body, root, json_body=True)[0] == 200
    assert call(a3, "PUT", "/v2/auth/enable", None, root)[0] == 200
    revoke = b'{"role":"guest","revoke":{"kv":{"read":["/*"],"write":["/*"]}}}'
    assert call(a1, "PUT", "/v2/auth/roles/guest", revoke, root, json_body=True)[0] == 200

    # Every member enforces what was set through another.
    for m in (a1, a2, a3):
        wait_for(lambda m=m: call(m, "GET", "/v2/keys/app/x")[0] == 401, f"{m.name} refuses guests")
        assert call(m, "GET", "/v2/auth/enable")[1] == {"enabled": True}
        assert call(m, "PUT", "/v2/keys/app/x", b"value=1", ("app", "wrong"))[0] == 401
        assert call(m, "PUT", "/v2/keys/other", b"value=1", app)[0] == 401
    assert call(a2, "PUT", "/v2/keys/app/x", b"value=1", app)[0] in (200, 201)

    # Enough writes for every member to snapshot, then a3 restarts from its snapshot.
    for i in range(SNAPSHOT_COUNT * 2):
        assert call(a1, "PUT", f"/v2/keys/app/k{i}", b"value=v", app)[0] in (200, 201)
    wait_for(lambda: any(a3.data_dir.rglob("*.snap")), "a3 has written a snapshot")
    a3.kill()
    restarted = group.start(
        "etcdpy",
        "a3",
        a3.args,
        client_port=a3.client_port,
        peer_port=a3.peer_port,
        data_dir=a3.data_dir,
    )
    assert call(restarted, "GET", "/v2/keys/app/x")[0] == 401
    status, got = call(restarted, "GET", "/v2/keys/app/x", user=app)
    assert status == 200 and got["node"]["value"] == "1"  # type: ignore[index]
    assert call(restarted, "GET", "/v2/auth/users", user=root)[0] == 200

    # The clear passwords are nowhere on disk and in no log; the hashes are.
    for m in (a1, a2, restarted):
        found_hash = False
        for f in m.data_dir.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                assert ROOT_PW.encode() not in data, f
                assert APP_PW.encode() not in data, f
                found_hash = found_hash or b"$scrypt$" in data
        assert found_hash, f"no password hash under {m.data_dir}"
        log = Path(m.log_path).read_text(errors="replace")
        assert ROOT_PW not in log and APP_PW not in log
