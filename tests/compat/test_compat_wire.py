"""The bytes on the wire, side by side with the reference: status lines (HTTP/1.0 answers
in HTTP/1.0), Connection and Transfer-Encoding headers, how a body ends, whether the
connection stays open; requests without Host; methods the HTTP parser does not know.

Each case sends raw bytes (in pieces, when a case is about a request cut between reads)
to both servers, reads until the connection closes or stays idle, and compares the whole
byte stream after masking what legitimately differs (Date, indexes, ids, lengths).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.compat import wire
from tests.compat.sidebyside import Pair

IDLE_S = 0.6
DEADLINE_S = 10.0
KEY = "/v2/keys/wire/a"


@dataclass
class Seen:
    data: bytes
    closed: bool


def exchange(port: int, parts: list[bytes], trigger: Callable[[], None] | None = None) -> Seen:
    """Send ``parts`` (a pause between them), run ``trigger`` once an answer's head has
    arrived, and read until the server closes or sends nothing for IDLE_S."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, part in enumerate(parts):
            if i:
                time.sleep(0.1)
            s.sendall(part)
        data = b""
        end = time.monotonic() + DEADLINE_S
        while trigger is not None and b"\r\n\r\n" not in data:
            assert time.monotonic() < end, "no answer head before the deadline"
            chunk = s.recv(65536)
            assert chunk, f"closed before an answer head: {data!r}"
            data += chunk
        if trigger is not None:
            trigger()
        s.settimeout(IDLE_S)
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return Seen(data, False)
            except ConnectionResetError:
                return Seen(data, True)
            if not chunk:
                return Seen(data, True)
            data += chunk
    raise AssertionError(f"the server kept sending: {data[:300]!r}")


_MASKS = [
    (
        re.compile(rb"(?m)^(Date|X-Etcd-Cluster-Id|X-Etcd-Index|X-Raft-Index|X-Raft-Term): .*\r$"),
        rb"\1: <v>\r",
    ),
    (re.compile(rb"(?m)^Content-Length: \d+\r$"), rb"Content-Length: <n>\r"),
    (re.compile(rb'"(modifiedIndex|createdIndex|index)":\d+'), rb'"\1":<i>'),
    # chunk sizes before an event (their digits follow the indexes')
    (re.compile(rb"(?m)^[0-9a-f]+\r\n(?=\{)"), rb"<size>\r\n"),
]


def masked(seen: Seen) -> tuple[bytes, bool]:
    data = seen.data
    for pattern, repl in _MASKS:
        data = pattern.sub(repl, data)
    return data, seen.closed


def put(port: int, key: str, value: str) -> None:
    r = wire.form(port, "PUT", key, {"value": value})
    assert r.status in (200, 201), r


@pytest.fixture(scope="module")
def wpair(pair: Pair) -> Pair:
    for s in pair.sides:
        put(s.port, KEY, "1")
    return pair


