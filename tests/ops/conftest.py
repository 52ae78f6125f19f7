"""Fixtures of the operations tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops.kit import dump, start_member, write_keys
from tests.procs import ProcGroup, proc_group


@pytest.fixture(scope="session")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A stopped one-member data dir with a few snapshots, and its key space. Tests copy
    it before changing anything."""
    base = tmp_path_factory.mktemp("stopped")
    with proc_group(base) as group:
        m = start_member(group, "solo", base / "solo.etcd", "--snapshot-count", "20")
        write_keys(m.client_url, "/d", 70)
        keys = dump(m.client_url)
        assert m.stop() == 0
    assert len(list((base / "solo.etcd" / "snap").glob("*.snap"))) >= 2
    yield base / "solo.etcd", keys


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ProcGroup]:
    """Members for one test, killed by PID when it ends."""
    with proc_group(tmp_path) as g:
        yield g
