"""``--cors``: which origins get CORS headers, on etcdpy and the reference side by side.

(etcd 3.4 wants every origin as host:port; etcd 2.x, and so etcdpy, also take origins
without a port. The list here suits both.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compat import wire
from tests.procs import Proc, ProcGroup, free_port, member_args, reference_binary, wait_ready

ORIGINS = "http://a.example:8000,http://b.example:8080"
REQUESTS = [
    ("GET", "/v2/keys/", {"Origin": "http://a.example:8000"}),
    ("GET", "/v2/keys/", {"Origin": "http://a.example"}),
    ("GET", "/v2/keys/", {"Origin": "http://b.example:8080"}),
    ("GET", "/v2/keys/", {"Origin": "http://evil.example"}),
    ("GET", "/v2/keys/", {"Origin": "http://A.example:8000"}),
    ("GET", "/v2/keys/", {}),
    ("OPTIONS", "/v2/keys/x", {"Origin": "http://a.example:8000"}),
    ("OPTIONS", "/v2/keys/x", {"Origin": "http://evil.example"}),
    ("OPTIONS", "/v2/members", {}),
    ("GET", "/version", {"Origin": "http://a.example:8000"}),
    ("GET", "/v2/auth/enable", {"Origin": "http://b.example:8080"}),
    ("GET", "/v2/keys/missing", {"Origin": "http://a.example:8000"}),
]
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    if reference_binary() is None:
        pytest.skip("the reference etcd is not installed (apt-get install etcd-server)")
    group = ProcGroup(tmp_path_factory.mktemp("cors"))
    try:
        started = []
        for kind in ("reference", "etcdpy"):
            cp, pp = free_port(), free_port()
            data_dir = group.base_dir / f"{kind}.etcd"
            args = [*member_args("cors", cp, pp, data_dir), "--cors", ORIGINS]
            started.append(
                group.start(
                    kind, "cors", args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
                )
            )
        for p in started:
            wait_ready(p)
        yield started[0], started[1]
    finally:
        group.close()


@pytest.mark.parametrize(
    ("method", "path", "headers"), REQUESTS, ids=[f"{m} {p} {h}" for m, p, h in REQUESTS]
)
def test_cors_matches_the_reference(
    pair: tuple[Proc, Proc], method: str, path: str, headers: dict[str, str]
) -> None:
    answers = []
    for proc in pair:
        r = wire.request(proc.client_port, method, path, headers=headers)
        answers.append((r.status, {h: r.header(h) for h in CORS_HEADERS}))
    ref, ours = answers
    assert ours == ref


def test_listed_origins_are_echoed_and_others_get_nothing(pair: tuple[Proc, Proc]) -> None:
    ours = pair[1]
    ok = wire.request(
        ours.client_port, "GET", "/v2/keys/", headers={"Origin": "http://a.example:8000"}
    )
    assert ok.header("Access-Control-Allow-Origin") == "http://a.example:8000"
    bad = wire.request(ours.client_port, "GET", "/v2/keys/", headers={"Origin": "http://x.example"})
    assert bad.header("Access-Control-Allow-Origin") is None
