"""Shared helpers for the store tests."""

from __future__ import annotations

import pytest

from etcdpy.store import Store

SEC = 1_000_000_000
# A realistic "now": 2023-11-14T22:13:20Z.
T0 = 1_700_000_000 * SEC


@pytest.fixture
def store() -> Store:
    return Store(["/0", "/1"])
