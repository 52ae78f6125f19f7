"""The members API's write handlers over HTTP, on a real three-member cluster (adding an
unstarted member to it leaves a quorum of three that the live members still make; on a
one-member cluster it would stall the cluster, as it does etcd's)."""

from __future__ import annotations

import json

import pytest

from etcdpy.server.member import id_str
from tests.compat import wire
from tests.procs import Proc, ProcGroup

JSON_CT = {"Content-Type": "application/json"}


class Member:
    """The client port of one member of the shared cluster."""

    def __init__(self, proc: Proc) -> None:
        self.port = proc.client_port


@pytest.fixture(scope="module")
def member(module_procs: ProcGroup) -> Member:
    return Member(module_procs.cluster(3)[0])


def post(m: Member, urls: list[str]) -> wire.Resp:
    return wire.request(
        m.port, "POST", "/v2/members", json.dumps({"peerURLs": urls}).encode(), JSON_CT
    )


def test_add_update_remove(member: Member) -> None:
    r = post(member, ["http://10.0.0.2:2380"])
    assert r.status == 201 and r.header("Content-Type") == "application/json"
    assert r.body.endswith(b"}\n")
    new = json.loads(r.body)
    assert (
        new["name"] == ""
        and new["clientURLs"] == []
        and new["peerURLs"] == ["http://10.0.0.2:2380"]
    )
    listed = json.loads(wire.request(member.port, "GET", "/v2/members").body)["members"]
    assert new in listed and len(listed) == 4
    assert post(member, ["http://10.0.0.2:2380"]).status == 409

    r = wire.request(
        member.port,
        "PUT",
        f"/v2/members/{new['id']}",
        b'{"peerURLs":["http://10.0.0.3:2380"]}',
        JSON_CT,
    )
    assert (r.status, r.body) == (204, b"")
    r = wire.request(
        member.port, "PUT", "/v2/members/abc", b'{"peerURLs":["http://10.0.0.4:2380"]}', JSON_CT
    )
    assert (r.status, json.loads(r.body)) == (404, {"message": "No such member: abc"})

    assert wire.request(member.port, "DELETE", f"/v2/members/{new['id']}").status == 204
    r = wire.request(member.port, "DELETE", f"/v2/members/{new['id']}")
    assert (r.status, json.loads(r.body)) == (
        410,
        {"message": f"Member permanently removed: {new['id']}"},
    )
    r = wire.request(
        member.port,
        "PUT",
        f"/v2/members/{new['id']}",
        b'{"peerURLs":["http://10.0.0.5:2380"]}',
        JSON_CT,
    )
    assert (r.status, json.loads(r.body)) == (500, {"message": "Internal Server Error"})


def test_member_changes_use_store_indexes(member: Member) -> None:
    before = int(wire.request(member.port, "GET", "/v2/keys/").header("X-Etcd-Index") or 0)
    new = json.loads(post(member, ["http://10.0.0.9:2380"]).body)
    wire.request(member.port, "DELETE", f"/v2/members/{new['id']}")
    after = int(wire.request(member.port, "GET", "/v2/keys/").header("X-Etcd-Index") or 0)
    # raftAttributes create, then delete of the member dir and create of removed_members.
    assert after == before + 3


def test_removing_itself_stops_the_process(procs: ProcGroup) -> None:
    m = procs.etcdpy("leaving")
    me = json.loads(wire.request(m.client_port, "GET", "/v2/members/leader").body)["id"]
    r = wire.request(m.client_port, "DELETE", f"/v2/members/{me}")
    assert r.status == 204
    assert m.wait(10) == 1, m.log_tail()
    assert "permanently removed" in m.log_text()
    assert f"member {me} was removed from cluster" in m.log_text()
    assert id_str(int(me, 16)) == me
