"""The bootstrap table row by row, ids derived as etcd derives them, and refusals between
clusters: every wrong combination ends the member with one clear sentence."""

from __future__ import annotations

import contextlib
import hashlib
import socketserver
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.kit import (
    FAST,
    call,
    get,
    log_lines,
    modified_index,
    poll,
    put,
    restart,
    same_index,
    self_stats,
    start_cluster,
    wait_exit,
    wait_leader,
    wait_log,
)
from tests.procs import LOOPBACK, Proc, ProcGroup, free_port, member_args, proc_group

TOKEN = "bootstrap-tests"


def etcd_member_id(peer_urls: list[str], token: str) -> str:
    """etcd's NewMember: sha1 over the sorted peer URLs and the token, first 8 bytes."""
    digest = hashlib.sha1(("".join(sorted(peer_urls)) + token).encode()).digest()
    return f"{struct.unpack('>Q', digest[:8])[0]:x}"


def etcd_cluster_id(member_ids: list[str]) -> str:
    """etcd's genID: sha1 over the sorted member ids as 8-byte big-endian integers."""
    ordered = sorted(int(i, 16) for i in member_ids)
    raw = b"".join(struct.pack(">Q", i) for i in ordered)
    return f"{struct.unpack('>Q', hashlib.sha1(raw).digest()[:8])[0]:x}"


@dataclass
class Cluster:
    group: ProcGroup
    members: list[Proc]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with proc_group(tmp_path_factory.mktemp("boot")) as group:
        members = start_cluster(group, 3, token=TOKEN)
        wait_leader(members)
        yield Cluster(group, members)


def test_member_and_cluster_ids_are_etcds(cluster: Cluster) -> None:
    ids = []
    for m in cluster.members:
        expected = etcd_member_id([m.peer_url], TOKEN)
        assert self_stats(m)["id"] == expected, m.name
        ids.append(expected)
    cid = etcd_cluster_id(ids)
    for m in cluster.members:
        r = call(m.client_url, "GET", "/v2/members")
        assert r.header("X-Etcd-Cluster-Id") == cid
        assert sorted(x["id"] for x in r.json()["members"]) == sorted(ids)


def test_the_peer_member_list_names_its_cluster(cluster: Cluster) -> None:
    """A joining member adopts the cluster id from this answer (etcd sets the header)."""
    m = cluster.members[0]
    r = call(m.peer_url, "GET", "/members")
    assert r.status == 200
    ids = [etcd_member_id([x.peer_url], TOKEN) for x in cluster.members]
    assert r.header("X-Etcd-Cluster-ID") == etcd_cluster_id(ids)
    assert sorted(x["id"] for x in r.json()) == sorted(ids)


def test_a_peer_request_of_another_cluster_is_refused_412(cluster: Cluster) -> None:
    m = cluster.members[0]
    r = call(
        m.peer_url,
        "POST",
        "/raft",
        body=b"\x90",  # an empty msgpack batch
        headers={"X-Etcd-Cluster-ID": "abc", "X-Server-From": "1", "X-Raft-To": "0"},
    )
    assert r.status == 412
    wait_log(m, "cluster ID mismatch")


def test_a_restarted_member_ignores_the_initial_cluster_flags(cluster: Cluster) -> None:
    group, members = cluster.group, cluster.members
    victim = members[2]
    before = self_stats(victim)["id"]
    w = put(members[0].client_url, "/boot/restart", "kept")
    assert w.status == 201
    same_index(members, "/boot/restart")
    victim.stop()
    # Nonsense initial flags: a data dir with a WAL means they are not even looked at.
    args = list(victim.args)
    args[args.index("--initial-cluster") + 1] = f"other=http://{LOOPBACK}:1"
    args[args.index("--initial-cluster-state") + 1] = "existing"
    args += ["--initial-cluster-token", "something-else"]
    again = restart(group, victim, args=args)
    members[2] = again
    assert self_stats(again)["id"] == before
    assert get(again.client_url, "/boot/restart").json()["node"]["value"] == "kept"
    assert log_lines(again, "flags are ignored")
    w2 = put(again.client_url, "/boot/after", "yes")
    assert modified_index(members, "/boot/after") == w2.etcd_index


def test_two_tokens_refuse_each_other(tmp_path: Path) -> None:
    """n3 has another --initial-cluster-token: other ids, another cluster id.  n1 and
    n2 make a quorum without it; every message between the two sides is refused, and
    each side says so in one log line (not one per message)."""
    with proc_group(tmp_path) as group:
        ports = {n: (free_port(), free_port()) for n in ("n1", "n2", "n3")}
        initial = ",".join(f"{n}=http://{LOOPBACK}:{pp}" for n, (_, pp) in ports.items())
        members = []
        for n, (cp, pp) in ports.items():
            token = "token-b" if n == "n3" else "token-a"
            data_dir = group.base_dir / f"etcdpy-{n}.etcd"
            args = [*member_args(n, cp, pp, data_dir, initial, token), *FAST]
            members.append(
                group.start(
                    "etcdpy", n, args, client_port=cp, peer_port=pp, data_dir=data_dir, ready=False
                )
            )
        n1, n2, n3 = members
        lead = wait_leader([n1, n2])
        assert put(lead.client_url, "/tokens", "a").status == 201
        refusal = "cluster ID mismatch: peer"
        refused = poll(
            lambda: log_lines(n1, refusal) + log_lines(n2, refusal) or None,
            "n1 or n2 to log refusing n3",
        )
        assert all(" | n1 | " in x or " | n2 | " in x for x in refused)
        # n3 hears that its peers are of another cluster and says so, naming itself.
        line = wait_log(n3, "belongs to another cluster")
        assert " | n3 | " in line
        # Refused by a majority of its peers, n3 gives up with one sentence and status 1
        # rather than retrying for ever; it never followed a leader of the other side.
        assert wait_exit(n3) == 1, n3.log_tail()
        assert "are members of another cluster and refuse this member" in n3.log_text()
        assert "Traceback" not in n3.log_text()
        assert not log_lines(n3, "elected leader")
        # The refusing side: one line per refused peer, not one per message (dozens a
        # second arrive).
        assert len(log_lines(n1, refusal)) <= 2
        assert len(log_lines(n2, refusal)) <= 2
        # n1 and n2 go on as a cluster of their own.
        assert put(n2.client_url, "/tokens", "b").status == 200
        same_index([n1, n2], "/tokens")


