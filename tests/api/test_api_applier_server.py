"""apply_request's dispatch (etcd applyV2Request) and the server facade behind do()."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time

import pytest

from etcdpy.server.applier import MIN_EXPIRE_NS, apply_request
from etcdpy.server.config import Config
from etcdpy.server.errors import ServerError
from etcdpy.server.etcdserver import EtcdServer
from etcdpy.server.member import id_str, member_id
from etcdpy.server.membership import MemberIDExists, MemberNotFound, MemberRemoved, PeerURLExists
from etcdpy.server.request import QGET, SYNC, Request
from etcdpy.server.storage import DataDirError
from etcdpy.store import EtcdError, Store, Watcher

NOW = 1_800_000_000 * 10**9


def store() -> Store:
    return Store(("/0", "/1"))


def put(s: Store, path: str, **kw: object) -> object:
    return apply_request(s, Request(method="PUT", path=path, time=NOW, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "action"),
    [
        ({}, "set"),
        ({"prev_exist": True}, "update"),
        ({"prev_exist": True, "prev_value": "old"}, "compareAndSwap"),
        ({"prev_exist": True, "prev_index": 1}, "compareAndSwap"),
        ({"prev_value": "old"}, "compareAndSwap"),
        ({"prev_index": 1}, "compareAndSwap"),
    ],
)
def test_put_dispatch(kw: dict[str, object], action: str) -> None:
    s = store()
    put(s, "/1/k", val="old")
    ev = put(s, "/1/k", val="new", **kw)
    assert ev.action == action and ev.node.value == "new"  # type: ignore[attr-defined]


def test_put_prev_exist_false_creates_and_refuses_existing() -> None:
    s = store()
    assert put(s, "/1/k", val="v", prev_exist=False).action == "create"  # type: ignore[attr-defined]
    with pytest.raises(EtcdError) as exc:
        put(s, "/1/k", val="w", prev_exist=False)
    assert exc.value.code == 105


def test_post_creates_in_order_key() -> None:
    s = store()
    ev = apply_request(s, Request(method="POST", path="/1/q", val="j", time=NOW))
    assert ev is not None and ev.node.key == f"/1/q/{s.index:020d}"


def test_delete_dispatch() -> None:
    s = store()
    put(s, "/1/a", val="v")
    put(s, "/1/b", val="v")
    assert apply_request(s, Request(method="DELETE", path="/1/a", time=NOW)).action == "delete"  # type: ignore[union-attr]
    ev = apply_request(s, Request(method="DELETE", path="/1/b", prev_value="v", time=NOW))
    assert ev is not None and ev.action == "compareAndDelete"


def test_qget_reads_and_sync_expires() -> None:
    s = store()
    put(s, "/1/t", val="v", expiration=NOW + 10**9)
    assert apply_request(s, Request(method=QGET, path="/1/t", time=NOW)).node.value == "v"  # type: ignore[union-attr]
    assert apply_request(s, Request(method=SYNC, time=NOW + 2 * 10**9)) is None
    with pytest.raises(EtcdError):
        s.get("/1/t", False, False, NOW)


def test_pre_2000_expiry_is_permanent() -> None:
    s = store()
    ev = put(s, "/1/p", val="v", expiration=MIN_EXPIRE_NS - 1)
    assert ev.node.expiration_ns == 0  # type: ignore[attr-defined]
    ev = put(s, "/1/n", val="v", expiration=-5)
    assert ev.node.expiration_ns == 0 and not s.has_ttl_keys()  # type: ignore[attr-defined]


def test_refresh_passes_through() -> None:
    s = store()
    put(s, "/1/r", val="keep", expiration=NOW + 10**9)
    ev = put(s, "/1/r", refresh=True, expiration=NOW + 50 * 10**9)
    assert ev.node.value == "keep" and ev.node.ttl == 50  # type: ignore[attr-defined]


def test_unknown_method() -> None:
    with pytest.raises(ServerError, match="unknown method"):
        apply_request(store(), Request(method="PATCH", path="/1/x"))


# --- the facade --------------------------------------------------------------------


def cfg(name: str = "n1", peer: str = "http://127.0.0.1:7001") -> Config:
    return Config(
        name=name,
        data_dir=tempfile.mkdtemp(prefix="etcdpy-facade-"),
        listen_client_urls=["http://127.0.0.1:4001"],
        advertise_client_urls=["http://127.0.0.1:4001"],
        initial_advertise_peer_urls=[peer],
        initial_cluster={name: [peer]},
    )


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def started(c: Config, deadline_s: float = 10.0) -> EtcdServer:
    """A started lone member once it leads, has published itself and decided the
    cluster version (what a client sees as ready)."""
    s = EtcdServer(c)
    await s.start()
    end = time.monotonic() + deadline_s
    while not (
        s.leader_id() == s.id and s.cluster_version is not None and all(m.name for m in s.members())
    ):
        assert time.monotonic() < end, "the lone member did not become ready"
        await asyncio.sleep(0.01)
    return s


def test_bootstrap_indexes_like_etcd() -> None:
    async def go() -> None:
        s = await started(cfg())
        try:
            assert (s.store.index, s.raft_index, s.raft_term) == (3, 4, 2)
            mid = member_id(["http://127.0.0.1:7001"], "etcd-cluster")
            assert s.id == mid and s.leader_id() == mid
            attrs = s.store.get(f"/0/members/{id_str(mid)}/attributes", False, False, 0)
            assert json.loads(attrs.node.value or "") == {
                "name": "n1",
                "clientURLs": ["http://127.0.0.1:4001"],
            }
            raft = s.store.get(f"/0/members/{id_str(mid)}/raftAttributes", False, False, 0)
            assert raft.node.value == '{"peerURLs":["http://127.0.0.1:7001"]}'
            assert s.store.get("/0/version", False, False, 0).node.value == "2.3.0"
            assert [m.client_urls for m in s.members()] == [["http://127.0.0.1:4001"]]
        finally:
            await s.stop()

    run(go())


def test_do_routes_reads_writes_and_watches() -> None:
    async def go() -> None:
        s = await started(cfg())
        try:
            ev = await s.do(Request(method="PUT", path="/1/a", val="1"))
            assert ev.action == "set" and s.raft_index == 5  # type: ignore[union-attr]
            got = await s.do(Request(method="GET", path="/1/a"))
            assert got.node.value == "1" and s.raft_index == 5  # type: ignore[union-attr]
            await s.do(Request(method="GET", path="/1/a", quorum=True))
            assert s.raft_index == 5  # a quorum read is a ReadIndex round, not an entry
            w = await s.do(Request(method="GET", path="/1/a", wait=True))
            assert isinstance(w, Watcher) and w.start_index == s.store.index
            with pytest.raises(EtcdError) as exc:
                await s.do(Request(method="DELETE", path="/1/none"))
            assert exc.value.code == 100 and s.raft_index == 6  # failed writes use an entry
            with pytest.raises(ServerError):
                await s.do(Request(method="OPTIONS", path="/1/a"))
        finally:
            await s.stop()
        with pytest.raises(ServerError, match="stopped"):
            await s.do(Request(method="GET", path="/1/a"))

    run(go())


def test_ttl_keys_expire_without_requests() -> None:
    async def go() -> None:
        s = await started(cfg())
        try:
            exp = time.time_ns() + 300_000_000
            await s.do(Request(method="PUT", path="/1/t", val="v", expiration=exp))
            deadline = time.monotonic() + 5
            while s.store.has_ttl_keys():
                assert time.monotonic() < deadline, "key did not expire"
                await asyncio.sleep(0.02)
            assert time.time_ns() >= exp
            assert s.store.stats()["expireCount"] == 1
        finally:
            await s.stop()

    run(go())


def test_membership_changes() -> None:
    async def go() -> None:
        s = await started(cfg())
        try:
            # Refusals come before anything is proposed. (Adding a member to a lone one
            # makes a quorum of two that an unstarted member stalls, as in etcd: the
            # changes themselves are tested on real clusters in tests/cluster.)
            with pytest.raises(PeerURLExists):
                await s.add_member(["http://127.0.0.1:7001"])
            with pytest.raises(MemberNotFound):
                await s.remove_member(12345)
            with pytest.raises(MemberNotFound):
                await s.update_member(12345, ["http://127.0.0.1:7004"])
            assert MemberIDExists.text == "membership: ID exists"
            assert MemberRemoved.text == "membership: ID removed"
        finally:
            await s.stop()

    run(go())


def test_removing_self_stops_the_member() -> None:
    async def go() -> None:
        s = await started(cfg())
        await s.remove_member(s.id)
        # It stops as a restart on its data dir would: refusing, with the sentence.
        with pytest.raises(DataDirError, match="was removed from cluster"):
            await asyncio.wait_for(s.wait_stopped(), 5)
        assert s.leader_id() is None and not await s.health()

    run(go())


def test_stats_and_health() -> None:
    async def go() -> None:
        s = await started(cfg())
        try:
            st = s.self_stats()
            assert list(st) == [
                "name", "id", "state", "startTime", "leaderInfo",
                "recvAppendRequestCnt", "sendAppendRequestCnt",
            ]  # fmt: skip
            assert st["state"] == "StateLeader" and st["id"] == id_str(s.id)
            assert s.leader_stats() == {"leader": id_str(s.id), "followers": {}}
            assert await s.health()
            before = s.store.stats()["getsFail"]
            assert s.auth_enabled() is False
            assert s.store.stats()["getsFail"] == before + 1  # as etcd's auth probe counts
        finally:
            await s.stop()

    run(go())


def test_request_with_invalid_utf8_survives_the_log_encoding() -> None:
    # The API accepts raw bytes in keys and values as etcd does (kept as lone surrogates).
    r = Request(id=7, method="PUT", path="/1/k\udcff", val="v\udcfe", prev_exist=True)
    assert Request.decode(r.encode()) == r
