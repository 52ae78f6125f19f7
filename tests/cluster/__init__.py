"""Integration tests of the cluster with real etcdpy processes on loopback (issue 5).

One module per theme: election and replication, faults (kill -9, SIGSTOP, partitions)
with a linearizability check, membership changes, the bootstrap table and refusals,
snapshots and catch-up, TTL expiry through the log, status endpoints, and the staggered
start.  `kit.py` holds the shared helpers (start/restart members, HTTP, polling).
Heavier variants run when ETCDPY_CLUSTER_HEAVY=1.
"""
