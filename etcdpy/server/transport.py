"""The peer transport: Raft messages between members over HTTP (etcd ``rafthttp``).

Each remote member gets a :class:`PeerSender`: a queue and one task that writes every
queued message as one msgpack batch on a long-lived chunked POST to
``<peer>/raft/stream``, so a busy leader writes once per peer per Raft round whatever
the number of proposals, with no request per batch. (``POST <peer>/raft`` takes a
single batch too.) Snapshots go through their own task as a streamed POST to
``<peer>/raft/snapshot``, read from memory in chunks, so a large snapshot never blocks
the heartbeats and is never copied whole.

Every request carries the cluster id and the sender's id. The receiving side refuses a
member of another cluster (412) and a removed member (410); a sender told 410 learns
that it was removed. A leader that finds, in the messages of a POST, that the sender has
lost entries it had acknowledged (an out-of-date copy of its data dir) answers that POST
409 with the reason; the sender then stops (see ``EtcdServer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import msgpack
from aiohttp import web

from etcdpy.raft.types import Message, MessageType
from etcdpy.version import ETCD_SERVER_VERSION

log = logging.getLogger("etcdpy.transport")

HDR_CLUSTER_ID = "X-Etcd-Cluster-ID"
HDR_FROM = "X-Server-From"
HDR_TO = "X-Raft-To"
HDR_VERSION = "X-Server-Version"

# A batch is cut at this many bytes of entries so one POST stays small enough to be
# parsed without stalling the receiving member's loop.
MAX_BATCH_BYTES = 4 << 20
# Messages waiting for one peer beyond this are dropped, as etcd's stream buffer does;
# Raft resends what matters.
MAX_QUEUED = 4096
# A frame on a stream may not be larger than this (a batch is cut at MAX_BATCH_BYTES).
MAX_FRAME_BYTES = 64 << 20
CONNECT_TIMEOUT_S = 1.0
ANSWER_TIMEOUT_S = 5.0
# A peer that reads nothing for this long (stopped, or cut off) gets a new connection.
DRAIN_TIMEOUT_S = 5.0
WRITE_BUFFER_HIGH = 1 << 20
SNAPSHOT_CHUNK = 64 << 10
BACKOFF_MIN = 0.05
BACKOFF_MAX = 0.1
# The answer to a member whose log has lost entries it acknowledged to the leader.
STATUS_LOST_DATA = 409
CLUSTER_MISMATCH = "cluster ID mismatch"


@dataclass(slots=True)
class LatencyStats:
    """Round-trip times of the requests to one follower (``/v2/stats/leader``)."""

    current: float = 0.0
    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    minimum: float = math.inf
    maximum: float = 0.0
    fail: int = 0
    success: int = 0

    def record(self, ms: float) -> None:
        self.current = ms
        self.count += 1
        self.total += ms
        self.squares += ms * ms
        self.minimum = min(self.minimum, ms)
        self.maximum = max(self.maximum, ms)
        self.success += 1

    def to_dict(self) -> dict[str, object]:
        avg = self.total / self.count if self.count else 0.0
        var = self.squares / self.count - avg * avg if self.count else 0.0
        return {
            "latency": {
                "current": self.current,
                "average": avg,
                "standardDeviation": math.sqrt(max(var, 0.0)),
                "minimum": self.minimum if self.count else 0.0,
                "maximum": self.maximum,
            },
            "counts": {"fail": self.fail, "success": self.success},
        }


@dataclass(slots=True)
class TransportHooks:
    """What the transport tells the server; all called on the event loop."""

    # Returns a reason when the sender must be told it lost acknowledged entries.
    deliver: Callable[[list[Message]], str | None]
    unreachable: Callable[[int], None]
    snapshot_status: Callable[[int, bool], None]
    removed: Callable[[], None]
    is_removed: Callable[[int], bool]
    members_json: Callable[[], list[dict[str, object]]]
    # Called when a peer answers that this member is of another cluster; for the log.
    mismatch: Callable[[int, str], None] = field(default=lambda _id, _cid: None)
    # Called when a peer (the leader) answers that this member lost acknowledged entries.
    lost_data: Callable[[int, str], None] = field(default=lambda _id, _reason: None)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


_LEN = struct.Struct(">I")


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, str]:
    """The status of an HTTP answer; for a refusal, its body (the reason) as well. A 200
    answer's body is left to the caller."""
    line = await reader.readline()
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionResetError(f"the peer answered {line[:80]!r}")
    status = int(parts[1])
    length = -1
    chunked = False
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip() or 0)
        elif name.strip().lower() == "transfer-encoding":
            chunked = "chunked" in value.lower()
    if status == 200:
        return status, ""
    body = b""
    if length >= 0:
        body = await reader.readexactly(min(length, 65536))
    elif not chunked:
        body = await reader.read(65536)
    return status, body.decode("utf-8", "replace").strip()


