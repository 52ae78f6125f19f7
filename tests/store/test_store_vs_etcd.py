"""Side by side with the reference etcd: the same v2 requests against a real etcd 3.4
(``--enable-v2``) and against the store, comparing status, body and index.

Skipped when ``etcd`` is not installed. Expiration times and ttls come from each side's
own clock, so only their presence is compared.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etcdpy.store import EtcdError, Event, Store
from etcdpy.store.keypath import clean_path

pytestmark = pytest.mark.skipif(shutil.which("etcd") is None, reason="reference etcd missing")

SEC = 1_000_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(base: str, method: str, path: str, params: dict[str, str]) -> tuple[int, Any, int]:
    query = urllib.parse.urlencode(params)
    url = base + "/v2/keys" + path
    data = None
    headers = {}
    if method in ("PUT", "POST"):
        data = query.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif query:
        url += "?" + query
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), int(resp.headers["X-Etcd-Index"])
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), int(err.headers["X-Etcd-Index"])


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("etcd-ref") / "data"
    client, peer = free_port(), free_port()
    base = f"http://127.0.0.1:{client}"
    log = open(data_dir.parent / "etcd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            "etcd",
            "--enable-v2=true",
            "--name=ref",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={base}",
            f"--advertise-client-urls={base}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=ref=http://127.0.0.1:{peer}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Ready once the member has published itself and set the cluster version: three
        # internal store writes (raftAttributes, attributes, version).
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "reference etcd exited; see etcd.log"
            assert time.monotonic() < deadline, "reference etcd did not become ready"
            try:
                if http(base, "GET", "/", {})[2] >= 3:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        yield base
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()


def apply(s: Store, method: str, path: str, params: dict[str, str]) -> tuple[int, Any, int]:
    """What etcd's v2 handler does with the request, on the store (§1.3 of the facts)."""
    p = clean_path("/1/" + path)
    now = time.time_ns()

    def flag(name: str) -> bool:
        return params.get(name) == "true"

    ttl = params.get("ttl", "")
    expire = now + int(ttl) * SEC if ttl else 0
    value = params.get("value", "")
    prev_value = params.get("prevValue", "")
    prev_index = int(params.get("prevIndex", "0"))
    try:
        e: Event
        if method == "GET" and flag("wait"):
            w = s.watch(p, flag("recursive"), False, int(params.get("waitIndex", "0")), now)
            got = w.pop()
            assert got is not None, "this test only watches events already in the history"
            w.remove()
            return 200, got.to_dict("/1"), w.start_index
        if method == "GET":
            e = s.get(p, flag("recursive"), flag("sorted"), now)
        elif method == "POST":
            e = s.create(p, flag("dir"), value, True, expire, now)
        elif method == "PUT":
            prev_exist = params.get("prevExist")
            if prev_exist == "true":
                if prev_value or prev_index:
                    e = s.compare_and_swap(p, prev_value, prev_index, value, expire, now)
                else:
                    e = s.update(p, value, expire, now, flag("refresh"))
            elif prev_exist == "false":
                e = s.create(p, flag("dir"), value, False, expire, now)
            elif prev_value or prev_index:
                e = s.compare_and_swap(p, prev_value, prev_index, value, expire, now)
            else:
                e = s.set(p, flag("dir"), value, expire, now, flag("refresh"))
        elif prev_value or prev_index:
            e = s.compare_and_delete(p, prev_value, prev_index, now)
        else:
            e = s.delete(p, flag("dir"), flag("recursive"), now)
    except EtcdError as err:
        if err.cause.startswith("/1"):
            err.cause = err.cause[2:]
        return err.http_status, err.to_dict(), err.index
    status = 201 if e.is_created() else 200
    return status, e.to_dict("/1"), e.etcd_index


def normalized(body: Any) -> Any:
    """Clock-dependent fields reduced to their presence."""
    if isinstance(body, dict):
        out = {}
        for k, v in body.items():
            if k in ("expiration", "ttl"):
                out[k] = "<present>"
            else:
                out[k] = normalized(v)
        return out
    if isinstance(body, list):
        return [normalized(v) for v in body]
    return body


