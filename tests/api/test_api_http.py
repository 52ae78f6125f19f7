"""The HTTP layer against an in-process member: routing, CORS, watches that end, and bad
input that never hurts (an etcd error or a clean close, never a 500 or a traceback)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import InProcessMember
from tests.compat import wire

DEADLINE_S = 10.0


def poll(cond, what: str, deadline_s: float = DEADLINE_S) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline_s
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def watchers(m: InProcessMember) -> int:
    assert m.server is not None
    return m.sync(lambda: m.server.store.watcher_count)  # type: ignore[union-attr]


def assert_serving(m: InProcessMember) -> None:
    r = wire.request(m.port, "GET", "/version")
    assert r.status == 200 and json.loads(r.body)["etcdserver"] == "2.3.8"


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    """Fail the test if the member logged an error or a traceback."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    bad = [
        r
        for r in caplog.records
        if r.name.startswith(("etcdpy", "aiohttp")) and (r.levelno >= logging.ERROR or r.exc_info)
    ]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def test_options_and_cors_headers(member: InProcessMember) -> None:
    r = wire.request(member.port, "OPTIONS", "/anything/at/all")
    assert (r.status, r.body, r.header("Access-Control-Allow-Origin")) == (200, b"", "*")
    r = wire.request(member.port, "GET", "/v2/keys/")
    assert r.header("Access-Control-Allow-Methods") == "POST, GET, OPTIONS, PUT, DELETE"
    assert r.header("Server") is None


def test_cors_list_echoes_allowed_origin_only() -> None:
    m = InProcessMember()
    m.cfg.cors = ["http://good.example"]
    m.start()
    try:
        ok = wire.request(m.port, "GET", "/version", headers={"Origin": "http://good.example"})
        assert ok.header("Access-Control-Allow-Origin") == "http://good.example"
        bad = wire.request(m.port, "GET", "/version", headers={"Origin": "http://evil.example"})
        assert bad.header("Access-Control-Allow-Origin") is None
    finally:
        m.stop()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/v2/keys/a", "HEAD,GET,PUT,POST,DELETE"),
        ("HEAD", "/v2/members", "GET,POST,DELETE,PUT"),
        ("PUT", "/v2/machines", "GET,HEAD"),
        ("DELETE", "/v2/stats/store", "GET"),
        ("POST", "/version", "GET"),
        ("PUT", "/health", "GET"),
    ],
)
def test_method_not_allowed(member: InProcessMember, method: str, path: str, allow: str) -> None:
    r = wire.request(member.port, method, path)
    assert (r.status, r.header("Allow")) == (405, allow)
    assert r.header("Content-Type") == "text/plain; charset=utf-8"


