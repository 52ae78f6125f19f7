"""The history recorder, driven by asyncio clients of an in-memory register service."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from tests.lincheck import Recorder, cas, check_history, load_history, read, write
from tests.lincheck.ops import Op


class Register:
    """A toy key-value service: each request takes effect at one random scheduling point.

    With `stale=True` it serves reads from a copy refreshed only now and then, like a
    follower answering without a quorum.
    """

    def __init__(self, rnd: random.Random, stale: bool = False) -> None:
        self.rnd = rnd
        self.data: dict[str, str] = {}
        self.cache: dict[str, str] = {}
        self.stale = stale
        self.writes = 0

    async def _hop(self) -> None:
        for _ in range(self.rnd.randrange(4)):
            await asyncio.sleep(0)  # yield to other clients, not a wait for time

    async def run(self, op: Op) -> object:
        await self._hop()
        try:
            if op.kind == "read":
                source = self.cache if self.stale else self.data
                return source.get(op.key)
            if op.kind == "write":
                assert op.value is not None
                self.data[op.key] = op.value
                self.writes += 1
                if self.writes % 7 == 0:
                    self.cache = dict(self.data)
                return None
            if op.kind == "cas":
                if self.data.get(op.key) == op.expected:
                    assert op.value is not None
                    self.data[op.key] = op.value
                    return True
                return False
            raise AssertionError(op)
        finally:
            await self._hop()


async def drive(service: Register, recorder: Recorder, clients: int, per_client: int) -> None:
    async def client(proc: int) -> None:
        rnd = random.Random(proc)
        for n in range(per_client):
            key = rnd.choice(["a", "b"])
            roll = rnd.random()
            if roll < 0.5:
                op = read(key)
            elif roll < 0.8:
                op = write(key, f"{proc}-{n}")
            else:
                op = cas(key, service.data.get(key), f"{proc}-{n}")
            async with recorder.call(proc, op) as call:
                call.result = await service.run(op)

    await asyncio.gather(*(client(p) for p in range(clients)))


def test_recorded_history_of_a_correct_service_is_linearizable() -> None:
    recorder = Recorder()
    asyncio.run(drive(Register(random.Random(1)), recorder, clients=8, per_client=50))
    history = recorder.history()
    assert len(history) == 400
    assert all(o.complete is not None and o.complete >= o.invoke for o in history)
    result = check_history(history)
    assert result.ok, result.explain()


def test_recorded_history_of_a_stale_reading_service_is_not() -> None:
    recorder = Recorder()
    asyncio.run(drive(Register(random.Random(2), stale=True), recorder, clients=8, per_client=50))
    result = check_history(recorder.history())
    assert result.verdict == "illegal"
    print(result.explain())


def test_outcomes_unknown_failed_and_pending() -> None:
    recorder = Recorder()
    done = recorder.invoke(1, write("x", "1"))
    recorder.complete(done)
    lost = recorder.invoke(2, write("x", "2"))
    recorder.fail_unknown(lost)
    refused = recorder.invoke(3, write("x", "3"))
    recorder.fail(refused)
    recorder.invoke(4, read("x"))  # still open when the history is taken
    history = recorder.history()
    assert [o.proc for o in history] == [1, 2, 4]
    assert [o.indeterminate for o in history] == [False, True, True]
    assert len(recorder) == 3
    with pytest.raises(ValueError, match="already completed"):
        recorder.complete(done)
    with pytest.raises(ValueError, match="already completed"):
        recorder.fail_unknown(refused)


def test_call_marks_an_exception_as_indeterminate() -> None:
    recorder = Recorder()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with recorder.call(1, write("x", "1")):
                raise TimeoutError
        async with recorder.call(1, read("x")) as call:
            call.result = "1"

    asyncio.run(main())
    lost, seen = recorder.history()
    assert lost.indeterminate
    assert (seen.result, seen.indeterminate) == ("1", False)
    assert check_history(recorder.history()).ok


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    recorder = Recorder()
    for i in range(3):
        handle = recorder.invoke(i, cas("k", None if i == 0 else str(i - 1), str(i)))
        recorder.complete(handle, True)
    recorder.fail_unknown(recorder.invoke("p9", write("k", "z")))
    path = tmp_path / "history.jsonl"
    recorder.dump(path)
    assert load_history(path) == recorder.history()


def test_load_rejects_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"proc": 1}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1 is not a history record"):
        load_history(path)
