"""The ``python-etcd`` package (``import etcd``) works unchanged against etcdpy."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.procs import Proc, ProcGroup, module_procs

__all__ = ["module_procs"]

etcd = pytest.importorskip("etcd")

WATCH_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def member(module_procs: ProcGroup) -> Iterator[Proc]:
    yield module_procs.etcdpy("pyetcd")


@pytest.fixture
def client(member: Proc) -> etcd.Client:
    return etcd.Client(host="127.0.0.1", port=member.client_port, read_timeout=WATCH_TIMEOUT_S)


def test_version_and_machines(client: etcd.Client, member: Proc) -> None:
    assert client.version == "2.3.8"
    assert client.machines == [member.client_url]
    assert client.leader["clientURLs"] == [member.client_url]


def test_write_read_delete(client: etcd.Client) -> None:
    r = client.write("/py/a", "1")
    assert (r.key, r.value, r.action, r.newKey) == ("/py/a", "1", "set", True)
    assert client.read("/py/a").value == "1"
    r = client.write("/py/a", "2")
    assert (r.value, r._prev_node.value, r.newKey) == ("2", "1", False)
    client.delete("/py/a")
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.read("/py/a")


def test_prev_exist_and_ttl(client: etcd.Client) -> None:
    client.write("/py/c", "v", prevExist=False)
    with pytest.raises(etcd.EtcdAlreadyExist):
        client.write("/py/c", "w", prevExist=False)
    r = client.write("/py/t", "v", ttl=100)
    assert r.ttl == 100 and r.expiration is not None


def test_test_and_set(client: etcd.Client) -> None:
    client.write("/py/cas", "old")
    r = client.test_and_set("/py/cas", "new", "old")
    assert (r.action, r.value) == ("compareAndSwap", "new")
    with pytest.raises(ValueError):
        client.test_and_set("/py/cas", "newer", "old")


def test_directories(client: etcd.Client) -> None:
    client.write("/py/dir", None, dir=True)
    client.write("/py/dir/x", "1")
    client.write("/py/dir/sub/y", "2")
    r = client.read("/py/dir", recursive=True, sorted=True)
    assert r.dir
    assert [c.key for c in r.leaves] == ["/py/dir/sub/y", "/py/dir/x"]
    with pytest.raises(etcd.EtcdDirNotEmpty):
        client.delete("/py/dir", dir=True)
    client.delete("/py/dir", recursive=True)
    with pytest.raises(etcd.EtcdKeyNotFound):
        client.read("/py/dir")


def test_in_order_append(client: etcd.Client) -> None:
    first = client.write("/py/queue", "job1", append=True)
    second = client.write("/py/queue", "job2", append=True)
    assert first.key < second.key
    assert first.key.rsplit("/", 1)[1].isdigit() and len(first.key.rsplit("/", 1)[1]) == 20
    r = client.read("/py/queue", sorted=True)
    assert [c.value for c in r.children] == ["job1", "job2"]


def test_watch_one_event(client: etcd.Client, member: Proc) -> None:
    start = client.write("/py/w", "0").modifiedIndex
    got: list[etcd.EtcdResult] = []
    t = threading.Thread(target=lambda: got.append(client.watch("/py/w", index=start + 1)))
    t.start()
    other = etcd.Client(host="127.0.0.1", port=member.client_port)
    other.write("/py/w", "1")
    t.join(WATCH_TIMEOUT_S)
    assert not t.is_alive()
    assert (got[0].value, got[0].modifiedIndex) == ("1", start + 1)


def test_eternal_watch_a_few_events(client: etcd.Client) -> None:
    start = client.write("/py/ew", "0").modifiedIndex
    for i in range(1, 4):
        client.write("/py/ew", str(i))
    events = client.eternal_watch("/py/ew", index=start + 1)
    seen = [next(events).value for _ in range(3)]
    assert seen == ["1", "2", "3"]


def test_recursive_watch_of_directory(client: etcd.Client) -> None:
    start = client.write("/py/rw/a", "0").modifiedIndex
    client.write("/py/rw/b/c", "deep")
    r = client.watch("/py/rw", index=start + 1, recursive=True)
    assert (r.key, r.value) == ("/py/rw/b/c", "deep")
