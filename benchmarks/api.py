"""The v2 HTTP API of one member: requests/s and the cost of open watches.

Run from the repository root: ``python benchmarks/api.py [seconds] [watchers]``. Starts
an etcdpy member (and the reference etcd when installed, for comparison) on loopback and
prints, for each: GET and PUT requests per second over 16 keep-alive connections, then
the RSS growth per open long-poll watch and how long one write takes to reach them all.
Prints numbers; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.procs import Proc, ProcGroup, reference_binary

CONNECTIONS = 16


async def _load(port: int, request: bytes, seconds: float) -> int:
    done = 0
    stop = time.monotonic() + seconds

    async def conn() -> None:
        nonlocal done
        r, w = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            w.write(request)
            head = await r.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await r.readexactly(length)
            done += 1
        w.close()

    await asyncio.gather(*(conn() for _ in range(CONNECTIONS)))
    return done


def _req(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if body:
        head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _watchers(p: Proc, n: int) -> tuple[float, int, float]:
    sem = asyncio.Semaphore(256)
    target = b"GET /v2/keys/bench?wait=true&recursive=true HTTP/1.1\r\nHost: x\r\n\r\n"

    async def one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with sem:
            r, w = await asyncio.open_connection("127.0.0.1", p.client_port)
            w.write(target)
            await r.readuntil(b"\r\n\r\n")
            return r, w

    before = p.rss_kib()
    t = time.monotonic()
    conns = await asyncio.gather(*(one() for _ in range(n)))
    open_s = time.monotonic() - t
    grown = p.rss_kib() - before

    async def event(r: asyncio.StreamReader) -> None:
        size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
        await r.readexactly(size + 2)

    t = time.monotonic()
    _, w = await asyncio.open_connection("127.0.0.1", p.client_port)
    w.write(_req("PUT", "/v2/keys/bench/k", b"value=fire"))
    await asyncio.gather(*(event(rr) for rr, _ in conns))
    fire_s = time.monotonic() - t
    w.close()
    for _, ww in conns:
        ww.close()
    return open_s, grown, fire_s


def bench(p: Proc, seconds: float, watchers: int) -> None:
    port = p.client_port
    asyncio.run(_load(port, _req("PUT", "/v2/keys/bench/x", b"value=1"), 0.2))
    gets = asyncio.run(_load(port, _req("GET", "/v2/keys/bench/x"), seconds))
    puts = asyncio.run(_load(port, _req("PUT", "/v2/keys/bench/x", b"value=" + b"v" * 64), seconds))
    open_s, grown, fire_s = asyncio.run(_watchers(p, watchers))
    print(
        f"{p.kind:>9}: GET {gets / seconds:>7,.0f}/s   PUT {puts / seconds:>7,.0f}/s   "
        f"{watchers} watches: opened in {open_s:.2f}s, +{grown * 1024 / watchers:,.0f} B RSS "
        f"each, one write reached all in {fire_s:.2f}s"
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    watchers = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"python {sys.version.split()[0]}, {CONNECTIONS} connections, {seconds:.0f}s per load")
    with tempfile.TemporaryDirectory() as tmp:
        group = ProcGroup(Path(tmp))
        try:
            bench(group.etcdpy("bench"), seconds, watchers)
            if reference_binary() is not None:
                bench(group.reference("bench"), seconds, watchers)
        finally:
            group.close()


if __name__ == "__main__":
    main()
