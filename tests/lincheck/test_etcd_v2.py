"""How v2 answers map to results, checked against one reference etcd member."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.lincheck import Recorder, cas, check_history, delete, read, write
from tests.lincheck.etcd_v2 import UnexpectedResponse, perform, run_op
from tests.lincheck.ops import Op
from tests.procs import Proc, free_port, proc_group, reference_binary

pytestmark = pytest.mark.skipif(reference_binary() is None, reason="etcd is not installed")


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    with proc_group(tmp_path_factory.mktemp("v2")) as group:
        yield group.reference("ref")


def run(url: str, *ops: Op) -> list[Any]:
    async def main() -> list[Any]:
        async with aiohttp.ClientSession() as session:
            return [await perform(session, url, op) for op in ops]

    return asyncio.run(main())


def test_results_of_each_kind(member: Proc) -> None:
    url = member.client_url
    results = run(
        url,
        read("/map/k"),  # absent
        cas("/map/k", "x", "y"),  # compareAndSwap on an absent key: 100
        cas("/map/k", None, "a"),  # create
        cas("/map/k", None, "b"),  # create again: 105
        read("/map/k"),
        cas("/map/k", "zzz", "c"),  # compare failed: 101
        cas("/map/k", "a", "c"),
        write("/map/k", "d"),
        delete("/map/k"),
        delete("/map/k"),  # 100
        read("/map/k"),
    )
    assert results == [None, False, True, False, "a", False, True, None, True, False, None]


def test_reading_a_directory_is_a_workload_bug(member: Proc) -> None:
    run(member.client_url, write("/map/dir/inner", "1"))
    with pytest.raises(UnexpectedResponse, match="HTTP 200"):
        run(member.client_url, read("/map/dir"))


def test_recorded_ops_against_a_single_member_are_linearizable(member: Proc) -> None:
    recorder = Recorder()
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens: nothing is sent

    async def main() -> None:
        async with aiohttp.ClientSession() as session:

            async def client(proc: int) -> None:
                for n in range(10):
                    key = f"/map/r{n % 2}"
                    op = [read(key), write(key, f"{proc}.{n}"), cas(key, f"{proc}.{n}", "z")][n % 3]
                    await run_op(recorder, session, member.client_url, proc, op)

            await asyncio.gather(*(client(p) for p in range(4)))
            assert await run_op(recorder, session, closed, 99, write("/map/r0", "never")) is None

    asyncio.run(main())
    history = recorder.history()
    assert len(history) == 40  # the refused request left no trace
    result = check_history(history)
    assert result.ok, result.explain()
