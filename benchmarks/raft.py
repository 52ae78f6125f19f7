"""How fast the Raft core commits: a 3-member cluster in one process, no I/O.

Each round the leader proposes a batch, then every member runs the server's Ready loop
once (persist into MemoryStorage, send, apply, advance) and messages are handed over
directly. Prints committed entries per second as seen by the leader's applied index
(the point where the server would answer the client), by wall clock and by CPU time
of the process (the machine may be shared: CPU time is the stable figure).

    python benchmarks/raft.py [--entries 200000] [--batch 64] [--size 128]
                              [--encode] [--single] [--profile]

--encode passes every message through msgpack (the peer transport's cost);
--single proposes with propose() one entry at a time instead of propose_batch().
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etcdpy.raft import Config, MemoryStorage, RawNode, Role
from etcdpy.raft.types import ConfChange, EntryType, Message

IDS = (1, 2, 3)
KEEP = 10_000  # entries kept in memory behind a compaction, as etcd's catch-up window


class Cluster:
    def __init__(self, encode: bool) -> None:
        self.encode = encode
        self.storage = {i: MemoryStorage() for i in IDS}
        self.nodes = {
            i: RawNode(Config(id=i, storage=self.storage[i], rng=random.Random(i)), peers=list(IDS))
            for i in IDS
        }
        self.inbox: dict[int, list[Message]] = {i: [] for i in IDS}
        self.applied = dict.fromkeys(IDS, 0)

    def route(self, msgs: list[Message]) -> None:
        if self.encode:
            for m in msgs:
                self.inbox[m.to].append(Message.decode(m.encode()))
        else:
            for m in msgs:
                self.inbox[m.to].append(m)

    def turn(self) -> None:
        """Deliver each member's inbox, then run one Ready of each member."""
        for i in IDS:
            node = self.nodes[i]
            inbox = self.inbox[i]
            if inbox:
                self.inbox[i] = []
                for m in inbox:
                    node.step(m)
            if not node.has_ready():
                continue
            rd = node.ready()
            st = self.storage[i]
            if rd.send_before_persist:
                self.route(rd.messages)
            if rd.snapshot is not None:
                st.apply_snapshot(rd.snapshot)
            if rd.entries:
                st.append(rd.entries)
            if rd.hard_state is not None:
                st.set_hard_state(rd.hard_state)
            if not rd.send_before_persist:
                self.route(rd.messages)
            ents = rd.committed_entries
            if ents:
                for e in ents:
                    if e.type == EntryType.CONF_CHANGE:
                        node.apply_conf_change(ConfChange.decode(e.data))
                self.applied[i] = ents[-1].index
            node.advance(rd)
            applied = self.applied[i]
            if applied - st.first_index() > 2 * KEEP:
                st.create_snapshot(applied, None, b"")
                st.compact(applied - KEEP)

    def elect(self) -> RawNode:
        self.turn()
        self.nodes[1].campaign()
        for _ in range(100):
            self.turn()
            leader = self.nodes[1]
            st = leader.status()
            last = self.storage[1].last_index()
            if st.role is Role.LEADER and self.applied[1] == st.commit == last:
                return leader
        raise RuntimeError("no leader elected")


def run(entries: int, batch: int, size: int, encode: bool, single: bool) -> float:
    cluster = Cluster(encode)
    leader = cluster.elect()
    start_index = cluster.applied[1]
    payloads = [bytes([i % 256]) * size for i in range(batch)]
    target = start_index + entries
    proposed = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    # Bounded: every turn either proposes or moves the pipeline forward.
    for _ in range(10 * (entries // batch + 1000)):
        if proposed < entries:
            if single:
                for p in payloads:
                    leader.propose(p)
            else:
                leader.propose_batch(payloads)
            proposed += batch
        cluster.turn()
        if cluster.applied[1] >= target:
            break
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    committed = cluster.applied[1] - start_index
    if committed < entries:
        raise RuntimeError(f"only {committed} of {entries} entries committed")
    followers_done = min(cluster.applied[i] for i in IDS)
    print(
        f"  {committed} entries in {elapsed:.3f} s wall ({committed / elapsed:,.0f} entries/s), "
        f"{cpu:.3f} s CPU ({committed / cpu:,.0f} entries/s per core); "
        f"followers applied {followers_done - start_index}"
    )
    return committed / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--encode", action="store_true")
    parser.add_argument("--single", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.getLogger("etcdpy.raft").setLevel(logging.WARNING)
    variants = [(args.encode, args.single)]
    if not (args.encode or args.single or args.profile):
        variants = [(False, False), (False, True), (True, False)]
    for encode, single in variants:
        print(
            f"3 members, batches of {args.batch} x {args.size} B, "
            f"{'propose() per entry' if single else 'propose_batch()'}, "
            f"{'msgpack transport' if encode else 'in-memory messages'}:"
        )
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(run, args.entries, args.batch, args.size, encode, single)
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        else:
            run(args.entries, args.batch, args.size, encode, single)


if __name__ == "__main__":
    main()
