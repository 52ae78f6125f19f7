"""A fault-injecting TCP proxy running on its own event loop in a background thread.

`FaultNet` owns the thread, the loop and the registry of senders; `FaultNet.proxy()`
opens a `FaultProxy` on a free 127.0.0.1 port in front of a target.  Every fault can
apply to all callers or only to one named sender (see senders.py), and faults add up:
the most severe mode wins and the longest delay applies.

- block: no byte passes in either direction; new connections are accepted and held
  without reaching the target.  Like a partition, heal() lets the held bytes go on.
- drop: every connection is reset, and new ones are reset as soon as accepted.
- delay(ms): every chunk is delivered `ms` later, in order (latency, not bandwidth).
- heal: clears the faults (of one sender, or all).

Control methods are called from any thread (a plain test or an asyncio test) and
return once the fault is in force in the proxy's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any, TypeVar

from tests.faults.senders import Address, SenderRegistry

T = TypeVar("T")

_CHUNK = 64 * 1024
_QUEUE_CHUNKS = 16  # per direction: bounded, so a stalled side pushes back on the other
_CONTROL_TIMEOUT = 10.0


class Mode(IntEnum):
    OPEN = 0
    BLOCK = 1
    DROP = 2


@dataclass(slots=True)
class Rule:
    mode: Mode = Mode.OPEN
    delay: float = 0.0  # seconds


@dataclass(slots=True)
class LinkStats:
    """What one sender (None: unidentified) did through one proxy."""

    accepted: int = 0
    reset_on_accept: int = 0
    bytes_in: int = 0  # caller -> target
    bytes_out: int = 0  # target -> caller


class _Dropped(Exception):
    pass


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with an RST, as a peer that vanished would."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Connection:
    __slots__ = ("client", "proxy", "sender", "upstream")

    def __init__(self, proxy: FaultProxy, sender: str | None, client: asyncio.StreamWriter):
        self.proxy = proxy
        self.sender = sender
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.upstream)


class FaultProxy:
    """One listening port forwarding to `target`.  Create with FaultNet.proxy()."""

    def __init__(self, net: FaultNet, name: str, target: Address, host: str) -> None:
        self._net = net
        self.name = name
        self.target = target
        self.host = host
        self.port = 0
        self._rules: dict[str | None, Rule] = {}  # key None: every sender
        self._changed = asyncio.Event()
        self._connections: set[_Connection] = set()
        self._stats: dict[str | None, LinkStats] = {}
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def address(self) -> Address:
        return self.host, self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"FaultProxy({self.name!r}, {self.host}:{self.port} -> {self.target})"

    # -- control, from any thread --------------------------------------------------------

    def block(self, src: str | None = None) -> None:
        """Stall traffic from `src` (default: everyone) until heal()."""
        self._net._call(lambda: self._set(src, mode=Mode.BLOCK))

    def drop(self, src: str | None = None) -> None:
        """Reset connections from `src` (default: everyone) and refuse new ones."""
        self._net._call(lambda: self._set(src, mode=Mode.DROP))

    def delay(self, ms: float, src: str | None = None) -> None:
        """Deliver every chunk from and to `src` (default: everyone) `ms` late."""
        if ms < 0:
            raise ValueError(f"delay of {ms} ms for proxy {self.name!r}: use 0 or more")
        self._net._call(lambda: self._set(src, delay=ms / 1000.0))

    def heal(self, src: str | None = None) -> None:
        """Clear the faults of `src`, or every fault of this proxy when `src` is None."""
        self._net._call(lambda: self._clear(src))

    def stats(self) -> dict[str | None, LinkStats]:
        return self._net._call(lambda: {k: replace(v) for k, v in self._stats.items()})

    def open_connections(self) -> dict[str | None, int]:
        def count() -> dict[str | None, int]:
            counts: dict[str | None, int] = {}
            for connection in self._connections:
                counts[connection.sender] = counts.get(connection.sender, 0) + 1
            return counts

        return self._net._call(count)

    # -- inside the loop -------------------------------------------------------------------

    def _set(self, src: str | None, mode: Mode | None = None, delay: float | None = None) -> None:
        rule = self._rules.setdefault(src, Rule())
        if mode is not None:
            rule.mode = mode
        if delay is not None:
            rule.delay = delay
        self._wake()
        if mode is Mode.DROP:
            for connection in list(self._connections):
                if src is None or connection.sender == src:
                    connection.reset()

    def _clear(self, src: str | None) -> None:
        if src is None:
            self._rules.clear()
        else:
            self._rules.pop(src, None)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _rule(self, sender: str | None) -> Rule:
        general = self._rules.get(None)
        specific = self._rules.get(sender) if sender is not None else None
        rules = [r for r in (general, specific) if r is not None]
        if not rules:
            return Rule()
        return Rule(max(r.mode for r in rules), max(r.delay for r in rules))

    async def _passable(self, sender: str | None) -> None:
        """Return when traffic of `sender` may flow; raise _Dropped if it never will."""
        while True:
            mode = self._rule(sender).mode
            if mode is Mode.DROP or self._closing:
                raise _Dropped
            if mode is Mode.OPEN:
                return
            await self._changed.wait()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        # Reset everything and let the handlers end on their own: cancelling them would
        # make asyncio's stream callback log the cancellation as an error.
        self._closing = True
        self._wake()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.reset()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=_CONTROL_TIMEOUT)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        loop = asyncio.get_running_loop()
        sender = await loop.run_in_executor(None, self._net.senders.resolve, peer, local)
        stats = self._stats.setdefault(sender, LinkStats())
        stats.accepted += 1
        connection = _Connection(self, sender, writer)
        self._connections.add(connection)
        try:
            early = await self._hold(sender, reader)
            if early is None:
                connection.reset()  # the caller gave up while held: nothing reaches the target
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                connection.reset()  # the target is down: the caller sees a reset
                return
            connection.upstream = up_writer
            if early:
                up_writer.write(early)
                stats.bytes_in += len(early)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(sender, reader, up_writer, stats, inbound=True))
                group.create_task(self._pump(sender, up_reader, writer, stats, inbound=False))
            writer.close()
            up_writer.close()
        except* _Dropped:
            stats.reset_on_accept += connection.upstream is None
            connection.reset()
        except* (OSError, EOFError):
            connection.reset()
        finally:
            self._connections.discard(connection)

    async def _hold(self, sender: str | None, reader: asyncio.StreamReader) -> bytes | None:
        """Wait until a new connection may reach the target; None if the caller gave up.

        In a real partition the caller's handshake would not complete, so a caller that
        gives up meanwhile never reaches the target.  Here the handshake is already done
        with the proxy, so the caller may have sent a request: keep it, and watch for
        the caller closing, in which case the held request must not be replayed later.
        """
        if self._rule(sender).mode is Mode.OPEN:
            return b""
        early = bytearray()
        passable = asyncio.ensure_future(self._passable(sender))
        reading: asyncio.Future[bytes] | None = None
        try:
            while not passable.done():
                if reading is None and len(early) < _QUEUE_CHUNKS * _CHUNK:
                    reading = asyncio.ensure_future(reader.read(_CHUNK))
                waiting = {passable} if reading is None else {passable, reading}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if reading is not None and reading.done():
                    try:
                        data = reading.result()
                    except OSError:
                        return None
                    reading = None
                    if not data:
                        return None
                    early += data
            passable.result()  # raises _Dropped when dropped meanwhile
            return bytes(early)
        finally:
            for task in (passable, reading):
                if task is not None and not task.done():
                    task.cancel()

    async def _pump(
        self,
        sender: str | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stats: LinkStats,
        inbound: bool,
    ) -> None:
        """One direction: a reader task and a writer task joined by a bounded queue."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(_QUEUE_CHUNKS)

        async def take_in() -> None:
            while True:
                await self._passable(sender)
                data = await reader.read(_CHUNK)
                await queue.put((loop.time() + self._rule(sender).delay, data))
                if not data:
                    return

        async def give_out() -> None:
            while True:
                due, data = await queue.get()
                late = due - loop.time()
                if late > 0:
                    await asyncio.sleep(late)  # the injected latency itself
                await self._passable(sender)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                if inbound:
                    stats.bytes_in += len(data)
                else:
                    stats.bytes_out += len(data)
                await writer.drain()

        async with asyncio.TaskGroup() as group:
            group.create_task(take_in())
            group.create_task(give_out())


