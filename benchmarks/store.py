"""The v2 store alone: sets/s, gets/s, watch notifications/s, snapshot save+recover.

Run from the repository root: ``python benchmarks/store.py [n_keys]``. Prints numbers;
asserts nothing about speed.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etcdpy.store import Store

SEC = 1_000_000_000
NOW = 1_700_000_000 * SEC


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s  ({seconds * 1e6 / n:.2f} µs each)"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    keys = [f"/1/dir{i % 100}/key{i}" for i in range(n)]
    value = "v" * 64
    print(f"python {sys.version.split()[0]}, {n:,} keys, 64-byte values")

    s = Store(["/0", "/1"])
    t = time.perf_counter()
    for k in keys:
        s.set(k, False, value, 0, NOW)
    print(f"set (new keys)          {rate(n, time.perf_counter() - t)}")

    t = time.perf_counter()
    for k in keys:
        s.set(k, False, value, 0, NOW)
    print(f"set (replace)           {rate(n, time.perf_counter() - t)}")

    t = time.perf_counter()
    for k in keys:
        s.get(k, False, False, NOW)
    print(f"get (key)               {rate(n, time.perf_counter() - t)}")

    # Expiry times from a real clock differ in their nanoseconds.
    t = time.perf_counter()
    for i, k in enumerate(keys):
        s.update(k, value, NOW + 60 * SEC + i, NOW)
    print(f"update with ttl         {rate(n, time.perf_counter() - t)}")

    t = time.perf_counter()
    for i, k in enumerate(keys):
        s.set(k, False, "", NOW + 90 * SEC + i, NOW, refresh=True)
    print(f"refresh                 {rate(n, time.perf_counter() - t)}")

    t = time.perf_counter()
    listing = s.get("/1", True, True, NOW)
    print(f"get /1 recursive sorted {time.perf_counter() - t:>12.3f} s for {n:,} keys")
    del listing

    # 10,000 watchers on distinct keys plus recursive ones on every directory: each
    # write reaches the few that care.
    watched = Store(["/1"])
    for k in keys[:10_000]:
        watched.set(k, False, value, 0, NOW)
    streams = [watched.watch(k, False, True, 0, NOW) for k in keys[:10_000]]
    dirs = [watched.watch(f"/1/dir{d}", True, True, 0, NOW) for d in range(100)]
    m = 100_000
    t = time.perf_counter()
    for i in range(m):
        watched.set(keys[i % 10_000], False, value, 0, NOW)
        streams[i % 10_000].pop()
        dirs[i % 100].pop()
    elapsed = time.perf_counter() - t
    print(f"set with 10,100 watchers {rate(m, elapsed)}  = {2 * m / elapsed:,.0f} notifications/s")
    print(f"  watchers still registered: {watched.watcher_count:,}")

    t = time.perf_counter()
    one_shots = [watched.watch(k, False, False, 0, NOW) for k in keys[:10_000]]
    t_watch = time.perf_counter() - t
    t = time.perf_counter()
    for k in keys[:10_000]:
        watched.set(k, False, value, 0, NOW)
    t_fire = time.perf_counter() - t
    assert all(w.closed for w in one_shots)
    print(f"watch() one-shot        {rate(10_000, t_watch)}")
    print(f"set firing one-shot     {rate(10_000, t_fire)}")

    gc.collect()
    t = time.perf_counter()
    data = s.save()
    t_save = time.perf_counter() - t
    t = time.perf_counter()
    r = Store.recover(data)
    t_rec = time.perf_counter() - t
    assert r.index == s.index
    print(
        f"save {t_save:.3f} s + recover {t_rec:.3f} s = {t_save + t_rec:.3f} s "
        f"for {n:,} keys ({len(data) / 1e6:.1f} MB snapshot)"
    )

    t = time.perf_counter()
    expired = s.delete_expired_keys(NOW + 100 * SEC)
    print(f"expire                  {rate(len(expired), time.perf_counter() - t)}")


if __name__ == "__main__":
    main()
