"""An etcdpy member served in-process (a thread with its own event loop), for API tests
that need to look inside the server while talking to it over real HTTP."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest

from etcdpy.api.app import ClientAPI
from etcdpy.api.http import HTTPServer
from etcdpy.server.config import Config
from etcdpy.server.etcdserver import EtcdServer
from tests.procs import free_port, procs

__all__ = ["InProcessMember", "member", "procs"]

T = TypeVar("T")
START_TIMEOUT_S = 10.0


class InProcessMember:
    """A member on 127.0.0.1:<port> whose server object tests may inspect."""

    def __init__(self, cfg: Config | None = None, name: str = "api") -> None:
        self.port = free_port()
        peer = f"http://127.0.0.1:{free_port()}"
        url = f"http://127.0.0.1:{self.port}"
        self.cfg = cfg or Config(
            name=name,
            data_dir=tempfile.mkdtemp(prefix="etcdpy-api-"),
            listen_client_urls=[url],
            advertise_client_urls=[url],
            listen_peer_urls=[peer],
            initial_advertise_peer_urls=[peer],
            initial_cluster={name: [peer]},
        )
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.server: EtcdServer | None = None
        self.http: HTTPServer | None = None
        self.api: ClientAPI | None = None
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="api-member", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        self.server = EtcdServer(self.cfg)
        await self.server.start()
        # Ready as a client sees it: a leader, the member published, the version decided.
        end = time.monotonic() + START_TIMEOUT_S
        s = self.server
        while not (s.leader_id() and s.cluster_version and all(m.name for m in s.members())):
            if time.monotonic() > end:
                raise RuntimeError("the in-process member did not become ready")
            await asyncio.sleep(0.01)
        self.api = ClientAPI(self.server, self.cfg.cors)
        self.http = self.api.make_server()
        await self.http.listen("127.0.0.1", self.port)

    def call(self, coro: Any, timeout: float = START_TIMEOUT_S) -> Any:
        """Run a coroutine on the member's loop and return its result."""
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def sync(self, fn: Callable[[], T], timeout: float = START_TIMEOUT_S) -> T:
        """Run a plain function on the member's loop (to read server state safely)."""

        async def run() -> T:
            return fn()

        return self.call(run(), timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            if self.api is not None:
                self.api.shutdown()
            if self.http is not None:
                await self.http.close(1.0)
            if self.server is not None:
                await self.server.stop()

        try:
            self.call(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(START_TIMEOUT_S)
            self.loop.close()
            shutil.rmtree(self.cfg.member_dir, ignore_errors=True)


@pytest.fixture
def member() -> Iterator[InProcessMember]:
    m = InProcessMember()
    m.start()
    try:
        yield m
    finally:
        m.stop()