def _h11(line: str, *headers: str, body: bytes = b"") -> bytes:
    return (line + " HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


def _h10(line: str, *headers: str, body: bytes = b"") -> bytes:
    return (line + " HTTP/1.0\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


FORM = "Content-Type: application/x-www-form-urlencoded"
KA = "Connection: keep-alive"
HOST = "Host: x"

# id -> the pieces sent (one piece unless the case is about a cut request)
CASES: dict[str, list[bytes]] = {
    # HTTP/1.0: HTTP/1.0 status lines; keep-alive only when asked for and the length
    # is known; no Connection header otherwise.
    "10-get": [_h10(f"GET {KEY}")],
    "10-get-keepalive": [_h10(f"GET {KEY}", KA)],
    "10-get-keepalive-twice": [_h10(f"GET {KEY}", KA) + _h10(f"GET {KEY}", KA)],
    "10-head-keepalive": [_h10(f"HEAD {KEY}", KA)],
    "10-put": [_h10(f"PUT {KEY}0", FORM, "Content-Length: 7", body=b"value=2")],
    "10-put-keepalive": [_h10(f"PUT {KEY}1", FORM, KA, "Content-Length: 7", body=b"value=2")],
    "10-missing-keepalive": [_h10("GET /v2/keys/wire/missing", KA)],
    "10-unknown-path": [_h10("GET /nope", KA)],
    "10-redirect": [_h10("GET /v2//keys/wire/a", KA)],
    "10-options": [_h10(f"OPTIONS {KEY}", KA)],
    "10-bad-escape": [_h10("GET /v2/keys/%zz", KA)],
    # no Host: a fixed 400 and a hang-up for HTTP/1.1 (CONNECT excepted), not for 1.0
    "no-host": [_h11(f"GET {KEY}")],
    "no-host-version": [_h11("GET /version")],
    "no-host-put": [_h11(f"PUT {KEY}", FORM, "Content-Length: 7", body=b"value=3")],
    "no-host-10": [_h10(f"GET {KEY}")],
    "empty-host": [_h11(f"GET {KEY}", "Host:")],
    "no-host-after-one": [_h11(f"GET {KEY}", HOST), _h11(f"GET {KEY}")],
    # methods llhttp does not know: routed as Go routes any token
    "method-unknown-keys": [_h11("FOO /v2/keys/wire/a", HOST)],
    "method-lowercase": [_h11("get /v2/keys/wire/a", HOST)],
    "method-unknown-version": [_h11("FOO_BAR /version", HOST)],
    "method-unknown-path": [_h11("FOO /nope", HOST)],
    "method-unknown-no-host": [_h11("FOO /v2/keys/wire/a")],
    "method-unknown-10": [_h10("FOO /v2/keys/wire/a")],
    "method-rtsp": [_h11("DESCRIBE /v2/keys/wire/a", HOST)],
    "method-with-body": [_h11(f"FOO {KEY}", HOST, "Content-Length: 3", body=b"abc")],
    "method-unknown-then-get": [_h11("FOO /nope", HOST) + _h11(f"GET {KEY}", HOST)],
    "method-cut-short": [b"FO", b"O /v2/keys/wire/a HTTP/1.1\r\nHost: x\r\n\r\n"],
    "method-cut-at-space": [b"FOO", b" /nope HTTP/1.1\r\nHost: x\r\n\r\n"],
    "method-cut-after-get": [
        _h11(f"GET {KEY}", HOST) + b"FO",
        b"O /nope HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    "connect-keys": [_h11("CONNECT /v2/keys/wire/a")],
    "connect-version": [_h11("CONNECT /version", HOST)],
    "connect-unknown-path": [_h11("CONNECT /nope", HOST)],
    "connect-authority": [_h11("CONNECT 127.0.0.1:80", HOST)],
    "connect-unclean": [_h11("CONNECT //v2/keys/wire/a", HOST)],
    "upgrade-ignored": [_h11(f"GET {KEY}", HOST, "Connection: Upgrade", "Upgrade: websocket")],
    "pipelined-mix": [
        _h11(f"GET {KEY}", HOST)
        + _h11(f"FOO {KEY}", HOST, "Content-Length: 3", body=b"abc")
        + _h11("get /nope", HOST)
        + _h11(f"CONNECT {KEY}")
        + _h11(f"HEAD {KEY}", HOST)
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_wire(case: str, wpair: Pair) -> None:
    got = [masked(exchange(s.port, CASES[case])) for s in wpair.sides]
    assert got[1] == got[0], f"{case}:\n  reference {got[0]!r}\n  etcdpy    {got[1]!r}"


# Watches: the answer's head, then a write to the key, then how the body goes on and ends.
WATCHES: dict[str, bytes] = {
    "10-wait": _h10("GET /v2/keys/wire/w1?wait=true"),
    "10-wait-keepalive": _h10("GET /v2/keys/wire/w2?wait=true", KA),
    "10-stream-keepalive": _h10("GET /v2/keys/wire/w3?wait=true&stream=true", KA),
    "11-wait-close": _h11("GET /v2/keys/wire/w4?wait=true", HOST, "Connection: close"),
    "11-stream-close": _h11(
        "GET /v2/keys/wire/w5?wait=true&stream=true", HOST, "Connection: close"
    ),
    "11-wait": _h11("GET /v2/keys/wire/w6?wait=true", HOST),
}


@pytest.mark.parametrize("case", list(WATCHES))
def test_watch_wire(case: str, wpair: Pair) -> None:
    raw = WATCHES[case]
    key = raw.split(b" ")[1].split(b"?")[0].decode()
    got = []
    for s in wpair.sides:

        def write(port: int = s.port) -> None:
            put(port, key, "v")

        got.append(masked(exchange(s.port, [raw], trigger=write)))
    assert got[1] == got[0], f"{case}:\n  reference {got[0]!r}\n  etcdpy    {got[1]!r}"
