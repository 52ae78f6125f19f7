"""Servers for the etcdpyctl tests: the reference etcd, or etcdpy itself.

``ETCDPY_CTL_TARGET=reference`` (default) or ``etcdpy`` picks the server under test;
both etcdpyctl and the reference etcdctl always talk to that same server.  Servers are
shared by the session (tests use their own key prefixes) and killed by PID at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ctl.ctl_harness import TARGET, etcdctl_binary
from tests.procs import Proc, ProcGroup, proc_group, wait_ready


def start_members(group: ProcGroup, size: int) -> list[Proc]:
    """``size`` members of the target kind, each answering /health (a leader exists)."""
    etcdctl_binary()
    try:
        if size == 1:
            members = [group.start(TARGET, "solo")]
        else:
            members = group.cluster(size, kind=TARGET, token=f"ctl-{size}")
        for member in members:
            wait_ready(member, path="/health")
    except RuntimeError as exc:
        if TARGET == "etcdpy":
            first = str(exc).splitlines()[0]
            pytest.skip(f"etcdpy cannot serve these tests yet: {first}")
        raise
    return members


@pytest.fixture(scope="session")
def ctl_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcGroup]:
    with proc_group(tmp_path_factory.mktemp("ctl")) as group:
        yield group


@pytest.fixture(scope="session")
def server(ctl_group: ProcGroup) -> Proc:
    """One single-member server for the key, watch and error tests."""
    return start_members(ctl_group, 1)[0]


@pytest.fixture(scope="session")
def endpoint(server: Proc) -> str:
    return server.client_url


@pytest.fixture(scope="session")
def cluster(ctl_group: ProcGroup) -> list[Proc]:
    """Three members, so that one unstarted member can be added and removed again."""
    return start_members(ctl_group, 3)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
