"""A misbehaving client cannot exhaust a member: pipelining without reading, idle and
stalled connections, too many connections, too many watches, oversized headers.

The member runs in-process (tests/api's harness) so the tests can shrink the limits and
look at the connection state; every wait is a poll against a deadline.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import etcdpy.api.http as http_mod
from tests.api.conftest import InProcessMember
from tests.compat import wire

DEADLINE_S = 10.0
GET = b"GET /v2/keys/hard HTTP/1.1\r\nHost: x\r\n\r\n"


def poll(cond: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {deadline_s}s: {what}")


def closed_by_server(s: socket.socket, deadline_s: float = DEADLINE_S) -> bool:
    """Whether the server closes ``s`` (EOF or reset) before the deadline."""
    s.settimeout(deadline_s)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture
def member() -> Iterator[InProcessMember]:
    m = InProcessMember(name="hard")
    m.start()
    try:
        yield m
    finally:
        m.stop()


def open_connections(m: InProcessMember) -> int:
    assert m.http is not None
    return m.sync(lambda: len(m.http._connections))  # type: ignore[union-attr]


def test_pipelining_without_reading_is_held_back(member: InProcessMember) -> None:
    n = 20_000
    s = socket.socket()
    # A small receive buffer: the member's answers back up at once.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect(("127.0.0.1", member.port))
    sender = threading.Thread(target=s.sendall, args=(GET * n,), daemon=True)
    sender.start()
    try:

        def state() -> list[tuple[bool, int, int]]:
            return member.sync(
                lambda: [(c._reading_paused, len(c._queue), len(c._unparsed)) for c in conns()]
            )

        def conns() -> list[http_mod.HTTPProtocol]:
            assert member.http is not None
            return list(member.http._connections)

        poll(
            lambda: [(p, u > 0) for p, _, u in state()] == [(True, True)],
            "the member stops reading a client that does not read",
        )
        _, queued, unparsed = state()[0]
        assert queued <= http_mod.MAX_PIPELINED + http_mod.FEED_SLICE // len(GET) + 1
        # What is held back is at most one read's worth, not the whole flood.
        assert unparsed < len(GET) * n // 2
        # Reading the answers lets everything through, in order, none lost.
        s.settimeout(DEADLINE_S)
        got = 0
        buf = b""
        while got < n:
            chunk = s.recv(1 << 20)
            assert chunk, f"connection closed after {got} answers"
            buf += chunk
            got += buf.count(b"HTTP/1.1 ")
            buf = buf[buf.rfind(b"HTTP/1.1 ") + 1 :] if b"HTTP/1.1 " in buf else buf[-16:]
        assert got == n
    finally:
        s.close()
        sender.join(DEADLINE_S)


def test_idle_connections_are_closed_but_watches_are_not(
    member: InProcessMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_mod, "IDLE_TIMEOUT_S", 0.3)
    idle = socket.create_connection(("127.0.0.1", member.port))
    watch = wire.Watch(member.port, "/v2/keys/idle?wait=true")
    assert watch.status == 200
    try:
        assert closed_by_server(idle)
        time.sleep(0.6)  # the idle limit passes twice while the watch waits
        assert wire.form(member.port, "PUT", "/v2/keys/idle", {"value": "v"}).status == 201
        line = watch.line(DEADLINE_S)
        assert line is not None and json.loads(line)["node"]["value"] == "v"
    finally:
        idle.close()
        watch.close()


def test_stalled_body_is_dropped_quietly(
    member: InProcessMember, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(http_mod, "BODY_TIMEOUT_S", 0.3)
    s = socket.create_connection(("127.0.0.1", member.port))
    try:
        s.sendall(
            b"PUT /v2/keys/slow HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"value=abc"
        )
        with caplog.at_level(logging.WARNING):
            assert closed_by_server(s)
        assert wire.request(member.port, "GET", "/version").status == 200
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert wire.request(member.port, "GET", "/v2/keys/slow").status == 404
    finally:
        s.close()


def test_connections_beyond_the_limit_are_refused(
    member: InProcessMember, caplog: pytest.LogCaptureFixture
) -> None:
    assert member.http is not None
    member.sync(lambda: setattr(member.http, "max_connections", 3))
    http_mod._last_refusal_log[0] = -http_mod.REFUSAL_LOG_INTERVAL_S
    held = [socket.create_connection(("127.0.0.1", member.port)) for _ in range(3)]
    try:
        poll(lambda: open_connections(member) == 3, "three connections open")
        with caplog.at_level(logging.WARNING, logger="etcdpy.api.http"):
            extra = socket.create_connection(("127.0.0.1", member.port))
            assert closed_by_server(extra)
            extra.close()
        assert any("refusing client connections" in r.getMessage() for r in caplog.records)
        held.pop().close()
        poll(lambda: open_connections(member) == 2, "a connection closed")
        assert wire.request(member.port, "GET", "/version").status == 200
    finally:
        for s in held:
            s.close()


def test_watches_beyond_the_limit_get_a_clear_error(member: InProcessMember) -> None:
    assert member.api is not None
    member.sync(lambda: setattr(member.api.keys, "max_watches", 2))  # type: ignore[union-attr]
    watches = [wire.Watch(member.port, f"/v2/keys/w{i}?wait=true") for i in range(2)]
    try:
        assert all(w.status == 200 for w in watches)
        refused = wire.request(member.port, "GET", "/v2/keys/w9?wait=true")
        assert refused.status == 500
        body = json.loads(refused.body)
        assert body["errorCode"] == 300
        assert "too many open watches on this member (2, the limit)" in body["cause"]
        # Plain reads and writes go on; a closed watch makes room for a new one.
        assert wire.form(member.port, "PUT", "/v2/keys/w0", {"value": "x"}).status == 201
        assert watches[0].line(DEADLINE_S) is not None

        def accepted() -> bool:
            w = wire.Watch(member.port, "/v2/keys/w8?wait=true")
            watches.append(w)
            return w.status == 200

        poll(accepted, "a watch is accepted once another ended")
    finally:
        for w in watches:
            w.close()


def test_one_connection_holds_one_watch_at_a_time(member: InProcessMember) -> None:
    # Two watches pipelined on one connection: the second is not opened (no store
    # watcher) until the first has ended.
    assert member.server is not None
    s = socket.create_connection(("127.0.0.1", member.port))
    try:
        s.sendall(
            b"GET /v2/keys/p1?wait=true HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v2/keys/p2?wait=true HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        store = member.server.store
        poll(lambda: member.sync(lambda: store.watcher_count) == 1, "the first watch is open")
        time.sleep(0.2)
        assert member.sync(lambda: store.watcher_count) == 1
        assert wire.form(member.port, "PUT", "/v2/keys/p1", {"value": "1"}).status == 201
        poll(lambda: member.sync(lambda: store.watcher_count) == 1 and _second_open(member), "p2")
    finally:
        s.close()


def _second_open(m: InProcessMember) -> bool:
    assert m.api is not None
    return m.sync(lambda: any(w.path.endswith("/p2") for w in m.api.keys._watchers))  # type: ignore[union-attr]


def test_oversized_headers_are_refused(member: InProcessMember) -> None:
    big = "x" * (http_mod.MAX_HEADER_BYTES + 1)
    r = wire.request(member.port, "GET", "/v2/keys/", headers={"X-Big": big})
    assert r.status == 431
    many = {f"X-H{i}": "y" * 1000 for i in range(1100)}
    assert wire.request(member.port, "GET", "/v2/keys/", headers=many).status == 431
    assert wire.request(member.port, "GET", "/version").status == 200
