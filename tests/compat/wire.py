"""A tiny raw HTTP/1.1 client for tests that must see exactly what a server sends.

``http.client`` refuses malformed targets and hides framing; these tests send bad input
on purpose and compare headers and body bytes, so requests are written by hand and
responses parsed here (Content-Length, chunked, or read-to-close).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

DEFAULT_TIMEOUT_S = 10.0


@dataclass
class Resp:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool = False
    chunks: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def header_names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}


def form_body(form: dict[str, str] | list[tuple[str, str]] | bytes) -> bytes:
    if isinstance(form, bytes):
        return form
    return urlencode(form).encode()


def build_request(
    method: str,
    target: str | bytes,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> bytes:
    t = target.encode("utf-8", "surrogateescape") if isinstance(target, str) else target
    lines = [method.encode() + b" " + t + b" HTTP/1.1", b"Host: " + host.encode()]
    h = dict(headers or {})
    if body is not None and "Content-Length" not in h:
        h["Content-Length"] = str(len(body))
    for k, v in h.items():
        lines.append(f"{k}: {v}".encode("latin-1"))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


class Reader:
    """Buffered reads from a socket with one overall deadline."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.buf = b""
        self.deadline = time.monotonic() + timeout

    def _fill(self) -> bool:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete answer before the deadline")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            if not self._fill():
                raise ConnectionError(f"connection closed before {sep!r}")
        head, _, self.buf = self.buf.partition(sep)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed mid-body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self) -> bytes:
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out


def read_head(r: Reader) -> tuple[int, str, list[tuple[str, str]]]:
    head = r.until(b"\r\n\r\n").decode("latin-1")
    status_line, *lines = head.split("\r\n")
    _, code, *reason = status_line.split(" ", 2)
    headers = []
    for line in lines:
        k, _, v = line.partition(":")
        headers.append((k, v.strip()))
    return int(code), (reason[0] if reason else ""), headers


def read_chunk(r: Reader) -> bytes | None:
    """One chunk of a chunked body; None at the last (empty) chunk."""
    size = int(r.until(b"\r\n").split(b";")[0], 16)
    if size == 0:
        r.until(b"\r\n")
        return None
    data = r.exactly(size)
    r.until(b"\r\n")
    return data


def read_response(r: Reader, method: str) -> Resp:
    status, reason, headers = read_head(r)
    resp = Resp(status, reason, headers, b"")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return resp
    te = (resp.header("Transfer-Encoding") or "").lower()
    if te == "chunked":
        resp.chunked = True
        while (c := read_chunk(r)) is not None:
            resp.chunks.append(c)
        resp.body = b"".join(resp.chunks)
    elif resp.header("Content-Length") is not None:
        resp.body = r.exactly(int(resp.header("Content-Length") or 0))
    else:
        resp.body = r.rest()
    return resp


def request(
    port: int,
    method: str,
    target: str | bytes,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    raw: bytes | None = None,
) -> Resp:
    """Send one request (or the ``raw`` bytes) on a new connection; return the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw if raw is not None else build_request(method, target, body, headers))
        return read_response(Reader(s, timeout), method)


def form(
    port: int,
    method: str,
    target: str,
    fields: dict[str, str] | list[tuple[str, str]] | bytes,
    content_type: str = "application/x-www-form-urlencoded",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Resp:
    return request(port, method, target, form_body(fields), {"Content-Type": content_type}, timeout)


class Watch:
    """A long-poll GET held open: headers now, events later."""

    def __init__(self, port: int, target: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(build_request("GET", target))
        self.reader = Reader(self.sock, 3600)
        self.reader.deadline = time.monotonic() + timeout
        self.status, self.reason, self.headers = read_head(self.reader)
        self.resp = Resp(self.status, self.reason, self.headers, b"")
        self.chunked = (self.resp.header("Transfer-Encoding") or "").lower() == "chunked"
        self._pending = b""

    def header(self, name: str) -> str | None:
        return self.resp.header(name)

    def line(self, timeout: float = DEFAULT_TIMEOUT_S) -> bytes | None:
        """The next newline-terminated body line, or None when the body ends."""
        self.reader.deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            if self.chunked:
                c = read_chunk(self.reader)
                if c is None:
                    out, self._pending = self._pending, b""
                    return out or None
                self._pending += c
            else:
                data = self.reader.exactly(int(self.resp.header("Content-Length") or 0))
                self._pending += data
                if b"\n" not in self._pending:
                    out, self._pending = self._pending, b""
                    return out or None
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def ended(self, timeout: float = DEFAULT_TIMEOUT_S) -> bool:
        """True when the body is over (after the last event of a one-shot watch)."""
        return self.line(timeout) is None

    def close(self) -> None:
        self.sock.close()
