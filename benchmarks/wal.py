"""WAL throughput next to the disk's raw fsync rate, and the CPU cost of encoding.

    python benchmarks/wal.py [--dir DIR] [--seconds 3]

Prints, for 256-byte entries in batches of 1, 16 and 256: saves/s, entries/s, MB/s and
saves/s as a share of the raw fsync rate (4 KiB pwrite + fdatasync in a loop, same
directory). Then the encode cost of a 256-entry batch against ``msgpack.packb`` of the
same entries. Numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import msgpack

from etcdpy.raft.types import Entry, EntryType, HardState
from etcdpy.wal import WAL, record
from etcdpy.wal.record import RecordType

ENTRY_SIZE = 256


class RawFsync:
    """A preallocated file taking ``size``-byte pwrite + fdatasync in a loop."""

    def __init__(self, dirpath: str, size: int = 4096) -> None:
        self.path = os.path.join(dirpath, f"raw-fsync-{size}")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.posix_fallocate(self.fd, 0, 256 << 20)
        self.block = os.urandom(size)
        self.off = 0

    def rate(self, seconds: float) -> float:
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and n < 1_000_000:
            os.pwrite(self.fd, self.block, self.off)
            os.fdatasync(self.fd)
            self.off = (self.off + len(self.block)) % (256 << 20)
            n += 1
        return n / (time.perf_counter() - start)

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


def batch(first: int, size: int, term: int = 1) -> list[Entry]:
    payload = os.urandom(ENTRY_SIZE)
    return [Entry(term, i, EntryType.NORMAL, payload) for i in range(first, first + size)]


class WalLoad:
    """Blocking saves of ``batch_size`` entries into one WAL."""

    def __init__(self, dirpath: str, batch_size: int) -> None:
        self.waldir = os.path.join(dirpath, f"wal-{batch_size}")
        self.w = WAL.create(self.waldir, b"bench")
        self.batch_size = batch_size
        self.index = 1

    def rate(self, seconds: float) -> float:
        """saves/s, counting only the time spent in save (building the entries is the
        caller's cost, not the WAL's)."""
        saves = 0
        spent = 0.0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and saves < 1_000_000:
            es = batch(self.index, self.batch_size)
            t = time.perf_counter()
            self.w.save(HardState(1, 1, self.index - 1), es)
            spent += time.perf_counter() - t
            self.index += self.batch_size
            saves += 1
        return saves / spent

    def close(self) -> None:
        self.w.close()
        shutil.rmtree(self.waldir)


def interleaved(base: str, batch_size: int, seconds: float, rounds: int = 20) -> list[float]:
    """Median of [raw 4 KiB fsync/s, WAL saves/s, raw fsync/s at the batch's write size],
    measured in alternating slices so that a disk shared with other work affects
    all of them alike."""
    raw = RawFsync(base)
    same = RawFsync(base, record.frame_size(len(record.encode_entries(batch(1, batch_size)))))
    load = WalLoad(base, batch_size)
    samples: list[list[float]] = [[], [], []]
    try:
        for _ in range(rounds):
            samples[0].append(raw.rate(seconds / rounds))
            samples[1].append(load.rate(seconds / rounds))
            samples[2].append(same.rate(seconds / rounds))
    finally:
        raw.close()
        same.close()
        load.close()
    return [statistics.median(s) for s in samples]


def async_rate(dirpath: str, batch_size: int, seconds: float) -> float:
    """entries/s through save_async with 4 batches in flight (the server's pattern)."""
    waldir = os.path.join(dirpath, f"walasync-{batch_size}")
    w = WAL.create(waldir, b"bench")

    async def run() -> float:
        index = 1
        done = 0
        pending: list[asyncio.Future[None]] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and done < 10_000_000:
            es = batch(index, batch_size)
            index += batch_size
            pending.append(asyncio.ensure_future(w.save_async(HardState(1, 1, 0), es)))
            if len(pending) >= 4:
                await pending.pop(0)
                done += batch_size
        for p in pending:
            await p
            done += batch_size
        return done / (time.perf_counter() - start)

    try:
        return asyncio.run(run())
    finally:
        w.close()
        shutil.rmtree(waldir)


def encode_cost(rounds: int = 60) -> tuple[float, float, float, float]:
    """Microseconds per 256-entry batch: msgpack.packb of the entries, our payload
    encoding, the whole frames (payload + CRC32C + header + padding, plus the hard
    state record), and packb of already-built lists (the packing alone)."""
    es = batch(1, 256)

    def timed(fn: object, n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            fn()  # type: ignore[operator]
        return (time.perf_counter() - t) / n * 1e6

    lists = [e.to_list() for e in es]

    def packb() -> bytes:
        return msgpack.packb([e.to_list() for e in es])

    def packb_lists() -> bytes:
        return msgpack.packb(lists)

    def payload() -> bytes:
        return record.encode_entries(es)

    def framed() -> int:
        parts: list[bytes] = []
        crc = record.add_frame(parts, RecordType.ENTRY, record.encode_entries(es), 12345)
        return record.add_frame(
            parts, RecordType.STATE, record.encode_state(HardState(1, 1, 1)), crc
        )

    # Short interleaved slices, best of each: a CPU shared with other work slows
    # some slices, and the minimum is the cost without interference.
    fns = (packb, payload, framed, packb_lists)
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            best[k] = min(best[k], timed(fn, 50))
    return best[0], best[1], best[2], best[3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="directory on the disk to measure")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="etcdpy-walbench-", dir=args.dir)
    try:
        print(f"disk: {base} (rates are medians of alternating slices)")
        print(
            f"{'batch':>6} {'raw 4K fsync/s':>15} {'saves/s':>9} {'of raw':>7} "
            f"{'entries/s':>10} {'MB/s':>7} {'raw fsync/s, same size':>23}"
        )
        for size in (1, 16, 256):
            raw, sps, same = interleaved(base, size, args.seconds)
            print(
                f"{size:>6} {raw:15.0f} {sps:9.0f} {sps / raw:7.0%} {sps * size:10.0f} "
                f"{sps * size * ENTRY_SIZE / 1e6:7.2f} {same:23.0f}"
            )
        eps = async_rate(base, 256, args.seconds)
        print(f"save_async, batches of 256, 4 in flight: {eps:.0f} entries/s")
        pk, pl, fr, lists = encode_cost()
        print(
            f"encode 256 x {ENTRY_SIZE} B: msgpack.packb(e.to_list() ...) {pk:.1f} us; "
            f"our payload {pl:.1f} us ({pl / pk - 1:+.0%}); framed with CRC32C and the "
            f"hard state {fr:.1f} us ({fr / pk - 1:+.0%}); packb of ready lists {lists:.1f} us"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
