"""Ten thousand long-poll watches on one member: all fire on one write.

Prints the member's RSS growth per watch (a number to watch, not a pass/fail line).
ETCDPY_WATCHERS overrides the count (e.g. 50000 for a heavier run).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time

from tests.compat import wire
from tests.procs import ProcGroup, procs

__all__ = ["procs"]

WATCHERS = int(os.environ.get("ETCDPY_WATCHERS", "10000"))
CONNECT_CONCURRENCY = 256
DEADLINE_S = 120.0


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(port: int, target: bytes, sem: asyncio.Semaphore) -> Conn:
    async with sem:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:100]
        return reader, writer


async def _event(reader: asyncio.StreamReader) -> dict[str, object]:
    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
    chunk = await reader.readexactly(size + 2)
    return json.loads(chunk[:size])


async def _watch_many(port: int, n: int) -> tuple[list[Conn], float]:
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    t0 = time.monotonic()
    conns = await asyncio.gather(
        *(_open(port, b"/v2/keys/many?wait=true&recursive=true", sem) for _ in range(n))
    )
    return list(conns), time.monotonic() - t0


def test_ten_thousand_watchers_all_fire(procs: ProcGroup) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = WATCHERS + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    member = procs.etcdpy("watch10k")
    port = member.client_port
    wire.form(port, "PUT", "/v2/keys/warmup", {"value": "v"})
    rss_before = member.rss_kib()

    async def scenario() -> None:
        conns, open_s = await _watch_many(port, WATCHERS)
        try:
            status = json.loads(wire.request(port, "GET", "/v2/stats/store").body)
            assert status["watchers"] == WATCHERS
            rss_open = member.rss_kib()
            t0 = time.monotonic()
            # Writing in a worker thread keeps this loop free to read the 10k answers.
            put = asyncio.to_thread(wire.form, port, "PUT", "/v2/keys/many/k3", {"value": "fire"})
            events = await asyncio.wait_for(
                asyncio.gather(put, *(_event(r) for r, _ in conns)), DEADLINE_S
            )
            fire_s = time.monotonic() - t0
            resp, got = events[0], events[1:]
            assert resp.status == 201
            assert len(got) == WATCHERS
            assert all(e["action"] == "set" and e["node"]["value"] == "fire" for e in got)  # type: ignore[index]
            grown = rss_open - rss_before
            print(
                f"\n{WATCHERS} watchers: opened in {open_s:.2f}s, RSS {rss_before} KiB -> "
                f"{rss_open} KiB (+{grown} KiB, {grown * 1024 / WATCHERS:.0f} B per watch); "
                f"one write reached all in {fire_s:.2f}s"
            )
        finally:
            for _, w in conns:
                w.close()

    asyncio.run(scenario())
    end = time.monotonic() + DEADLINE_S
    while json.loads(wire.request(port, "GET", "/v2/stats/store").body)["watchers"]:
        assert time.monotonic() < end, "fired watchers not released"
        time.sleep(0.05)