def _stranger(port: int) -> socketserver.TCPServer:
    """A peer of another cluster at ``port``: every request gets etcd's 412."""

    class Refuse(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):
                while self.rfile.readline() not in (b"\r\n", b""):
                    pass
                body = b"cluster ID mismatch\n"
                self.wfile.write(
                    b"HTTP/1.1 412 Precondition Failed\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n%s" % (len(body), body)
                )

    server = socketserver.ThreadingTCPServer((LOOPBACK, port), Refuse)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_working_member_outlives_a_stranger_at_its_only_peer(tmp_path: Path) -> None:
    """The grow-back mistake: q2 is added, then started with --initial-cluster-state new
    (so it makes a cluster of its own). q2, which never worked in a cluster, stops with
    one sentence; q1, which holds the data, logs the refusal and keeps serving reads
    (it has no quorum: the cluster has two voters now), as etcd does."""
    with proc_group(tmp_path) as group:
        (c1, p1), (c2, p2) = (free_port(), free_port()), (free_port(), free_port())
        q1_dir, q2_dir = group.base_dir / "q1.etcd", group.base_dir / "q2.etcd"
        one = f"q1=http://{LOOPBACK}:{p1}"
        q1 = group.start(
            "etcdpy",
            "q1",
            [*member_args("q1", c1, p1, q1_dir, one, TOKEN), *FAST],
            client_port=c1,
            peer_port=p1,
            data_dir=q1_dir,
        )
        wait_leader([q1])
        assert put(q1.client_url, "/important", "data").status == 201
        added = call(
            q1.client_url,
            "POST",
            "/v2/members",
            body=f'{{"peerURLs":["http://{LOOPBACK}:{p2}"]}}'.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert added.status == 201, added.body
        both = f"{one},q2=http://{LOOPBACK}:{p2}"
        q2 = group.start(
            "etcdpy",
            "q2",
            [*member_args("q2", c2, p2, q2_dir, both, TOKEN, state="new"), *FAST],
            client_port=c2,
            peer_port=p2,
            data_dir=q2_dir,
            ready=False,
        )
        assert wait_exit(q2) == 1, q2.log_tail()
        assert "are members of another cluster and refuse this member" in q2.log_text()
        # q2 may be gone before q1 reached it: a stand-in of another cluster at q2's
        # address makes sure q1 hears the refusal. The stop would be decided (and
        # logged) in the same call that logs it.
        stranger = _stranger(p2)
        try:
            wait_log(q1, "belongs to another cluster")
            assert "refuse this member" not in q1.log_text(), q1.log_tail()
            assert q1.alive(), q1.log_tail()
            assert get(q1.client_url, "/important").json()["node"]["value"] == "data"
        finally:
            stranger.shutdown()
            stranger.server_close()
        assert "Traceback" not in q1.log_text() + q2.log_text()


def _refused_start(group: ProcGroup, name: str, args: list[str]) -> str:
    """Start a member that must refuse to start; its output (one sentence)."""
    m = group.start("etcdpy", name, args, ready=False)
    code = wait_exit(m)
    out = m.log_text()
    assert code == 1, out
    assert "Traceback" not in out, out
    lines = [x for x in out.splitlines() if x.strip()]
    assert len(lines) == 1, out
    return lines[0]


def test_existing_state_without_a_running_cluster_is_one_sentence(tmp_path: Path) -> None:
    with proc_group(tmp_path) as group:
        cp, pp = free_port(), free_port()
        initial = f"x1=http://{LOOPBACK}:{free_port()},x2=http://{LOOPBACK}:{pp}"
        args = member_args("x2", cp, pp, tmp_path / "x2.etcd", initial, state="existing")
        line = _refused_start(group, "x2", args)
        assert "cannot join the cluster" in line


def test_joining_without_being_added_is_one_sentence(cluster: Cluster) -> None:
    group, members = cluster.group, cluster.members
    cp, pp = free_port(), free_port()
    initial = ",".join([*(f"{m.name}={m.peer_url}" for m in members), f"x4=http://{LOOPBACK}:{pp}"])
    args = member_args("x4", cp, pp, group.base_dir / "x4.etcd", initial, state="existing")
    line = _refused_start(group, "x4", args)
    assert "add this member first" in line
    assert f"http://{LOOPBACK}:{pp}" in line


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("name missing", "couldn't find local name"),
        ("advertise differs", "a new member must advertise exactly"),
        ("duplicate url", "has duplicate url"),
    ],
)
def test_a_new_member_with_inconsistent_flags_is_one_sentence(
    tmp_path: Path, case: str, needle: str
) -> None:
    with proc_group(tmp_path) as group:
        cp, pp = free_port(), free_port()
        me = f"http://{LOOPBACK}:{pp}"
        other = f"http://{LOOPBACK}:{free_port()}"
        initial = {
            "name missing": f"y2={other}",
            "advertise differs": f"y1={other},y2={me}",
            "duplicate url": f"y1={me},y2={me}",
        }[case]
        args = member_args("y1", cp, pp, tmp_path / "y1.etcd", initial)
        assert needle in _refused_start(group, "y1", args)