def raw_exchange(port: int, *parts: bytes, idle_s: float = 0.5) -> tuple[bytes, bool]:
    """Send ``parts`` (a pause between them); read until close or IDLE: (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, part in enumerate(parts):
            if i:
                time.sleep(0.1)
            s.sendall(part)
        s.settimeout(idle_s)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return data, False
            if not chunk:
                return data, True
            data += chunk


def heads(data: bytes) -> list[bytes]:
    """The status line and header names of each answer in ``data`` (bodies skipped)."""
    out = []
    for m in re.finditer(rb"HTTP/1\.[01] [^\r]*\r\n(?:[^\r]+\r\n)*\r\n", data):
        lines = m.group().split(b"\r\n")
        names = [ln.split(b":")[0] for ln in lines[1:] if ln]
        out.append(b" ".join([lines[0], *names]))
    return out


def test_raw_utf8_target_is_refused_cleanly(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    # Go would accept it; the HTTP parser here refuses it with a plain 400 (etcd clients
    # percent-encode keys, so none sends this).
    assert wire.request(member.port, "GET", "/v2/keys/\u00fc").status == 400
    assert_serving(member)


METHOD_405 = (
    b"HTTP/1.1 405 Method Not Allowed Access-Control-Allow-Headers "
    b"Access-Control-Allow-Methods Access-Control-Allow-Origin Allow Content-Type "
    b"X-Content-Type-Options Date Content-Length"
)


@pytest.mark.parametrize(
    ("raw", "status", "allow"),
    [
        (b"FOO /v2/keys/a HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"HEAD,GET,PUT,POST,DELETE"),
        (b"get /v2/keys/a HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"HEAD,GET,PUT,POST,DELETE"),
        (b"FOO_BAR /version HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"GET"),
        (b"DESCRIBE /v2/members HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"GET,POST,DELETE,PUT"),
        (b"CONNECT /v2/keys/a HTTP/1.1\r\n\r\n", 405, b"HEAD,GET,PUT,POST,DELETE"),
        (b"FOO /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, None),
        (b"CONNECT 127.0.0.1:2379 HTTP/1.1\r\nHost: x\r\n\r\n", 404, None),
    ],
)
def test_methods_the_parser_does_not_know_are_routed(
    member: InProcessMember,
    quiet_logs: pytest.LogCaptureFixture,
    raw: bytes,
    status: int,
    allow: bytes | None,
) -> None:
    # As etcd (Go) answers: any token is a method, routed to 405 (with Allow) or 404, and
    # the connection stays open: a GET after it on the same connection is answered.
    data, closed = raw_exchange(member.port, raw + b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not closed
    assert data.startswith(b"HTTP/1.1 %d " % status)
    if allow is not None:
        assert heads(data)[0] == METHOD_405
        assert b"\r\nAllow: " + allow + b"\r\n" in data
        assert b"\r\n\r\nMethod Not Allowed\n" in data
    else:
        assert b"\r\n\r\n404 page not found\n" in data
    assert heads(data)[1].startswith(b"HTTP/1.1 200 OK")


def test_unknown_methods_pipelined_and_cut_between_reads(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    get = b"GET /v2/keys/ HTTP/1.1\r\nHost: x\r\n\r\n"
    data, closed = raw_exchange(
        member.port,
        get
        + b"FOO /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        + b"get /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        + b"CONNECT /v2/keys/b HTTP/1.1\r\n\r\n"
        + b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        + b"HEAD /v2/keys/ HTTP/1.1\r\nHost: x\r\n\r\n"
        + b"FO",
        b"O /nope HTTP/1.1\r\nHost: x\r\n\r\n" + get,
    )
    assert not closed
    assert [h.split(b" ")[1] for h in heads(data)] == [
        b"200", b"405", b"404", b"405", b"200", b"200", b"404", b"200"
    ]  # fmt: skip
    # a method that is not a token is Go's plain 400 and a hang-up
    data, closed = raw_exchange(member.port, b"FO=O /version HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed and data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert_serving(member)


MISSING_HOST = (
    b"HTTP/1.1 400 Bad Request: missing required Host header\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    b"400 Bad Request: missing required Host header"
)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /v2/keys/ HTTP/1.1\r\n\r\n",
        b"GET /version HTTP/1.1\r\nX-A: b\r\n\r\n",
        b"FOO /v2/keys/a HTTP/1.1\r\n\r\n",
        b"PUT /v2/keys/nohost HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 7\r\n\r\nvalue=1",
    ],
)
def test_http11_without_host_is_refused_like_go(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture, raw: bytes
) -> None:
    data, closed = raw_exchange(member.port, raw)
    assert (data, closed) == (MISSING_HOST, True)
    assert wire.request(member.port, "GET", "/v2/keys/nohost").status == 404
    # HTTP/1.0 needs none; an empty Host is a Host
    data, _ = raw_exchange(member.port, b"GET /version HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.0 200 OK\r\n")
    data, _ = raw_exchange(member.port, b"GET /version HTTP/1.1\r\nHost:\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_http10_answers(member: InProcessMember, quiet_logs: pytest.LogCaptureFixture) -> None:
    port = member.port
    wire.form(port, "PUT", "/v2/keys/ten", {"value": "1"})
    # no keep-alive asked: HTTP/1.0, no Connection header, closed
    data, closed = raw_exchange(port, b"GET /v2/keys/ten HTTP/1.0\r\n\r\n")
    assert closed and heads(data) == [
        b"HTTP/1.0 200 OK Access-Control-Allow-Headers Access-Control-Allow-Methods "
        b"Access-Control-Allow-Origin Content-Type X-Etcd-Cluster-Id X-Etcd-Index "
        b"X-Raft-Index X-Raft-Term Date Content-Length"
    ]
    # keep-alive asked: said and kept, for answers with a length, HEAD and 404s alike
    ka = b"Connection: keep-alive\r\n\r\n"
    data, closed = raw_exchange(
        port,
        b"GET /v2/keys/ten HTTP/1.0\r\n"
        + ka
        + b"HEAD /v2/keys/ten HTTP/1.0\r\n"
        + ka
        + b"GET /nope HTTP/1.0\r\n"
        + ka,
    )
    assert not closed
    assert [h.split(b" ")[:3] + h.split(b" ")[-2:] for h in heads(data)] == [
        [b"HTTP/1.0", b"200", b"OK", b"Content-Length", b"Connection"],
        [b"HTTP/1.0", b"200", b"OK", b"Content-Length", b"Connection"],
        [b"HTTP/1.0", b"404", b"Not", b"Content-Length", b"Connection"],
    ]
    assert data.count(b"\r\nConnection: keep-alive\r\n") == 3
    # Go's fixed 400 for what it cannot parse stays HTTP/1.1, without Date or length
    data, closed = raw_exchange(port, b"GET /v2/keys/%zz HTTP/1.0\r\n" + ka)
    assert (data, closed) == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\n400 Bad Request",
        True,
    )


def test_http10_body_too_large_says_close_once(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    body = b"value=" + b"x" * (11 << 20)
    with socket.create_connection(("127.0.0.1", member.port), timeout=30) as s:
        s.sendall(
            b"PUT /v2/keys/big HTTP/1.0\r\nConnection: keep-alive\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        with contextlib.suppress(OSError):
            s.sendall(body)
        resp = wire.read_response(wire.Reader(s, 30), "PUT")
    assert resp.status == 400
    assert [v for k, v in resp.headers if k == "Connection"] == ["close"]


@pytest.mark.parametrize("stream", [False, True])
def test_http10_watch_is_plain_and_ends_by_closing(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture, stream: bool
) -> None:
    # HTTP/1.0 has no chunked encoding: Go writes the events plain and closes after a
    # one-shot watch (keep-alive asked or not); the head has no Connection header.
    key = f"/v2/keys/w10{int(stream)}"
    q = "?wait=true&stream=true" if stream else "?wait=true"
    with socket.create_connection(("127.0.0.1", member.port), timeout=DEADLINE_S) as s:
        s.sendall(f"GET {key}{q} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
        r = wire.Reader(s, DEADLINE_S)
        head = r.until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK\r\n")
        assert b"Transfer-Encoding" not in head and b"Connection" not in head
        wire.form(member.port, "PUT", key, {"value": "1"})
        wire.form(member.port, "PUT", key, {"value": "2"})
        if stream:
            line1, line2 = r.until(b"\n"), r.until(b"\n")
            assert json.loads(line1)["node"]["value"] == "1"
            assert json.loads(line2)["node"]["value"] == "2"
        else:
            body = r.rest()  # to the close
            assert body.endswith(b"\n") and json.loads(body)["node"]["value"] == "1"


@pytest.mark.parametrize("stream", [False, True])
def test_watch_to_a_client_closing_says_close(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture, stream: bool
) -> None:
    q = "?wait=true&stream=true" if stream else "?wait=true"
    with socket.create_connection(("127.0.0.1", member.port), timeout=DEADLINE_S) as s:
        s.sendall(f"GET /v2/keys/wc{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = wire.Reader(s, DEADLINE_S).until(b"\r\n\r\n")
    assert head.endswith(b"\r\nConnection: close\r\nTransfer-Encoding: chunked")


def test_watch_is_removed_when_the_client_goes_away(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    ws = [wire.Watch(member.port, f"/v2/keys/gone{i}?wait=true") for i in range(5)]
    assert all(w.status == 200 for w in ws)
    poll(lambda: watchers(member) == 5, "5 watchers")
    for w in ws:
        w.close()
    poll(lambda: watchers(member) == 0, "watchers removed after disconnect")
    r = wire.request(member.port, "GET", "/v2/stats/store")
    assert json.loads(r.body)["watchers"] == 0
    assert_serving(member)


def test_one_shot_watch_returns_one_event_and_ends(member: InProcessMember) -> None:
    w = wire.Watch(member.port, "/v2/keys/once?wait=true")
    assert w.header("Transfer-Encoding") == "chunked"
    wire.form(member.port, "PUT", "/v2/keys/once", {"value": "1"})
    line = w.line()
    assert line is not None and json.loads(line)["node"]["value"] == "1"
    assert w.ended()
    poll(lambda: watchers(member) == 0, "one-shot watcher removed")


def test_slow_stream_consumer_is_dropped_and_memory_stays_bounded(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    # A stream watcher that never reads: events pile up in the socket buffers, then in
    # the watcher's queue (100), then the watcher is closed — never unbounded.
    sock = socket.create_connection(("127.0.0.1", member.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(wire.build_request("GET", "/v2/keys/slow?wait=true&stream=true"))
    poll(lambda: watchers(member) == 1, "stream watcher")
    value = "v" * 100_000
    for i in range(400):
        r = wire.form(member.port, "PUT", "/v2/keys/slow", {"value": f"{i}{value}"})
        assert r.status in (200, 201)
        if watchers(member) == 0:
            break
    poll(lambda: watchers(member) == 0, "overflowed watcher dropped")
    sock.close()
    assert_serving(member)


def test_stopping_the_member_ends_open_watches() -> None:
    m = InProcessMember()
    m.start()
    ws = [wire.Watch(m.port, "/v2/keys/stop?wait=true&stream=true") for _ in range(3)]
    t0 = time.monotonic()
    m.stop()
    assert time.monotonic() - t0 < DEADLINE_S
    for w in ws:
        assert w.ended(timeout=DEADLINE_S)
        w.close()


def test_body_over_the_limit_is_refused_and_connection_closed(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    r = wire.form(member.port, "PUT", "/v2/keys/huge", b"value=" + b"x" * (11 << 20), timeout=30)
    assert r.status == 400
    assert json.loads(r.body) == {
        "errorCode": 210,
        "message": "Invalid POST form",
        "cause": "http: POST too large",
        "index": 0,
    }
    assert r.header("Connection") == "close"
    one_mib = "y" * (1 << 20)
    r = wire.form(member.port, "PUT", "/v2/keys/mib", {"value": one_mib})
    assert r.status == 201
    assert (
        json.loads(wire.request(member.port, "GET", "/v2/keys/mib").body)["node"]["value"]
        == one_mib
    )


def test_client_vanishing_mid_body(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", member.port)) as s:
            s.sendall(
                b"PUT /v2/keys/half HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\nvalue=abc"
            )
    assert_serving(member)
    assert wire.request(member.port, "GET", "/v2/keys/half").status == 404


def test_slow_client_does_not_block_others(member: InProcessMember) -> None:
    with socket.create_connection(("127.0.0.1", member.port)) as slow:
        slow.sendall(b"PUT /v2/keys/slowbody HTTP/1.1\r\nHost: x\r\n")
        for i in range(20):
            r = wire.form(member.port, "PUT", f"/v2/keys/fast{i}", {"value": "v"})
            assert r.status == 201


def test_long_key_and_oversized_request_line(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    key = "k" * 100_000
    assert wire.form(member.port, "PUT", f"/v2/keys/{key}", {"value": "v"}).status == 201
    assert wire.request(member.port, "GET", f"/v2/keys/{key}").status == 200
    r = wire.request(member.port, "GET", "/v2/keys/" + "k" * (2 << 20))
    assert 400 <= r.status < 500
    assert_serving(member)


BAD_REQUESTS = [
    b"GET /v2/keys/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v2/keys/a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v2/keys/?waitIndex=%ff&wait=true HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
    b'Content-Type: application/x-www-form-urlencoded; a="\r\n\r\nv=1',
    b"PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\n",
    b"PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /v2/members HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 20\r\n\r\n" + b"[" * 20,
    b"POST /v2/members HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 30\r\n\r\n" + b'{"peerURLs":["http://\xff:1"]}  ',
]


@pytest.mark.parametrize("raw", BAD_REQUESTS, ids=range(len(BAD_REQUESTS)))
def test_malformed_requests(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture, raw: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", member.port), timeout=DEADLINE_S) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        r = wire.Reader(s, DEADLINE_S)
        try:
            resp = wire.read_response(r, "GET")
        except ConnectionError:
            resp = None  # a clean close is an acceptable answer to garbage
    if resp is not None:
        assert resp.status < 500, resp
        if resp.header("Content-Type") == "application/json":
            json.loads(resp.body)
    assert_serving(member)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    query=st.binary(max_size=60),
    body=st.binary(max_size=60),
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    key=st.text(alphabet="ab/._%-+~ 2F", max_size=12),
)
def test_fuzzed_forms_never_500(
    shared_member: InProcessMember, query: bytes, body: bytes, method: str, key: str
) -> None:
    from urllib.parse import quote

    # The first value of a name wins: a fuzzed long poll would just wait, so never one.
    target = "/v2/keys/" + quote(key, safe="/%") + "?wait=false&" + quote(query, safe="=&;%")
    r = wire.request(
        shared_member.port,
        method,
        target,
        body,
        {"Content-Type": "application/x-www-form-urlencoded"},
        timeout=DEADLINE_S,
    )
    assert r.status < 500, r
    if r.header("Content-Type") == "application/json" and method != "HEAD":
        doc = json.loads(r.body)
        assert "errorCode" in doc or "action" in doc


@pytest.fixture(scope="module")
def shared_member():  # type: ignore[no-untyped-def]
    m = InProcessMember()
    m.start()
    try:
        yield m
    finally:
        m.stop()


def test_expect_continue_is_answered_before_the_body(member: InProcessMember) -> None:
    with socket.create_connection(("127.0.0.1", member.port), timeout=DEADLINE_S) as s:
        s.sendall(
            b"PUT /v2/keys/expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n"
        )
        r = wire.Reader(s, DEADLINE_S)
        assert r.until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue"
        s.sendall(b"value=1")
        resp = wire.read_response(r, "PUT")
    assert resp.status == 201 and json.loads(resp.body)["node"]["value"] == "1"


def test_client_closing_during_a_large_answer(
    member: InProcessMember, quiet_logs: pytest.LogCaptureFixture
) -> None:
    wire.form(member.port, "PUT", "/v2/keys/large", {"value": "z" * (4 << 20)})
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", member.port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(wire.build_request("GET", "/v2/keys/large"))
            s.recv(100)
        # SO_LINGER 0: the close is a reset, mid-answer.
    assert_serving(member)


def test_a_request_is_freed_without_the_cycle_collector() -> None:
    """A request and its body must not form a reference cycle: thousands of requests a
    second would otherwise pile up for the collector, whose passes stall every client
    (measured: 15-25 ms pauses under 64 writing clients, the whole p99)."""
    import gc
    import weakref

    from etcdpy.api.http import Headers, Request

    gc.disable()
    try:
        req = Request(object(), "PUT", "/v2/keys/a", "1.1", Headers(), True)  # type: ignore[arg-type]
        req.content.feed(b"value=1")
        req.content.feed_eof()
        gone = weakref.ref(req)
        del req
        assert gone() is None
    finally:
        gc.enable()


def test_closed_connections_are_freed_without_the_cycle_collector(
    member: InProcessMember,
) -> None:
    """Clients that open a connection per request (etcdctl, curl scripts) must not leave
    a cycle per connection for the collector either."""
    import gc

    from etcdpy.api.http import HTTPProtocol

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is HTTPProtocol)

    gc.collect()
    gc.disable()
    try:
        before = alive()
        for _ in range(30):
            assert wire.request(member.port, "GET", "/version").status == 200
        poll(lambda: alive() <= before + 2, "closed connections to be freed")
    finally:
        gc.enable()


def test_refused_writes_leave_no_cycles(member: InProcessMember) -> None:
    """A refused write (compare failed, key exists) travels back as an exception: it
    must not leave an error -> traceback -> frame cycle per request for the collector."""
    import gc

    from etcdpy.store import EtcdError

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, EtcdError))

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    gc.collect()
    gc.disable()
    try:
        before = alive()
        for _ in range(20):
            r = wire.request(member.port, "PUT", "/v2/keys/nocycle", b"value=x&prevValue=no", form)
            assert r.status == 404
        assert alive() <= before + 1
    finally:
        gc.enable()