# (method, user path, params). "{idx}" in a value is the current store index.
SCRIPT: list[tuple[str, str, dict[str, str]]] = [
    ("PUT", "/foo", {"value": "bar"}),
    ("PUT", "/foo", {"value": "baz", "prevValue": "x"}),
    ("PUT", "/foo", {"value": "baz", "prevIndex": "1"}),
    ("PUT", "/foo", {"value": "baz", "prevIndex": "1", "prevValue": "x"}),
    ("PUT", "/foo", {"value": "v2", "prevValue": "bar"}),
    ("PUT", "/foo", {"value": "v3", "prevIndex": "{idx}", "prevExist": "true"}),
    ("PUT", "/foo", {"ttl": "100", "refresh": "true"}),
    ("PUT", "/foo", {"ttl": "100", "refresh": "true", "prevExist": "true"}),
    ("PUT", "/foo", {"value": "perm", "ttl": "", "prevExist": "true"}),
    ("PUT", "/dir", {"dir": "true"}),
    ("PUT", "/dir", {"dir": "true"}),
    ("PUT", "/dir", {"value": "x"}),
    ("PUT", "/dir", {"dir": "true", "ttl": "100", "prevExist": "true"}),
    ("GET", "/dir", {}),
    ("PUT", "/dir", {"value": "x", "prevExist": "true"}),
    ("PUT", "/dir/_h", {"value": "h"}),
    ("PUT", "/dir/v", {"value": "v"}),
    ("PUT", "/dir/sub/x", {"value": "1"}),
    ("PUT", "/dir/sub/y", {"value": 'ünï \u2028 "q"'}),
    ("GET", "/dir", {"sorted": "true"}),
    ("GET", "/dir", {"recursive": "true", "sorted": "true"}),
    ("GET", "/dir/_h", {}),
    ("DELETE", "/dir", {}),
    ("DELETE", "/dir", {"dir": "true"}),
    ("DELETE", "/dir", {"dir": "true", "prevValue": "x"}),
    ("POST", "/queue", {"value": "a"}),
    ("POST", "/queue", {"value": "b"}),
    ("GET", "/queue", {"sorted": "true", "recursive": "true"}),
    ("POST", "/foo", {"value": "c"}),
    ("PUT", "/new", {"value": "1", "prevExist": "false"}),
    ("PUT", "/new", {"value": "1", "prevExist": "false"}),
    ("PUT", "/newdir", {"dir": "true", "prevExist": "false"}),
    ("PUT", "/foo/sub", {"value": "1"}),
    ("PUT", "/a/b/c", {"value": "1", "prevExist": "false"}),
    ("GET", "/missing/deeper", {}),
    ("GET", "/foo/x", {}),
    ("PUT", "/missing", {"value": "1", "prevExist": "true"}),
    ("PUT", "/missing", {"value": "1", "prevValue": "p"}),
    ("DELETE", "/missing", {}),
    ("DELETE", "/missing", {"prevValue": "p"}),
    ("DELETE", "/foo", {"prevValue": "nope"}),
    ("DELETE", "/foo", {"prevIndex": "999"}),
    ("DELETE", "/foo", {"prevIndex": "999", "prevValue": "nope"}),
    ("DELETE", "/foo", {"prevValue": "perm"}),
    ("DELETE", "/dir", {"recursive": "true"}),
    ("GET", "/dir/sub/x", {"wait": "true", "waitIndex": "{idx}"}),
    ("GET", "/queue", {"wait": "true", "recursive": "true", "waitIndex": "5"}),
    ("PUT", "/", {"value": "x"}),
    ("DELETE", "/", {"dir": "true", "recursive": "true"}),
    ("POST", "/", {"dir": "true"}),
    ("PUT", "/d2", {"dir": "true", "value": "ignored"}),
    ("PUT", "/d2", {"value": "", "prevExist": "true"}),
    ("GET", "/", {"recursive": "true", "sorted": "true"}),
]


def test_same_answers_as_etcd(etcd: str) -> None:
    s = Store(["/0", "/1"])
    # etcd's own three writes under /0 before any user key.
    s.create("/0/members/1/raftAttributes", False, "{}", False, 0, 0)
    s.set("/0/members/1/attributes", False, "{}", 0, 0)
    s.set("/0/version", False, "3.4.0", 0, 0)
    assert http(etcd, "GET", "/", {})[2] == s.index == 3
    for method, path, params in SCRIPT:
        params = {k: v.replace("{idx}", str(s.index)) for k, v in params.items()}
        want = http(etcd, method, path, params)
        got = apply(s, method, path, params)
        step = f"{method} {path} {params}"
        assert got[0] == want[0], step
        assert normalized(got[1]) == normalized(want[1]), step
        assert got[2] == want[2], step