def _encode_batch(msgs: list[Message]) -> bytes:
    return msgpack.packb([m.to_list() for m in msgs])


def _decode_batch(data: bytes) -> list[Message]:
    return [Message.from_list(v) for v in msgpack.unpackb(data)]


class PeerSender:
    """Sends one peer its messages, in order, one batch in flight at a time."""

    def __init__(self, transport: Transport, peer_id: int, urls: list[str]) -> None:
        self._t = transport
        self.peer_id = peer_id
        self.urls = list(urls)
        self._url_index = 0
        self._queue: deque[Message] = deque()
        self._snapshots: deque[Message] = deque()
        self._wake = asyncio.Event()
        self._snap_wake = asyncio.Event()
        self._stopped = False
        self._task: asyncio.Task[None] | None = None
        self._snap_task: asyncio.Task[None] | None = None
        self.stats = LatencyStats()
        self.active = False
        self.dropped = 0
        # The peer's last answer was 412 "cluster ID mismatch" (cleared by a success).
        self.mismatched = False
        self._stream_error: BaseException | None = None
        self._heartbeat_at = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"peer-{self.peer_id:x}")
        self._snap_task = asyncio.create_task(self._run_snapshots(), name=f"snap-{self.peer_id:x}")

    async def stop(self) -> None:
        self._stopped = True  # Python 3.11's wait_for can swallow the cancellation
        self._wake.set()
        self._snap_wake.set()
        for task in (self._task, self._snap_task):
            if task is not None:
                task.cancel()
        for task in (self._task, self._snap_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def send(self, m: Message) -> None:
        if m.type == MessageType.SNAP:
            self._snapshots.append(m)
            self._snap_wake.set()
            return
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            if m.type == MessageType.APP:
                self._t.hooks.unreachable(self.peer_id)
            return
        self._queue.append(m)
        self._wake.set()

    def _url(self) -> str:
        return self.urls[self._url_index % len(self.urls)]

    def _rotate(self) -> None:
        self._url_index += 1

    def _take_batch(self) -> list[Message]:
        batch: list[Message] = []
        size = 0
        q = self._queue
        while q and size < MAX_BATCH_BYTES:
            m = q.popleft()
            batch.append(m)
            for e in m.entries:
                size += len(e.data) + 16
        return batch

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        while not self._stopped:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self._stream()
                backoff = BACKOFF_MIN
            except _Refused as exc:
                self.stats.fail += 1
                self._handle_refusal(exc.status, exc.reason.encode())
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                self.stats.fail += 1
                self._set_active(False, str(exc) or type(exc).__name__)
            except Exception as exc:  # never let the sender die: the peer would be cut off
                self.stats.fail += 1
                self._set_active(False, f"{type(exc).__name__}: {exc}")
            # The peer is down or refusing: Raft must know, so that it probes instead of
            # streaming, and the next tries wait a little longer each time. What was
            # queued for it is dropped, as etcd drops messages it cannot stream: Raft
            # resends what matters, and a proposal forwarded to a dead leader must not
            # be applied when that member comes back long after its client gave up.
            self.dropped += len(self._queue)
            self._queue.clear()
            self._t.hooks.unreachable(self.peer_id)
            self._rotate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _stream(self) -> None:
        """One connection to the peer: a chunked POST to ``/raft/stream`` that carries
        every batch as a length-prefixed msgpack frame for as long as it stays up (etcd
        keeps such long-lived streams too): one write per batch, no request per batch."""
        url = urlsplit(self._url())
        tls = url.scheme == "https"
        host, port = url.hostname or "127.0.0.1", url.port or (443 if tls else 80)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=(self._t.ssl_context or True) if tls else None,
                server_hostname=host if tls else None,
            ),
            CONNECT_TIMEOUT_S,
        )
        watcher: asyncio.Task[None] | None = None
        try:
            head = [f"POST /raft/stream HTTP/1.1\r\nHost: {url.netloc}\r\n"]
            head += [f"{k}: {v}\r\n" for k, v in self._t.headers(self.peer_id).items()]
            head.append("Transfer-Encoding: chunked\r\n\r\n")
            writer.write("".join(head).encode("latin-1"))
            status, reason = await asyncio.wait_for(_read_answer(reader), ANSWER_TIMEOUT_S)
            if status != 200:
                raise _Refused(status, reason)
            self._set_active(True, "")
            self.mismatched = False
            self._stream_error = None
            watcher = asyncio.create_task(self._watch_answers(reader))
            while True:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                if self._stream_error is not None:
                    raise self._stream_error
                if not self._queue:
                    continue
                frame = _encode_batch(self._take_batch())
                writer.write(b"%x\r\n%b%b\r\n" % (len(frame) + 4, _LEN.pack(len(frame)), frame))
                self.stats.success += 1
                if writer.transport.get_write_buffer_size() > WRITE_BUFFER_HIGH:
                    await asyncio.wait_for(writer.drain(), DRAIN_TIMEOUT_S)
        finally:
            if watcher is not None:
                watcher.cancel()
            writer.close()

    async def _watch_answers(self, reader: asyncio.StreamReader) -> None:
        """The peer answers on the stream only to end it: ``<status> <reason>`` lines
        (410 removed, 409 lost data) or by closing it; the sending loop is woken to end
        its side."""
        try:
            while True:
                line = await reader.readline()
                if not line:
                    raise ConnectionResetError("the peer closed the stream")
                status, _, reason = line.decode("utf-8", "replace").strip().partition(" ")
                if status.isdigit() and len(status) == 3:
                    raise _Refused(int(status), reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stream_error = exc
            self._wake.set()

    def heartbeat_sent(self) -> None:
        if self._heartbeat_at == 0.0:
            self._heartbeat_at = time.perf_counter()

    def heartbeat_answered(self) -> None:
        """A heartbeat's answer came back: one round trip for ``/v2/stats/leader``."""
        if self._heartbeat_at:
            self.stats.record((time.perf_counter() - self._heartbeat_at) * 1000.0)
            self.stats.success -= 1  # record() counts a success; batches are counted
            self._heartbeat_at = 0.0

    def _handle_refusal(self, status: int, body: bytes) -> None:
        reason = body.decode("utf-8", "replace").strip()
        if status == 410:
            log.error("peer %x says this member was removed from the cluster", self.peer_id)
            self._t.hooks.removed()
        elif status == 412:
            self.mismatched = reason == CLUSTER_MISMATCH
            self._t.hooks.mismatch(self.peer_id, reason)
            self._set_active(False, f"refused by the peer: {reason}")
        elif status == STATUS_LOST_DATA:
            self._t.hooks.lost_data(self.peer_id, reason)
        else:
            self._set_active(False, f"peer answered {status}: {reason}")

    def _set_active(self, active: bool, why: str) -> None:
        if active == self.active:
            return
        self.active = active
        if active:
            log.info("peer %x connected (%s)", self.peer_id, self._url())
        else:
            log.warning("peer %x unreachable: %s", self.peer_id, why)

    async def _run_snapshots(self) -> None:
        while not self._stopped:
            if not self._snapshots:
                self._snap_wake.clear()
                await self._snap_wake.wait()
                continue
            m = self._snapshots.popleft()
            ok = await self._post_snapshot(m)
            self._t.hooks.snapshot_status(self.peer_id, not ok)
            if not ok:
                self._rotate()

    async def _post_snapshot(self, m: Message) -> bool:
        assert m.snapshot is not None
        data = m.snapshot.data
        head = Message(
            type=m.type,
            to=m.to,
            frm=m.frm,
            term=m.term,
            snapshot=type(m.snapshot)(m.snapshot.metadata, b""),
        ).encode()

        async def body() -> AsyncIterator[bytes]:
            yield struct.pack(">I", len(head)) + head
            view = memoryview(data)
            for off in range(0, len(view), SNAPSHOT_CHUNK):
                yield bytes(view[off : off + SNAPSHOT_CHUNK])

        url = self._url() + "/raft/snapshot"
        log.info(
            "sending snapshot at index %d (%d bytes) to peer %x",
            m.snapshot.metadata.index,
            len(data),
            self.peer_id,
        )
        try:
            async with self._t.session.post(
                url, data=body(), headers=self._t.headers(self.peer_id)
            ) as resp:
                status = resp.status
                text = await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("sending snapshot to peer %x failed: %s", self.peer_id, exc)
            return False
        if status in (200, 204):
            log.info(
                "sent snapshot at index %d to peer %x", m.snapshot.metadata.index, self.peer_id
            )
            return True
        self._handle_refusal(status, text)
        return False


class Transport:
    """All peers of this member, and the handlers of its peer listener."""

    def __init__(
        self,
        member_id: int,
        cluster_id: int,
        hooks: TransportHooks,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.member_id = member_id
        self.cluster_id = cluster_id
        self.hooks = hooks
        # For https:// peers: this member's peer certificate and the CAs it trusts
        # (None: the system's CAs and no client certificate).
        self.ssl_context = ssl_context
        self.peers: dict[int, PeerSender] = {}
        self._session: aiohttp.ClientSession | None = None
        self._refused: dict[int, float] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=1.0, sock_read=5.0)
            connector = aiohttp.TCPConnector(
                limit=0, keepalive_timeout=60, ssl=self.ssl_context or True
            )
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)
        return self._session

    def headers(self, to: int) -> dict[str, str]:
        return {
            HDR_CLUSTER_ID: f"{self.cluster_id:x}",
            HDR_FROM: f"{self.member_id:x}",
            HDR_TO: f"{to:x}",
            HDR_VERSION: ETCD_SERVER_VERSION,
            "Content-Type": "application/octet-stream",
        }

    def add_peer(self, peer_id: int, urls: list[str]) -> None:
        if peer_id == self.member_id or peer_id in self.peers:
            return
        sender = PeerSender(self, peer_id, urls)
        self.peers[peer_id] = sender
        sender.start()

    def update_peer(self, peer_id: int, urls: list[str]) -> None:
        sender = self.peers.get(peer_id)
        if sender is not None:
            sender.urls = list(urls)

    def remove_peer(self, peer_id: int) -> None:
        sender = self.peers.pop(peer_id, None)
        if sender is not None:
            task = asyncio.ensure_future(sender.stop())
            task.add_done_callback(lambda _t: None)

    def send(self, msgs: list[Message]) -> None:
        peers = self.peers
        for m in msgs:
            sender = peers.get(m.to)
            if sender is not None:
                if m.type == MessageType.HEARTBEAT:
                    sender.heartbeat_sent()
                sender.send(m)

    def _note_answers(self, frm: int, msgs: list[Message]) -> None:
        sender = self.peers.get(frm)
        if sender is None:
            return
        for m in msgs:
            if m.type == MessageType.HEARTBEAT_RESP:
                sender.heartbeat_answered()
                return

    async def stop(self) -> None:
        senders = list(self.peers.values())
        self.peers.clear()
        for s in senders:
            await s.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the receiving side -------------------------------------------------------

    def _check(self, request: web.Request) -> web.Response | int:
        cid = request.headers.get(HDR_CLUSTER_ID, "")
        frm_text = request.headers.get(HDR_FROM, "")
        try:
            frm = int(frm_text, 16)
        except ValueError:
            return web.Response(status=400, text="missing or bad X-Server-From header\n")
        if cid != f"{self.cluster_id:x}":
            self._log_refusal(
                frm,
                f"cluster ID mismatch: peer %x is of cluster {cid or '?'}, "
                f"this member of {self.cluster_id:x}",
            )
            return web.Response(status=412, text=CLUSTER_MISMATCH + "\n")
        if self.hooks.is_removed(frm):
            self._log_refusal(frm, "refused a message from removed member %x")
            return web.Response(status=410, text="removed member\n")
        to = request.headers.get(HDR_TO, "")
        if to and to != f"{self.member_id:x}":
            return web.Response(status=412, text="raft to field mismatch\n")
        return frm

    def _log_refusal(self, frm: int, fmt: str) -> None:
        # One line per refused peer every 10 s, not one per message.
        now = time.monotonic()
        if now - self._refused.get(frm, -math.inf) >= 10.0:
            self._refused[frm] = now
            log.warning(fmt, frm)

    async def handle_raft(self, request: web.Request) -> web.Response:
        checked = self._check(request)
        if isinstance(checked, web.Response):
            return checked
        body = await request.read()
        try:
            msgs = _decode_batch(body)
        except Exception:
            return web.Response(status=400, text="malformed raft message batch\n")
        verdict = self.hooks.deliver(msgs)
        if verdict:
            return web.Response(status=STATUS_LOST_DATA, text=verdict + "\n")
        return web.Response(status=204)

    async def handle_stream(self, request: web.Request) -> web.StreamResponse:
        """A peer's long-lived stream of message batches (see ``PeerSender._stream``)."""
        checked = self._check(request)
        if isinstance(checked, web.Response):
            return checked
        frm = checked
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/octet-stream"
        await resp.prepare(request)
        buf = bytearray()
        content = request.content
        while True:
            try:
                chunk = await content.readany()
            except ConnectionError:
                # The peer stopped or died mid-stream: its sender notices and logs it;
                # here it is the end of the stream, not an error with a traceback.
                return resp
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 4:
                (n,) = _LEN.unpack_from(buf)
                if n > MAX_FRAME_BYTES:
                    log.warning("peer %x sent a frame of %d bytes; closing its stream", frm, n)
                    return resp
                if len(buf) < 4 + n:
                    break
                frame = bytes(buf[4 : 4 + n])
                del buf[: 4 + n]
                try:
                    msgs = _decode_batch(frame)
                except Exception:
                    log.warning("peer %x sent a malformed batch; closing its stream", frm)
                    return resp
                if self.hooks.is_removed(frm):
                    await resp.write(b"410 removed member\n")
                    return resp
                self._note_answers(frm, msgs)
                verdict = self.hooks.deliver(msgs)
                if verdict:
                    await resp.write(f"{STATUS_LOST_DATA} {verdict}\n".encode())
                    return resp
        return resp

    async def handle_snapshot(self, request: web.Request) -> web.Response:
        checked = self._check(request)
        if isinstance(checked, web.Response):
            return checked
        try:
            raw = await request.content.readexactly(4)
            (n,) = struct.unpack(">I", raw)
            head = Message.decode(await request.content.readexactly(n))
            buf = bytearray()
            while True:
                chunk = await request.content.read(SNAPSHOT_CHUNK)
                if not chunk:
                    break
                buf += chunk
        except (asyncio.IncompleteReadError, ValueError, struct.error) as exc:
            return web.Response(status=400, text=f"malformed snapshot: {exc}\n")
        if head.snapshot is None or head.type != MessageType.SNAP:
            return web.Response(status=400, text="malformed snapshot message\n")
        head.snapshot.data = bytes(buf)
        del buf
        log.info(
            "received snapshot at index %d (%d bytes) from peer %x",
            head.snapshot.metadata.index,
            len(head.snapshot.data),
            head.frm,
        )
        self.hooks.deliver([head])
        return web.Response(status=204)

    async def handle_members(self, request: web.Request) -> web.Response:
        # A joining member adopts the cluster id from this header (etcd sets it too).
        return web.json_response(
            self.hooks.members_json(), headers={HDR_CLUSTER_ID: f"{self.cluster_id:x}"}
        )

    async def handle_version(self, request: web.Request) -> web.Response:
        from etcdpy.version import ETCD_CLUSTER_VERSION

        return web.json_response(
            {"etcdserver": ETCD_SERVER_VERSION, "etcdcluster": ETCD_CLUSTER_VERSION}
        )

    async def handle_probing(self, request: web.Request) -> web.Response:
        return web.json_response({"health": "true"})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/raft", self.handle_raft),
            web.post("/raft/stream", self.handle_stream),
            web.post("/raft/snapshot", self.handle_snapshot),
            web.get("/members", self.handle_members),
            web.get("/version", self.handle_version),
            web.get("/raft/probing", self.handle_probing),
        ]
