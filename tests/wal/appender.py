"""A process that appends to a WAL as fast as it can and prints every acknowledged save.

Run as ``python -m tests.wal.appender WAL_DIR SEGMENT_SIZE SEED``: line k of stdout is
printed only after save k returned (durable). The crash test kills it with SIGKILL and
checks that the WAL holds at least everything acknowledged. ``plan`` is the same
deterministic sequence of saves for the writer and the checker.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator

from etcdpy.raft.types import Entry, EntryType, HardState
from etcdpy.wal import WAL

MAX_SAVES = 200_000
MAX_SECONDS = 120.0


def plan(seed: int, count: int) -> Iterator[tuple[HardState, list[Entry]]]:
    """The first ``count`` saves, generated lazily: batches of 1-64 entries, now and
    then a new leader that rewrites the last few entries in a higher term."""
    rng = random.Random(seed)
    term, last = 1, 0
    for _ in range(count):
        first = last + 1
        if last > 8 and rng.random() < 0.05:
            term += 1
            first = last - rng.randint(0, 7)
        n = rng.randint(1, 64)
        es = [
            Entry(term, i, EntryType.NORMAL, f"{term}/{i}/".encode() * rng.randint(1, 20))
            for i in range(first, first + n)
        ]
        last = es[-1].index
        yield HardState(term, 1, max(0, first - 1)), es


def main() -> None:
    waldir, segment_size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    w = WAL.create(waldir, b"crash-test", segment_size=segment_size)
    print("ready", flush=True)
    deadline = time.monotonic() + MAX_SECONDS
    for k, (hs, es) in enumerate(plan(seed, MAX_SAVES), start=1):
        if time.monotonic() > deadline:
            break
        w.save(hs, es)
        sys.stdout.write(f"{k}\n")
        sys.stdout.flush()
    w.close()


if __name__ == "__main__":
    main()
