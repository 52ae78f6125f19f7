"""Fault injection for cluster tests: partitions, drops and delays between members,
and freezing or killing member processes.

How a cluster test should place proxies (the approach that works here)
----------------------------------------------------------------------
One proxy per member, in front of its real peer listener, all run by one `FaultNet` (a
background thread with its own asyncio loop inside the test process).  A member listens
for peers on its own free port and *advertises* the proxy's URL; the `--initial-cluster`
lists the proxy URLs, so every peer message to member B goes through B's proxy::

    with FaultNet() as net:
        for name in names:
            peer_port[name] = free_port()
            net.proxy(("127.0.0.1", peer_port[name]), name)      # the proxy takes a free port
        initial = ",".join(f"{n}={net[n].url}" for n in names)
        for name in names:
            proc = start_member(
                "--listen-peer-urls", f"http://127.0.0.1:{peer_port[name]}",
                "--initial-advertise-peer-urls", net[name].url,
                "--initial-cluster", initial, ...)
            net.register(name, pid=proc.pid)                    # again after every restart
        net.isolate("a")                     # a <-/-> everyone; a's clients still reach a
        net.partition({"a", "b"}, {"c", "d", "e"})
        net.cut("a", "b"); net.drop_link("a", "c"); net.delay_link("b", "c", 200)
        net.heal()
        net["b"].block()                     # whole-proxy faults: every caller of b

To cut A from B but not C from B, B's proxy must know who is calling.  Per-pair proxy
ports cannot do it: a member's peer URLs are part of the replicated member list (and of
its member id, a hash of the peer URLs and the cluster token), so every member dials B
at the same advertised URL.  Source addresses cannot do it either out of the box: Linux
picks 127.0.0.1 as the source for any 127.x destination (checked here), so giving each
member its own 127.0.0.x for its listeners changes nothing about where it dials from.

What works: the proxy identifies the caller's *process*.  The caller's end of a loopback
connection is a socket in the caller's file table; /proc/net/tcp maps the caller's
address and port to a socket inode, and /proc/<pid>/fd of each registered member shows
who holds it (see senders.py).  No root, no cooperation from the member, no packages:
`test_etcd_cluster.py` runs the unmodified reference etcd 3.4 this way, isolates its
leader and checks a history recorded across the partition.  The lookup happens once per
accepted connection (a few ms, off the proxies' loop).  Register a member before it
dials (i.e. right after starting it): a connection from an unknown PID is labelled None
and only whole-proxy faults apply to it; `None not in net[name].stats()` checks that
every connection was attributed (around a kill -9, a request the dead process sent just
before dying may still arrive and show up as None).  If etcdpy ever binds its outgoing
peer sockets to a per-member loopback address, `net.register(name, host="127.0.0.11")`
identifies by source address instead (cheaper; used in test_proxy.py).

With tests/procs.py, `tests.faults.cluster.start_proxied_cluster(group, net, 3)` does
all of the above for members n1..n3 (etcdpy or, with kind="reference", the reference
etcd) and `restart_member` starts one again and registers its new PID.

Netfilter was the other candidate and is not used: iptables/nft are not installed (apt
has iptables 1.8.9), rules need root with CAP_NET_ADMIN, they apply to the whole network
namespace that other engineers' tests share, and on loopback they could not tell senders
apart either (owner matching knows uids, not processes, and only on output).

Semantics
---------
- `block`: no byte passes either way; existing connections stall with their bytes held
  and resume on heal, like TCP retransmitting through a healed partition.  A new
  connection is accepted but held away from the target; if the caller gives up meanwhile,
  nothing of it ever reaches the target (its handshake would not have completed).
- `drop`: connections are reset (RST) and new ones are reset as soon as accepted.
- `delay(ms)`: every chunk arrives `ms` later in each direction, in order.
- Faults add up per proxy (whole-proxy and per-sender rules: the severest mode and the
  longest delay apply); `heal(src)` clears one sender's, `heal()` all of a proxy's,
  `net.heal()` everything.  Every control returns once the fault is in force.
- Links are cut per connection *initiator*.  `cut(a, b)` blocks connections a opens to b
  and (by default) b opens to a.  With `both_ways=False` only a's connections to b stall;
  but etcd-style transports carry b's messages to a over streams that a opened, so a
  one-way cut at the TCP level is not a one-way cut of raft messages.
- Client traffic does not go through these proxies (clients use the client URLs), so a
  partitioned member still answers its clients; to cut clients off too, put a proxy in
  front of a client URL and block it.
- The proxies run in the test process: the GIL is shared with the test's own clients,
  which is fine for 3-5 members on loopback.

Processes: `pause(pid)`/`resume(pid)`/`paused(pid)` (SIGSTOP/SIGCONT, returning once
/proc shows the process stopped or running) and `kill_hard(popen_or_pid)` (kill -9, then
wait for death; reaps only a Popen).  A timed-out request to a frozen or partitioned
member may still take effect later (etcd keeps the proposal until it finds a leader):
record it as indeterminate (tests/lincheck).
"""

from tests.faults.proxy import FaultNet, FaultProxy, LinkStats, Mode
from tests.faults.senders import SenderRegistry
from tests.faults.signals import ProcessGone, kill_hard, pause, paused, process_state, resume

__all__ = [
    "FaultNet",
    "FaultProxy",
    "LinkStats",
    "Mode",
    "ProcessGone",
    "SenderRegistry",
    "kill_hard",
    "pause",
    "paused",
    "process_state",
    "resume",
]
