"""The fault proxy in front of a dummy echo server: partitions stop traffic, heal restores."""

from __future__ import annotations

import os
import select
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults import FaultNet, FaultProxy, kill_hard

QUIET = 0.3  # how long "nothing arrives" is watched for
DEADLINE = 5.0  # how long something that must arrive may take


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.accepted = 0
        super().__init__(("127.0.0.1", 0), EchoHandler)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        return str(host), int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets are what these tests inject


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, EchoServer)
        server.accepted += 1
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(DEADLINE)


@pytest.fixture
def net() -> Iterator[FaultNet]:
    with FaultNet() as faults:
        yield faults


def connect(proxy: FaultProxy, source: str | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source is not None:
        sock.bind((source, 0))
    sock.settimeout(DEADLINE)
    sock.connect(proxy.address)
    return sock


def receive(sock: socket.socket, size: int, timeout: float = DEADLINE) -> bytes:
    """Read exactly `size` bytes, or what came before the deadline or the end."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(size - len(data))
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def is_reset(sock: socket.socket) -> bool:
    """Has the proxy ended this connection (RST, or an orderly end)?"""
    try:
        sock.sendall(b"?")
        return receive(sock, 1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def passes(sock: socket.socket, message: bytes) -> bool:
    sock.sendall(message)
    return receive(sock, len(message)) == message


def stalled(sock: socket.socket, message: bytes) -> bool:
    sock.sendall(message)
    return receive(sock, len(message), QUIET) == b""


def test_forwards_both_ways(net: FaultNet, echo: EchoServer) -> None:
    proxy = net.proxy(echo.address, "echo")
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"
    with connect(proxy) as sock:
        big = os.urandom(1 << 20)
        sock.sendall(big)
        assert receive(sock, len(big)) == big
    stats = proxy.stats()[None]
    assert (stats.accepted, stats.bytes_in, stats.bytes_out) == (1, 1 << 20, 1 << 20)


def test_block_stalls_an_open_connection_and_heal_releases_the_bytes(
    net: FaultNet, echo: EchoServer
) -> None:
    proxy = net.proxy(echo.address, "echo")
    with connect(proxy) as sock:
        assert passes(sock, b"before")
        proxy.block()
        assert stalled(sock, b"during")
        proxy.heal()
        assert receive(sock, len(b"during")) == b"during"
        assert passes(sock, b"after")


def test_block_holds_new_connections_away_from_the_target(net: FaultNet, echo: EchoServer) -> None:
    proxy = net.proxy(echo.address, "echo")
    proxy.block()
    with connect(proxy) as sock:
        assert stalled(sock, b"hello")
        assert echo.accepted == 0
        proxy.heal()
        assert receive(sock, 5) == b"hello"
        assert echo.accepted == 1


def test_a_caller_giving_up_while_held_never_reaches_the_target(
    net: FaultNet, echo: EchoServer
) -> None:
    """As in a real partition, where its handshake would never have completed."""
    proxy = net.proxy(echo.address, "echo")
    proxy.block()
    with connect(proxy) as sock:
        sock.sendall(b"stale request")
    deadline = time.monotonic() + DEADLINE

    def settled() -> bool:
        seen = proxy.stats().get(None)
        return seen is not None and seen.accepted == 1 and not proxy.open_connections()

    while not settled() and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for the proxy to notice, with a deadline
    assert settled()
    proxy.heal()
    with connect(proxy) as sock:
        assert passes(sock, b"fresh")
    assert echo.accepted == 1


def test_drop_resets_connections_and_refuses_new_ones(net: FaultNet, echo: EchoServer) -> None:
    proxy = net.proxy(echo.address, "echo")
    with connect(proxy) as sock:
        assert passes(sock, b"x")
        proxy.drop()
        assert is_reset(sock)
    with connect(proxy) as sock:
        assert is_reset(sock)
    assert proxy.stats()[None].reset_on_accept == 1
    proxy.heal()
    with connect(proxy) as sock:
        assert passes(sock, b"again")


def test_delay_adds_latency_and_keeps_order(net: FaultNet, echo: EchoServer) -> None:
    proxy = net.proxy(echo.address, "echo")
    proxy.delay(150)
    with connect(proxy) as sock:
        started = time.monotonic()
        for i in range(5):
            sock.sendall(b"%d" % i)
        assert receive(sock, 5) == b"01234"
        # The injected delay applies on the way in and on the way out.
        assert time.monotonic() - started >= 0.3
        proxy.heal()
        assert passes(sock, b"fast")
    with pytest.raises(ValueError, match="use 0 or more"):
        proxy.delay(-1)


def test_target_down_looks_like_a_reset(net: FaultNet) -> None:
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there now
    proxy = net.proxy(("127.0.0.1", port), "nobody")
    with connect(proxy) as sock:
        assert is_reset(sock)


def test_faults_of_one_sender_leave_the_others_alone(net: FaultNet, echo: EchoServer) -> None:
    proxy = net.proxy(echo.address, "echo")
    net.register("a", host="127.0.0.11")
    net.register("b", host="127.0.0.12")
    with connect(proxy, "127.0.0.11") as a, connect(proxy, "127.0.0.12") as b:
        assert passes(a, b"a1") and passes(b, b"b1")
        proxy.block("a")
        assert stalled(a, b"a2")
        assert passes(b, b"b2")
        proxy.drop("b")  # faults add up: a stays blocked, b is reset
        assert is_reset(b)
        proxy.heal("b")
        assert stalled(a, b"a3")
        with connect(proxy, "127.0.0.12") as b2:
            assert passes(b2, b"b3")
        proxy.heal("a")
        assert receive(a, 4) == b"a2a3"
    assert set(proxy.stats()) == {"a", "b"}


def test_partition_between_named_members(net: FaultNet) -> None:
    servers = {name: EchoServer() for name in "abc"}
    threads = [
        threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
        for s in servers.values()
    ]
    for thread in threads:
        thread.start()
    try:
        for i, (name, server) in enumerate(servers.items()):
            net.proxy(server.address, name)
            net.register(name, host=f"127.0.0.{11 + i}")
        source = {name: f"127.0.0.{11 + i}" for i, name in enumerate(servers)}
        links = {
            (src, dst): connect(net[dst], source[src])
            for src in servers
            for dst in servers
            if src != dst
        }
        try:
            assert all(passes(sock, b"up") for sock in links.values())
            net.isolate("a")
            for (src, dst), sock in links.items():
                if "a" in (src, dst):
                    assert stalled(sock, b"cut"), (src, dst)
                else:
                    assert passes(sock, b"cut"), (src, dst)
            net.heal()
            for (src, dst), sock in links.items():
                expected = b"cut" if "a" in (src, dst) else b""
                assert receive(sock, len(expected)) == expected
                assert passes(sock, b"healed"), (src, dst)
            net.cut("b", "c", both_ways=False)
            assert stalled(links["b", "c"], b"one-way")
            assert passes(links["c", "b"], b"other-way")
        finally:
            for sock in links.values():
                sock.close()
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


CHILD = """
import socket, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for line in sys.stdin:
    sock.sendall(line.encode())
    reply = b""
    while not reply.endswith(b"\\n"):
        chunk = sock.recv(100)
        if not chunk:
            sys.exit(1)
        reply += chunk
    sys.stdout.write(reply.decode())
    sys.stdout.flush()
"""


def ask(child: subprocess.Popen[str], line: str, timeout: float) -> str | None:
    """Send a line through the child; its answer, or None if none came in time."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(line + "\n")
    child.stdin.flush()
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    return child.stdout.readline().strip() if ready else None


def test_senders_are_told_apart_by_process(net: FaultNet, echo: EchoServer) -> None:
    """No source-address tricks: the PID that owns the calling socket names the sender."""
    proxy = net.proxy(echo.address, "echo")
    children = {
        name: subprocess.Popen(
            [sys.executable, "-c", CHILD, str(proxy.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("m1", "m2")
    }
    try:
        for name, child in children.items():
            net.register(name, pid=child.pid)
        assert ask(children["m1"], "one", DEADLINE) == "one"
        assert ask(children["m2"], "two", DEADLINE) == "two"
        assert set(proxy.open_connections()) == {"m1", "m2"}
        proxy.block("m1")
        assert ask(children["m1"], "held", QUIET) is None
        assert ask(children["m2"], "free", DEADLINE) == "free"
        proxy.heal()
        assert children["m1"].stdout is not None
        ready, _, _ = select.select([children["m1"].stdout], [], [], DEADLINE)
        assert ready and children["m1"].stdout.readline().strip() == "held"
    finally:
        for child in children.values():
            kill_hard(child)
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    pipe.close()


def test_controls_need_a_started_net() -> None:
    idle = FaultNet()
    with pytest.raises(RuntimeError, match="not started"):
        idle.proxy(("127.0.0.1", 1))
    with FaultNet() as started, pytest.raises(KeyError, match="no proxy named 'x'"):
        started["x"]
