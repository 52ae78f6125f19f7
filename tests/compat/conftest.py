"""One reference etcd and one etcdpy member for the whole compat session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compat.sidebyside import Pair
from tests.procs import ProcGroup, reference_binary, session_procs, wait_ready

__all__ = ["pair", "session_procs"]


@pytest.fixture(scope="session")
def pair(session_procs: ProcGroup) -> Iterator[Pair]:
    if reference_binary() is None:
        pytest.skip("the reference etcd is not installed (apt-get install etcd-server)")
    ref = session_procs.reference("compat", ready=False)
    py = session_procs.etcdpy("compat", ready=False)
    wait_ready(ref)
    wait_ready(py)
    yield Pair(ref, py)