class FaultNet:
    """Proxies in front of cluster members, and per-link faults between named members.

    Name each proxy after the member behind it and register each member process under
    the same name; then `cut("a", "b")` stops everything between a and b, whoever dials.
    """

    def __init__(self) -> None:
        self.senders = SenderRegistry()
        self._proxies: dict[str, FaultProxy] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FaultNet:
        if self._thread is not None:
            return self
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=run, name="fault-net", daemon=True)
        self._thread.start()
        if not ready.wait(_CONTROL_TIMEOUT):
            raise RuntimeError("the fault-injection event loop did not start within 10 s")
        return self

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():

            async def stop_all() -> None:
                await asyncio.gather(*(p._stop() for p in self._proxies.values()))
                current = asyncio.current_task()
                others = [t for t in asyncio.all_tasks() if t is not current]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(stop_all(), loop).result(_CONTROL_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(_CONTROL_TIMEOUT)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FaultNet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], T | Awaitable[T]]) -> T:
        """Run `fn` in the proxies' loop and wait for it (awaiting it if it is async)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("FaultNet is not started; use `with FaultNet() as net:`")
        if threading.current_thread() is self._thread:
            raise RuntimeError("FaultNet controls cannot be called from its own loop")

        async def run() -> Any:
            result = fn()
            if isinstance(result, Awaitable):
                return await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop).result(_CONTROL_TIMEOUT)

    # -- proxies and senders -------------------------------------------------------------

    def proxy(
        self, target: Address, name: str | None = None, host: str = "127.0.0.1"
    ) -> FaultProxy:
        """Listen on a free port of `host` and forward to `target` (host, port)."""
        name = name or f"{target[0]}:{target[1]}"
        if name in self._proxies:
            raise ValueError(f"a proxy named {name!r} already exists; names must be unique")
        loop = self._loop
        if loop is None:
            raise RuntimeError("FaultNet is not started; use `with FaultNet() as net:`")

        async def make() -> FaultProxy:
            proxy = FaultProxy(self, name, target, host)
            await proxy._start()
            return proxy

        proxy = asyncio.run_coroutine_threadsafe(make(), loop).result(_CONTROL_TIMEOUT)
        self._proxies[name] = proxy
        return proxy

    def __getitem__(self, name: str) -> FaultProxy:
        try:
            return self._proxies[name]
        except KeyError:
            raise KeyError(f"no proxy named {name!r}; known: {sorted(self._proxies)}") from None

    def register(self, name: str, pid: int | None = None, host: str | None = None) -> None:
        """Name the process `pid` (or the source address `host`) as a sender."""
        self.senders.register(name, pid, host)

    # -- links ---------------------------------------------------------------------------

    def cut(self, src: str, dst: str, both_ways: bool = True) -> None:
        """Stall every connection src opens to dst's proxy (and dst to src's, if any)."""
        self[dst].block(src)
        if both_ways and src in self._proxies:
            self[src].block(dst)

    def drop_link(self, src: str, dst: str, both_ways: bool = True) -> None:
        self[dst].drop(src)
        if both_ways and src in self._proxies:
            self[src].drop(dst)

    def delay_link(self, src: str, dst: str, ms: float, both_ways: bool = True) -> None:
        self[dst].delay(ms, src)
        if both_ways and src in self._proxies:
            self[src].delay(ms, dst)

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every link between members of different groups; links inside stay up."""
        sides = [set(g) for g in groups]
        for i, side in enumerate(sides):
            for other in sides[i + 1 :]:
                for a in side:
                    for b in other:
                        if b in self._proxies:
                            self[b].block(a)
                        if a in self._proxies:
                            self[a].block(b)

    def isolate(self, name: str) -> None:
        """Cut `name` from every other proxied member (its client traffic is untouched)."""
        self.partition({name}, set(self._proxies) - {name})

    def heal(self) -> None:
        """Clear every fault on every proxy."""
        for proxy in self._proxies.values():
            proxy.heal()
