"""Integration tests of the cluster with real etcdpy processes on loopback (issue 5).

One module per theme:

- test_cluster_replication: election, writes and watches through followers, 3 and 5
  members, default timings, a member without a quorum (local reads, error 300 writes);
- test_cluster_faults: kill -9 of the leader under concurrent writes, SIGSTOP past the
  election timeout, partitions through tests/faults proxies, restart behind a proxy;
- test_cluster_lincheck: a read/write/CAS history recorded under those faults and
  checked with tests/lincheck (and the checker catching a real stale local read);
- test_cluster_membership: add and join, remove for ever, re-add with a wiped data dir,
  move peer URLs, --strict-reconfig-check;
- test_cluster_bootstrap: the bootstrap table, etcd's ids, refusals between clusters;
- test_cluster_snapshots: catch-up by snapshot, restart with 100k keys within 5 s;
- test_cluster_ttl: expiry through the leader's SYNC, at one index on every member;
- test_cluster_status: stats, health, version, leader, and the log lines;
- test_cluster_staggered: members started two seconds apart.

`kit.py` holds the shared helpers (start/restart members, HTTP, polling with deadlines,
a fast key loader using wrk when installed).  Heavier variants (a longer history, the
30 s snapshot purge) run when ETCDPY_CLUSTER_HEAVY=1.
"""
