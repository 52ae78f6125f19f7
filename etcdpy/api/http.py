"""A small HTTP/1.1 server for the client API: httptools parsing on asyncio transports.

aiohttp's server spends most of a request's time on objects the API does not need
(multidicts, payload writers, one task and several futures per request); measured here
it capped a member at about 5,000 requests/s where this loop does several times that.
It keeps what etcd's clients rely on: keep-alive and pipelining (answers in request
order), ``Expect: 100-continue``, bodies by length or chunked, chunked streaming for
watches with write flow control, HEAD without a body, Go's ``Date`` header and its
sorted header order, and a hang-up with Go's ``400 Bad Request`` on a request it cannot
parse (or an HTTP/1.1 one without Host). HTTP/1.0 is answered as Go does: an HTTP/1.0
status line, keep-alive only when asked for and the length is known, a streamed body
written plain and ended by closing. Methods llhttp refuses but Go routes (any token:
``FOO``, ``get``, RTSP's) and CONNECT or Upgrade requests are served like others (see
``HTTPProtocol._resume_point``). A handler is cancelled when its client goes away (a
proposal it made still applies).

The request and response classes keep the names of aiohttp's (``method``, ``raw_path``,
``headers``, ``content``, ``force_close()``, ``prepare/write/write_eof``) so that the
handlers read the same as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import httptools

log = logging.getLogger(__name__)

# Go's server reads up to 1 MiB of request line and headers.
MAX_HEADER_BYTES = 1 << 20
# A client must send its request line and headers within this time once it has begun.
HEADER_TIMEOUT_S = 60.0
# Body bytes buffered for a handler that is not reading before we stop reading the socket.
BODY_BUFFER_LIMIT = 1 << 20
# How long a connection closed mid-body keeps discarding what the client still sends.
LINGER_S = 1.0
# A streaming answer whose client stopped reading for this long is abandoned.
DRAIN_TIMEOUT_S = 30.0
# A request body that stops arriving for this long is abandoned with its connection.
BODY_TIMEOUT_S = 60.0
# A connection with no request in progress is closed after this long (Go's clients keep
# an idle connection 90 s and open a new one when they need it).
IDLE_TIMEOUT_S = 300.0
# How often a connection checks the two timeouts above.
WATCHDOG_S = 5.0
# Client connections beyond the limit are closed as they arrive: each holds a file
# descriptor, and the WAL, the snapshots and the peers must always get theirs.
FD_RESERVE = 1024
MAX_CLIENT_CONNECTIONS = 100_000
# Pipelined requests parsed ahead of the one being served: beyond this the rest of what
# the client sent waits unparsed and its socket is not read, so a client that sends
# without reading its answers cannot grow the member's memory. Data is parsed in slices
# of FEED_SLICE bytes so that one large read cannot overshoot the bound by much.
MAX_PIPELINED = 64
FEED_SLICE = 4096
# At most one refusal line per this many seconds in the log.
REFUSAL_LOG_INTERVAL_S = 10.0


def client_connection_limit() -> int:
    """How many client connections a member accepts at once: the open-file limit less
    :data:`FD_RESERVE`, at most :data:`MAX_CLIENT_CONNECTIONS`, at least 64."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CLIENT_CONNECTIONS
    return max(64, min(MAX_CLIENT_CONNECTIONS, soft - FD_RESERVE))


_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n\r\n400 Bad Request"
)
_MISSING_HOST = (
    b"HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; "
    b"charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header"
)
_HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; "
    b"charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Go answers in the request's version: "1.1" (every version but 1.0) or "1.0".
