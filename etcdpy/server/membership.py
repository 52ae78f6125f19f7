"""The cluster's membership as the v2 store records it under ``/0`` (etcd ``membership``).

etcd keeps members in the v2 store: ``/0/members/<id>/raftAttributes`` (peer URLs, written
when a member is added), ``/0/members/<id>/attributes`` (name and client URLs, written
when the member publishes itself), ``/0/removed_members/<id>`` and ``/0/version``. Those
writes use store indexes, which is why a fresh cluster's first user key is not index 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import msgpack

from etcdpy.server.member import Member, id_str, parse_id
from etcdpy.server.request import STORE_CLUSTER_PREFIX
from etcdpy.store import EtcdError, Store

MEMBERS_PREFIX = STORE_CLUSTER_PREFIX + "/members"
REMOVED_MEMBERS_PREFIX = STORE_CLUSTER_PREFIX + "/removed_members"
VERSION_KEY = STORE_CLUSTER_PREFIX + "/version"


class MembershipError(Exception):
    """A membership change the cluster refuses; ``str()`` is etcd's text."""

    text = "membership: invalid change"

    def __init__(self) -> None:
        super().__init__(self.text)


class MemberNotFound(MembershipError):
    text = "membership: ID not found"


class MemberRemoved(MembershipError):
    text = "membership: ID removed"


class MemberIDExists(MembershipError):
    text = "membership: ID exists"


class PeerURLExists(MembershipError):
    text = "membership: peerURL exists"


def member_key(mid: int) -> str:
    return f"{MEMBERS_PREFIX}/{id_str(mid)}"


def raft_attributes_key(mid: int) -> str:
    return member_key(mid) + "/raftAttributes"


def attributes_key(mid: int) -> str:
    return member_key(mid) + "/attributes"


def removed_member_key(mid: int) -> str:
    return f"{REMOVED_MEMBERS_PREFIX}/{id_str(mid)}"


def _go_json(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def raft_attributes_value(peer_urls: list[str]) -> str:
    """The JSON etcd stores in ``raftAttributes``."""
    return _go_json({"peerURLs": list(peer_urls)})


def attributes_value(name: str, client_urls: list[str]) -> str:
    """The JSON etcd stores in ``attributes`` (the member's publish request value)."""
    d: dict[str, object] = {"name": name} if name else {}
    if client_urls:
        d["clientURLs"] = list(client_urls)
    return _go_json(d)


def parse_attributes_key(path: str) -> int | None:
    """The member id when ``path`` is ``/0/members/<hex id>/attributes``, else None."""
    if not path.startswith(MEMBERS_PREFIX + "/") or not path.endswith("/attributes"):
        return None
    hexid = path[len(MEMBERS_PREFIX) + 1 : -len("/attributes")]
    try:
        return int(hexid, 16) if hexid and "/" not in hexid else None
    except ValueError:
        return None


@dataclass(slots=True)
class Membership:
    """The members this server knows, the ids removed for ever, and the cluster version."""

    cluster_id: int = 0
    members: dict[int, Member] = field(default_factory=dict)
    removed: set[int] = field(default_factory=set)
    version: str | None = None

    def sorted_members(self) -> list[Member]:
        return [self.members[i] for i in sorted(self.members)]

    def client_urls(self) -> list[str]:
        """Every member's client URLs, sorted (etcd ``Cluster.ClientURLs``)."""
        return sorted(u for m in self.members.values() for u in m.client_urls)

    def validate_add(self, m: Member) -> None:
        if m.id in self.removed:
            raise MemberRemoved()
        if m.id in self.members:
            raise MemberIDExists()
        used = {u for other in self.members.values() for u in other.peer_urls}
        if any(u in used for u in m.peer_urls):
            raise PeerURLExists()

    def validate_remove(self, mid: int) -> None:
        if mid in self.removed:
            raise MemberRemoved()
        if mid not in self.members:
            raise MemberNotFound()

    def validate_update(self, mid: int, peer_urls: list[str]) -> None:
        if mid in self.removed:
            raise MemberRemoved()
        if mid not in self.members:
            raise MemberNotFound()
        used = {u for other in self.members.values() if other.id != mid for u in other.peer_urls}
        if any(u in used for u in peer_urls):
            raise PeerURLExists()


def encode_conf_context(request_id: int, m: Member) -> bytes:
    """What a configuration change carries besides the member id: the request to answer
    once it is applied, and the member record (etcd puts the member's JSON there)."""
    return msgpack.packb([request_id, m.id, m.name, list(m.peer_urls), list(m.client_urls)])


def decode_conf_context(data: bytes) -> tuple[int, Member | None]:
    if not data:
        return 0, None
    v = msgpack.unpackb(data)
    return v[0], Member(v[1], v[2], list(v[3]), list(v[4]))


def members_from_store(store: Store) -> tuple[dict[int, Member], set[int], str | None]:
    """The membership the store records under ``/0`` (etcd ``membersFromStore``): what a
    configuration change is validated against, and what a restart recovers."""
    members: dict[int, Member] = {}
    removed: set[int] = set()
    version: str | None = None
    try:
        ev = store.get(MEMBERS_PREFIX, True, True, 0)
    except EtcdError:
        ev = None
    for child in (ev.node.nodes or []) if ev is not None else []:
        try:
            mid = parse_id(child.key.rsplit("/", 1)[-1])
        except ValueError:
            continue
        m = Member(mid)
        for attr in child.nodes or []:
            try:
                value = json.loads(attr.value or "{}")
            except ValueError:
                continue
            if attr.key.endswith("/raftAttributes"):
                m.peer_urls = [str(u) for u in value.get("peerURLs") or []]
            elif attr.key.endswith("/attributes"):
                m.name = str(value.get("name", ""))
                m.client_urls = [str(u) for u in value.get("clientURLs") or []]
        members[mid] = m
    try:
        rev = store.get(REMOVED_MEMBERS_PREFIX, False, False, 0)
    except EtcdError:
        rev = None
    for child in (rev.node.nodes or []) if rev is not None else []:
        try:
            removed.add(parse_id(child.key.rsplit("/", 1)[-1]))
        except ValueError:
            continue
    try:
        version = store.get(VERSION_KEY, False, False, 0).node.value
    except EtcdError:
        version = None
    return members, removed, version


def membership_from_store(store: Store, cluster_id: int) -> Membership:
    members, removed, version = members_from_store(store)
    return Membership(cluster_id, members, removed, version)
