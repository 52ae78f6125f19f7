"""Member and cluster ids derived as etcd derives them (checked against etcd itself)."""

from __future__ import annotations

import json

import pytest

from etcdpy.server.member import Member, cluster_id, id_str, member_id, parse_id
from tests.compat import wire
from tests.procs import ProcGroup, free_port, http_get, member_args, reference_binary


def test_known_ids() -> None:
    # etcd 3.4 with --initial-cluster ref=http://127.0.0.1:23801 and the default token.
    mid = member_id(["http://127.0.0.1:23801"], "etcd-cluster")
    assert id_str(mid) == "bdae9bbc11dd390d"
    assert id_str(cluster_id([mid])) == "d1cfaf999eb97a2a"


def test_peer_urls_are_sorted_before_hashing() -> None:
    a = member_id(["http://b:2", "http://a:1"], "t")
    assert a == member_id(["http://a:1", "http://b:2"], "t")
    assert a != member_id(["http://a:1", "http://b:2"], "other")


def test_runtime_member_ids_mix_in_unix_seconds() -> None:
    urls = ["http://10.0.0.9:2380"]
    assert member_id(urls, "", 1700000000.9) == member_id(urls, "", 1700000000)
    assert member_id(urls, "", 1700000000) != member_id(urls, "", 1700000001)
    assert member_id(urls, "", 1700000000) != member_id(urls, "")


def test_cluster_id_ignores_member_order() -> None:
    assert cluster_id([1, 2, 3]) == cluster_id([3, 1, 2])


@pytest.mark.parametrize("s", ["", "0x1", "xyz", "1" * 17, "-1", " 1"])
def test_parse_id_rejects(s: str) -> None:
    with pytest.raises(ValueError):
        parse_id(s)


def test_parse_id_and_member_json() -> None:
    assert parse_id("ABCdef") == 0xABCDEF
    m = Member(0xABC, "n1", ["http://p:1"], [])
    assert m.to_dict() == {"id": "abc", "name": "n1", "peerURLs": ["http://p:1"], "clientURLs": []}


@pytest.mark.skipif(reference_binary() is None, reason="the reference etcd is not installed")
def test_reference_agrees_for_a_custom_token(procs: ProcGroup) -> None:
    cp, pp = free_port(), free_port()
    args = member_args("tok", cp, pp, procs.base_dir / "tok.etcd", token="my-token-42")
    ref = procs.reference("tok", args, client_port=cp, peer_port=pp)
    status, body = http_get(ref.client_url, "/v2/members")
    assert status == 200
    (m,) = json.loads(body)["members"]
    want = member_id([ref.peer_url], "my-token-42")
    assert m["id"] == id_str(want)
    cid = wire.request(ref.client_port, "GET", "/v2/keys/").header("X-Etcd-Cluster-Id")
    assert cid == id_str(cluster_id([want]))