_STATUS_LINES: dict[str, dict[int, bytes]] = {
    v: {s.value: f"HTTP/{v} {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}
    for v in ("1.1", "1.0")
}
_CLOSE = b"Connection: close\r\n"
_KEEP_ALIVE = b"Connection: keep-alive\r\n"
# Go sends no body and no Content-Length with these.
_NO_BODY = frozenset((204, 304))


def _status_line(status: int, version: str = "1.1") -> bytes:
    line = _STATUS_LINES[version].get(status)
    if line is None:
        line = f"HTTP/{version} {status} status code {status}\r\n".encode()
    return line


class _DateCache:
    """Go's ``Date`` header, formatted once a second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self._line


_DATE = _DateCache()

_last_refusal_log = [-REFUSAL_LOG_INTERVAL_S]


def _log_refusal(fmt: str, *args: object) -> None:
    now = time.monotonic()
    if now - _last_refusal_log[0] >= REFUSAL_LOG_INTERVAL_S:
        _last_refusal_log[0] = now
        log.warning(fmt, *args)


def _header_lines(headers: dict[str, str]) -> bytes:
    """Header lines as Go writes them: sorted by name."""
    text = "".join([f"{k}: {headers[k]}\r\n" for k in sorted(headers)])
    return text.encode("latin-1", "replace")


class Headers:
    """Request headers by case-insensitive name; ``get`` gives the first value (Go's
    ``Header.Get``)."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: dict[str, str] = {}

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        if key not in self._d:
            self._d[key] = value

    def get(self, name: str, default: Any = None) -> Any:
        return self._d.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._d

    def __getitem__(self, name: str) -> str:
        return self._d[name.lower()]

    def items(self) -> list[tuple[str, str]]:
        return list(self._d.items())


class Body:
    """A request body as it arrives; :meth:`read` waits for more."""

    __slots__ = ("_buf", "_eof", "_exc", "_proto", "_request", "_waiter")

    def __init__(self, proto: HTTPProtocol, request: Request) -> None:
        self._proto = proto
        # Weak: a request holds its body, and a cycle would leave every request to the
        # cycle collector (thousands a second, each pass a pause of tens of ms).
        self._request = weakref.ref(request)
        self._buf = bytearray()
        self._eof = False
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > BODY_BUFFER_LIMIT:
            self._proto.pause_reading()
        self._wake()

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def received(self) -> bytes | None:
        """The whole body if it has all arrived (nothing is consumed), else None."""
        return bytes(self._buf) if self._eof and self._exc is None else None

    def fail(self, exc: BaseException) -> None:
        self._exc = exc
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (the rest of the body when ``n`` < 0); ``b""`` at its end."""
        request = self._request()
        if request is not None:
            request.send_continue()
        if n < 0:
            while not self._eof:
                if self._exc is not None:
                    raise self._exc
                await self._wait()
            data = bytes(self._buf)
            self._buf.clear()
            return data
        while not self._buf and not self._eof:
            if self._exc is not None:
                raise self._exc
            await self._wait()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        self._proto.resume_reading()
        return data

    async def _wait(self) -> None:
        self._proto.parse_held_back()
        self._proto.resume_reading()
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._waiter, BODY_TIMEOUT_S)
        except TimeoutError:
            # A client trickling (or withholding) its body must not hold a handler and
            # a connection for ever: both are dropped, as if the client had gone away.
            self._proto._abort()
            raise asyncio.CancelledError from None
        finally:
            self._waiter = None


class Request:
    """One client request, with aiohttp's attribute names where the handlers use them."""

    __slots__ = (
        "__weakref__",
        "_continued",
        "_proto",
        "_store",
        "body_exists",
        "content",
        "content_length",
        "headers",
        "keep_alive",
        "method",
        "raw_path",
        "version",
    )

    def __init__(
        self,
        proto: HTTPProtocol,
        method: str,
        raw_path: str,
        version: str,
        headers: Headers,
        keep_alive: bool,
    ) -> None:
        self._proto = proto
        self.method = method
        self.raw_path = raw_path
        self.version = version
        self.headers = headers
        self.keep_alive = keep_alive
        self._store: dict[Any, Any] = {}
        self._continued = False
        self.content = Body(proto, self)
        d = headers._d  # names are stored lower-case: no Headers.get per lookup
        cl = d.get("content-length")
        try:
            self.content_length: int | None = int(cl) if cl is not None else None
        except ValueError:
            self.content_length = None
        te = d.get("transfer-encoding")
        self.body_exists = (te is not None and "chunked" in te.lower()) or bool(self.content_length)

    @property
    def transport(self) -> Any:
        """The connection's transport (TLS details such as the peer certificate)."""
        return self._proto._transport

    @property
    def path(self) -> str:
        return self.raw_path.partition("?")[0]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._store.get(key, default)

    def __getitem__(self, key: Any) -> Any:
        return self._store[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._store[key] = value

    def send_continue(self) -> None:
        """``100 Continue`` for a client that waits for it, on the first body read (as
        Go does; curl waits a second for it before sending a large body)."""
        if self._continued:
            return
        self._continued = True
        if (
            self.version == "1.1"
            and self.headers.get("expect", "").lower() == "100-continue"
            and not self._proto.answered(self)
        ):
            self._proto.write(_CONTINUE)


class Response:
    """A complete answer: status, headers, body."""

    __slots__ = ("_close", "body", "headers", "prerendered", "status")

    prepared = False

    def __init__(
        self, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self._close = False
        # The bytes of this answer to a keep-alive HTTP/1.1 GET, around the Date line
        # (see prerender): an answer reused for many requests is rendered once.
        self.prerendered: tuple[bytes, bytes] | None = None

    def prerender(self) -> None:
        """Render the answer once for reuse (headers and body must not change after)."""
        self.prerendered = (
            _status_line(self.status) + _header_lines(self.headers),
            b"Content-Length: %d\r\n\r\n%b" % (len(self.body), self.body),
        )

    def force_close(self) -> None:
        self._close = True

    @property
    def must_close(self) -> bool:
        return self._close


class Verbatim(Response):
    """An answer written byte for byte whatever the request's version, then the
    connection closes: Go's fixed ``HTTP/1.1 400 Bad Request`` for a request it cannot
    parse (no Date, no Content-Length)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes = _BAD_REQUEST) -> None:
        super().__init__(400)
        self.raw = raw
        self._close = True


class StreamResponse:
    """An answer written as it goes (watches): headers at once, then chunks."""

    __slots__ = ("_chunked", "_close", "_proto", "_request", "headers", "prepared", "status")

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self._chunked = False
        self._close = False
        self._proto: HTTPProtocol | None = None
        self._request: Request | None = None
        self.prepared = False

    def enable_chunked_encoding(self) -> None:
        self._chunked = True

    def force_close(self) -> None:
        self._close = True

    @property
    def must_close(self) -> bool:
        return self._close

    async def prepare(self, request: Request) -> None:
        proto = request._proto
        self._proto, self._request = proto, request
        if request.version == "1.0":
            # HTTP/1.0 has no chunked encoding: as Go does, the body is written plain
            # and ends when the connection closes (whatever Connection header came).
            self._chunked = False
            head = proto.head(self.status, self.headers, None, request, b"", self._close)
            self._close = True
        else:
            extra = b"Transfer-Encoding: chunked\r\n" if self._chunked else b""
            head = proto.head(self.status, self.headers, None, request, extra, self._close)
        proto.write(head)
        proto.mark_answered(request)
        self.prepared = True

    async def write(self, data: bytes) -> None:
        proto = self._proto
        assert proto is not None, "prepare() first"
        if proto.closed:
            raise ConnectionResetError("the client went away")
        if not data:
            return
        if self._chunked:
            proto.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            proto.write(data)
        await proto.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        proto = self._proto
        assert proto is not None, "prepare() first"
        if proto.closed:
            raise ConnectionResetError("the client went away")
        if self._chunked:
            if data:
                proto.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data))
            else:
                proto.write(b"0\r\n\r\n")
        elif data:
            proto.write(data)


class _Resume(Exception):
    """Raised by :class:`_PendingMethod` once a refused request's method has arrived."""

    def __init__(self, method: str, rest: bytes) -> None:
        super().__init__(method)
        self.method = method
        self.rest = rest


_PARSER_STOPS = (httptools.HttpParserError, httptools.HttpParserUpgrade, _Resume)
# llhttp's error for RTSP methods (DESCRIBE, PLAY, ...) in an HTTP request.
_RTSP_ONLY_METHOD = "Invalid method for HTTP/x.x request"
# Go's validMethod: a token (RFC 7230).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class _PendingMethod:
    """Stands in for the parser while the method of a request httptools refused is still
    arriving (it was cut by the end of a read)."""

    def __init__(self, proto: HTTPProtocol, head: bytes) -> None:
        self._proto = proto
        self._method = bytearray(head)

    def feed_data(self, data: bytes) -> None:
        self._proto._count_header_bytes(len(data))
        sp = data.find(b" ")
        part = data if sp < 0 else data[:sp]
        if part and not _TOKEN.fullmatch(part):
            raise httptools.HttpParserError("invalid method")
        self._method += part
        if sp >= 0:
            if not self._method:
                raise httptools.HttpParserError("invalid method")
            raise _Resume(self._method.decode("latin-1"), b"GET" + data[sp:])


class _MethodOverride:
    """Callbacks for a parser resumed on a request whose method httptools refuses, fed
    to it as ``GET``: the connection's own, except that this request gets its method
    back. (Later requests on the connection pay one extra call each.)"""

    def __init__(self, proto: HTTPProtocol, method: str) -> None:
        self._proto = proto
        self._method: str | None = method
        self.on_message_begin = proto.on_message_begin
        self.on_url = proto.on_url
        self.on_header = proto.on_header
        self.on_body = proto.on_body
        self.on_message_complete = proto.on_message_complete

    def on_headers_complete(self) -> None:
        proto = self._proto
        queued = len(proto._queue)
        proto.on_headers_complete()
        if self._method is not None and len(proto._queue) > queued:
            proto._queue[-1].method = self._method
        self._method = None


class _Scan:
    """Parser callbacks that only record the requests completed (see _refused_start)."""

    def __init__(self) -> None:
        self.heads: list[tuple[bytes, list[tuple[bytes, bytes]]]] = []
        self._url = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []

    def on_message_begin(self) -> None:
        self._url = bytearray()
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_message_complete(self) -> None:
        self.heads.append((bytes(self._url), self._headers))


def _scan(data: bytes) -> tuple[_Scan, BaseException | None]:
    scan = _Scan()
    try:
        httptools.HttpRequestParser(scan).feed_data(data)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
        return scan, exc
    return scan, None


def _matches_tail(heads: list[tuple[bytes, list[tuple[bytes, bytes]]]], queue: Any) -> bool:
    """Whether the requests a second parse found are the last ``len(heads)`` queued
    ones (same target, same headers)."""
    if not heads or len(heads) > len(queue):
        return False
    tail = list(queue)[-len(heads) :]
    for req, (url, pairs) in zip(tail, heads, strict=True):
        h = Headers()
        for name, value in pairs:
            h.add(name.decode("latin-1"), value.decode("latin-1"))
        if req.raw_path != url.decode("latin-1") or req.headers.items() != h.items():
            return False
    return True


async def _carry_on(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Go on driving, as a task, a coroutine whose first steps ran inline (what Python
    3.12's eager tasks do): wait for the future it is blocked on, then resume it; a
    cancellation of this task is thrown into it at that point, as a task would."""
    while True:
        cancelled: BaseException | None = None
        try:
            if waiting_on is None:
                await asyncio.sleep(0)  # a bare yield: give the loop one turn
            else:
                # The future was yielded to us, not to a task: clear the flag a task
                # would have cleared, or awaiting it again is refused.
                waiting_on._asyncio_future_blocking = False
                await waiting_on
        except asyncio.CancelledError as exc:
            cancelled = exc
        except BaseException:
            pass
        try:
            waiting_on = coro.send(None) if cancelled is None else coro.throw(cancelled)
        except StopIteration:
            return


AnyResponse = Response | StreamResponse
Handler = Callable[[Request], Awaitable[AnyResponse]]


class HTTPProtocol(asyncio.Protocol):
    """One client connection: parse requests, run the handler for each in order."""

    def __init__(
        self,
        handler: Handler,
        connections: set[HTTPProtocol],
        max_connections: int = MAX_CLIENT_CONNECTIONS,
    ) -> None:
        self._handler = handler
        self._connections = connections
        self._max_connections = max_connections
        # One timer per connection; requests only stamp when the connection fell idle
        # (re-arming a timer per request would cost every request a heap operation).
        self._watchdog_timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_event_loop()
        self._idle_since: float | None = None
        # httptools' parser; after a request it refuses but Go serves, a new one (see
        # _resume_point), or a _PendingMethod while such a request's method arrives.
        self._parser: Any = httptools.HttpRequestParser(self)
        # The fixed answer for the request that stopped the parser, when not a plain 400.
        self._refusal: bytes | None = None
        self._transport: asyncio.Transport | None = None
        self._queue: deque[Request] = deque()
        self._current: Request | None = None  # the request whose body is arriving
        self._task: asyncio.Task[None] | None = None
        self._serving = False  # a _serve() runs, inline or as self._task
        self._start_pending = False
        self._url = bytearray()
        self._headers = Headers()
        self._header_bytes = 0
        self._headers_since: float | None = None
        self._answered: Request | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._lingering = False
        # Received but not yet parsed (held back while MAX_PIPELINED requests wait).
        self._unparsed = bytearray()
        self.closed = False

    # --- transport callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        if len(self._connections) >= self._max_connections:
            _log_refusal(
                "refusing client connections: %d are open, the limit for this member's "
                "open-file limit; raise 'ulimit -n' or spread the clients over more members",
                len(self._connections),
            )
            self.closed = True
            transport.abort()
            return
        self._connections.add(self)
        self._idle_since = asyncio.get_running_loop().time()
        self._arm_watchdog()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._connections.discard(self)
        if self._watchdog_timer is not None:
            self._watchdog_timer.cancel()
        gone = ConnectionResetError("the client went away")
        for req in (self._current, *self._queue):
            if req is not None:
                req.content.fail(gone)
        self._queue.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_exception(gone)
        # The parser holds this protocol and the timer its method: dropped, a closed
        # connection is freed at once instead of waiting for the cycle collector.
        self._parser = None
        self._watchdog_timer = None

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        if self._unparsed:
            self._unparsed += data
            self.pause_reading()
            return
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        self._feed(data)
        if self._start_pending:
            self._start_pending = False
            if not self._serving and self._queue and not self.closed:
                self._start_serving()

    def _feed(self, data: bytes) -> None:
        if len(data) <= FEED_SLICE and (queued := len(self._queue)) < MAX_PIPELINED:
            # The usual case, one request or a few: no slicing.
            try:
                self._parser.feed_data(data)
            except _PARSER_STOPS as exc:
                self._parser_stopped(data, exc, queued)
            return
        for off in range(0, len(data), FEED_SLICE):
            if (queued := len(self._queue)) >= MAX_PIPELINED:
                self._unparsed += data[off:]
                self.pause_reading()
                return
            piece = data[off : off + FEED_SLICE]
            try:
                self._parser.feed_data(piece)
            except _PARSER_STOPS as exc:
                if not self._parser_stopped(piece, exc, queued):
                    return
            if self._lingering or self.closed:
                return

    def _parser_stopped(self, data: bytes, exc: BaseException, queued: int) -> bool:
        """The parser stopped inside ``data`` (``queued``: requests queued before it was
        fed): go on past a request httptools refuses but Go serves, or hang up with Go's
        answer. False when parsing is over."""
        at_boundary = False
        while True:
            rest = self._resume_point(data, exc, at_boundary, queued)
            if rest is None:
                self._hang_up(
                    self._refusal
                    or (
                        _HEADERS_TOO_LARGE
                        if self._header_bytes > MAX_HEADER_BYTES
                        else _BAD_REQUEST
                    )
                )
                return False
            queued = len(self._queue)
            try:
                self._parser.feed_data(rest)
                return True
            except _PARSER_STOPS as again:
                # What follows starts where a request starts: no need to find it.
                data, exc, at_boundary = rest, again, True

    def _resume_point(
        self, data: bytes, exc: BaseException, at_boundary: bool, queued: int
    ) -> bytes | None:
        """Set up a new parser to go on after what stopped the old one in ``data`` and
        return what to feed it (``b""``: wait for more), or None to hang up.

        * An upgrade (CONNECT, or ``Connection: upgrade`` with ``Upgrade``): llhttp stops
          after the head; Go ignores Upgrade and routes CONNECT like any method, so the
          bytes after the head are the next request. (A body on such a request was
          skipped by llhttp: that one is still refused.)
        * A method llhttp does not know, or knows only for RTSP: Go routes any token
          (405 or 404). The refused request is found in ``data`` (see
          :meth:`_refused_start`), fed again as ``GET`` and given its method back when
          its head is parsed (:class:`_MethodOverride`).
        """
        if isinstance(exc, _Resume):
            self._parser = httptools.HttpRequestParser(_MethodOverride(self, exc.method))
            return exc.rest
        if isinstance(exc, httptools.HttpParserUpgrade):
            last = self._queue[-1] if self._queue else None
            if last is None or last is self._current or last.body_exists:
                return None
            self._parser = httptools.HttpRequestParser(self)
            return data[exc.args[0] :]
        if not (
            isinstance(exc, httptools.HttpParserInvalidMethodError) or str(exc) == _RTSP_ONLY_METHOD
        ):
            return None
        start = self._refused_start(data, exc, at_boundary, queued)
        if start is None:
            return None
        sp = data.find(b" ", start)
        token = data[start:] if sp < 0 else data[start:sp]
        if token and not _TOKEN.fullmatch(token):
            return None  # Go's "invalid method": a plain 400
        if sp < 0:
            self._parser = _PendingMethod(self, token)
            return b""
        if not token:
            return None
        self._parser = httptools.HttpRequestParser(_MethodOverride(self, token.decode("latin-1")))
        return b"GET" + data[sp:]

    def _refused_start(
        self, data: bytes, exc: BaseException, at_boundary: bool, queued: int
    ) -> int | None:
        """Where, in ``data``, the request httptools refused begins; None if unsure.

        httptools gives no offsets, so ``data`` is parsed again by a parser that records
        the requests it completes before failing the same way (``_scan``), from a point
        where a request starts: the start of ``data`` when that is one (``at_boundary``;
        or the requests the second parse finds are exactly those the connection's parser
        queued from ``data``; or it queued none and no body was arriving), else the end
        of the first request queued from ``data``, which began before it. When the start
        is not certain (a chunked body, a body cut by the end of a read before it), None:
        the connection is hung up as before. Only error paths come here."""
        q = self._queue
        new = len(q) - queued  # requests whose head was parsed from data
        base = 0
        scan, err = _scan(data)
        if type(err) is not type(exc) or str(err) != str(exc):
            scan = None
        elif at_boundary:
            pass
        elif new == 0:
            # Unless the last request's body was still arriving, data began where a
            # request begins (or inside the refused method itself: still unknown).
            if scan.heads or (q and q[-1].body_exists):
                scan = None
        elif len(scan.heads) != new or not _matches_tail(scan.heads, q):
            scan = None
        if scan is None:
            # Else data began inside the first request parsed from it: that one ends at
            # data's first blank line (or in the CR/LF data starts with, unless a header
            # line follows them) plus its Content-Length; the others must follow.
            if at_boundary or new == 0:
                return None
            first = q[-new]
            if "transfer-encoding" in first.headers or (len(q) > new and q[-new - 1].body_exists):
                return None  # (data may have begun in the body before: unsure)
            lead = len(data) - len(data.lstrip(b"\r\n"))
            sp = data.find(b" ", lead)
            end = data.find(b"\r\n\r\n")
            if lead and (sp < 0 or b":" not in data[lead:sp]):
                base = lead
            elif end >= 0:
                base = end + 4
            else:
                return None
            base += first.content_length or 0
            scan, err = _scan(data[base:])
            if type(err) is not type(exc) or str(err) != str(exc):
                return None
            if len(scan.heads) != new - 1 or (scan.heads and not _matches_tail(scan.heads, q)):
                return None
        n = len(scan.heads)
        start = base
        if n:
            lo, hi = base + 1, len(data)  # the shortest parse that completes n requests
            while lo < hi:
                mid = (lo + hi) // 2
                if len(_scan(data[base:mid])[0].heads) >= n:
                    hi = mid
                else:
                    lo = mid + 1
            start = lo
        while start < len(data) and data[start] in b"\r\n":
            start += 1  # llhttp skips empty lines before a request
        return start

    def parse_held_back(self) -> None:
        """Parse what was held back, once the queue of waiting requests is short."""
        if (
            self._unparsed
            and len(self._queue) < MAX_PIPELINED // 2
            and not self.closed
            and not self._lingering
        ):
            data = bytes(self._unparsed)
            self._unparsed.clear()
            self._parse(data)
            if not self._unparsed:
                self.resume_reading()

    def pause_writing(self) -> None:
        self._writing_paused = True
        # A client that does not read its answers gets no more of its requests read:
        # otherwise pipelined requests and their answers pile up in memory.
        self.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self.resume_reading()
        w = self._drain_waiter
        if w is not None and not w.done():
            w.set_result(None)

    # --- parser callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._idle_since = None
        self._url = bytearray()
        self._headers = Headers()
        self._header_bytes = 0
        if self._headers_since is None:
            # Only stamped: the connection's watchdog enforces HEADER_TIMEOUT_S, so a
            # request costs no timer.
            self._headers_since = self._loop.time()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        self._headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def _count_header_bytes(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            raise httptools.HttpParserError("request headers too large")

    def on_headers_complete(self) -> None:
        self._headers_since = None
        p = self._parser
        headers = self._headers
        method = p.get_method().decode("latin-1")
        version = p.get_http_version()
        if "host" not in headers._d and version != "1.0" and method != "CONNECT":
            # Go refuses an HTTP/1.1 request without Host (CONNECT excepted) and hangs up.
            self._refusal = _MISSING_HOST
            raise httptools.HttpParserError("missing required Host header")
        req = Request(
            self, method, self._url.decode("latin-1"), version, headers, p.should_keep_alive()
        )
        self._current = req
        self._queue.append(req)
        # Serving starts once this chunk of input is parsed, so that a body that came
        # with the headers is there when the handler reads it.
        self._start_pending = True

    def on_body(self, body: bytes) -> None:
        if self._current is not None:
            self._current.content.feed(body)

    def on_message_complete(self) -> None:
        if self._current is not None:
            self._current.content.feed_eof()
            self._current = None

    # --- serving ---------------------------------------------------------------------------

    async def _serve(self) -> None:
        try:
            while self._queue and not self.closed:
                if self._unparsed:
                    self.parse_held_back()
                    if not self._queue:
                        break  # what was held back was refused: the queue is gone
                req = self._queue[0]
                resp = await self._handler(req)
                self._queue.popleft()
                if isinstance(resp, Response):
                    self._answer(req, resp)
                    await self.drain()
                elif not resp.prepared:
                    await resp.prepare(req)
                    await resp.write_eof()
                self._answered = None
                if self._body_left_unread(req):
                    self._linger()
                    return
                if resp._close or not req.keep_alive:
                    self._close_after_writing()
                    return
        except asyncio.CancelledError:
            return
        except ConnectionError:
            self._close_after_writing()
        finally:
            self._task = None
            self._serving = False
            if self._queue and not self.closed:
                # A request was queued while the last answer was being finished.
                self._start_serving()
            else:
                self._idle_since = self._loop.time()

    def _start_serving(self) -> None:
        """Serve the queued requests, running the handlers inline until one first waits
        for something: most reads never wait, and then cost no task at all."""
        self._serving = True
        coro = self._serve()
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except BaseException:
            self._serving = False
            log.exception("serving a client connection failed")
            self._abort()
            return
        self._task = asyncio.get_running_loop().create_task(_carry_on(coro, waiting_on))

    def _body_left_unread(self, req: Request) -> bool:
        # The next request's bytes follow an unread body: close rather than parse on
        # (Go drains small bodies; the handlers read every body they accept).
        return req is self._current and req.body_exists

    def _answer(self, req: Request, resp: Response) -> None:
        close = resp._close
        pre = resp.prerendered
        if pre is not None and not close and req.keep_alive and req.version == "1.1":
            self.write(pre[0] + _DATE.line() + pre[1])
            return
        if close and type(resp) is Verbatim:
            self.write(resp.raw)
            return
        body = resp.body
        status = resp.status
        if status in _NO_BODY:
            head = self.head(status, resp.headers, None, req, b"", close)
            body = b""
        else:
            head = self.head(status, resp.headers, len(body), req, b"", close)
            if req.method == "HEAD":
                body = b""
        self.write(head + body if body else head)

    def head(
        self,
        status: int,
        headers: dict[str, str],
        length: int | None,
        req: Request,
        extra: bytes,
        close: bool = False,
    ) -> bytes:
        """The status line and headers as Go writes them: sorted names, then Date,
        Content-Length, Connection and ``extra`` (Transfer-Encoding).

        ``close``: the server ends the connection after this answer (a body too large);
        Go then says ``Connection: close`` in either version. Otherwise an HTTP/1.1 client
        that asked to close is told ``Connection: close``; an HTTP/1.0 client that asked
        for keep-alive is told ``Connection: keep-alive`` when the answer's end is known
        without closing (a length, HEAD, no body), and nothing else is said to HTTP/1.0
        (Go's ``chunkWriter.writeHeader``)."""
        if req.version != "1.0":
            line = _status_line(status)
            conn = _CLOSE if close or not req.keep_alive else b""
        else:
            line = _status_line(status, "1.0")
            if close:
                conn = _CLOSE
            elif req.keep_alive and (
                length is not None or req.method == "HEAD" or status in _NO_BODY
            ):
                conn = _KEEP_ALIVE
            else:
                conn = b""
        return b"".join(
            (
                line,
                _header_lines(headers),
                _DATE.line(),
                b"" if length is None else b"Content-Length: %d\r\n" % length,
                conn,
                extra,
                b"\r\n",
            )
        )

    def answered(self, req: Request) -> bool:
        return self._answered is req

    def mark_answered(self, req: Request) -> None:
        self._answered = req

    def write(self, data: bytes) -> None:
        if not self.closed and self._transport is not None:
            self._transport.write(data)

    async def drain(self) -> None:
        if not self._writing_paused or self.closed:
            return
        loop = asyncio.get_running_loop()
        self._drain_waiter = loop.create_future()
        try:
            await asyncio.wait_for(self._drain_waiter, DRAIN_TIMEOUT_S)
        except TimeoutError:
            self._abort()
            raise ConnectionResetError("the client stopped reading") from None
        finally:
            self._drain_waiter = None

    def pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None and not self.closed:
            self._reading_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and not self.closed:
            self._reading_paused = False
            self._transport.resume_reading()

    def _hang_up(self, answer: bytes) -> None:
        if self._queue or self._serving:
            # The answer in progress is finished; then no more requests on this
            # connection. (The request being served stays queued: _serve pops it.)
            q = self._queue
            while len(q) > (1 if self._serving else 0):
                q.pop()
            self._lingering = True  # nothing more is parsed, held back or arriving
            self._close_after_writing()
            return
        self.write(answer)
        self._linger()

    def _linger(self) -> None:
        """Close a connection whose client is still sending a body we will not read, the
        way Go does: stop writing, discard what arrives for a moment, then close, so the
        client reads our answer instead of a reset."""
        self._lingering = True
        self.resume_reading()
        t = self._transport
        if t is None or self.closed:
            return
        if t.can_write_eof():
            t.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, self._close_after_writing)

    def _close_after_writing(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.close()

    def _abort(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.abort()

    def _arm_watchdog(self) -> None:
        if not self.closed:
            self._watchdog_timer = self._loop.call_later(WATCHDOG_S, self._watchdog)

    def _watchdog(self) -> None:
        """Every few seconds: drop a client that takes too long to send its headers, or
        a connection idle for too long."""
        self._watchdog_timer = None
        now = self._loop.time()
        if self._headers_since is not None and now - self._headers_since > HEADER_TIMEOUT_S:
            self._abort()
            return
        since = self._idle_since
        busy = self._serving or self._queue or self._headers_since is not None
        if since is not None and not busy and now - since > IDLE_TIMEOUT_S:
            self._close_after_writing()
            return
        self._arm_watchdog()

    def shutdown(self) -> None:
        """The member stops: close the connection once its answer in flight is out."""
        if not self._serving:
            self._close_after_writing()


class HTTPServer:
    """Listening sockets serving one handler; :meth:`close` ends every connection."""

    def __init__(self, handler: Handler, max_connections: int | None = None) -> None:
        self._handler = handler
        self._servers: list[asyncio.Server] = []
        self._connections: set[HTTPProtocol] = set()
        self.max_connections = (
            max_connections if max_connections is not None else client_connection_limit()
        )

    async def listen(self, host: str, port: int, ssl: Any = None, backlog: int = 4096) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: HTTPProtocol(self._handler, self._connections, self.max_connections),
            host,
            port,
            ssl=ssl,
            backlog=backlog,
            reuse_address=True,
        )
        self._servers.append(server)

    @property
    def sockets(self) -> list[Any]:
        return [s for srv in self._servers for s in (srv.sockets or ())]

    async def close(self, grace_s: float = 2.0) -> None:
        for srv in self._servers:
            srv.close()
        for conn in list(self._connections):
            conn.shutdown()
        end = asyncio.get_running_loop().time() + grace_s
        while self._connections and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.01)
        for conn in list(self._connections):
            conn._abort()
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await srv.wait_closed()
        self._servers.clear()
