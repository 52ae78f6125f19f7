"""A linearizability checker for histories of v2 key-value operations.

Typical use in a cluster test::

    from tests.lincheck import Recorder, assert_linearizable, read, write, cas, delete
    from tests.lincheck.etcd_v2 import Indeterminate, run_op

    recorder = Recorder()
    # in each client task (proc = a logical client id; take a fresh one after an
    # indeterminate operation, as Jepsen does, because the old request may still land):
    try:
        await run_op(recorder, session, member_client_url, proc, cas("/k1", "3", "4"))
    except Indeterminate:
        proc = next_proc_id()
    ...
    result = check_history(recorder.history())
    if not result.ok:
        recorder.dump(tmp_path / "history.jsonl")
    assert result.ok, result.explain()

Hand-built histories use `Operation(proc, op, invoke, complete, result)` with any integer
clock; `complete=None` marks an indeterminate operation.  The model is the v2 key space
seen as one register per key (`KVModel`); any object with the `Model` protocol's methods
can replace it.
"""

from tests.lincheck.checker import (
    CheckResult,
    PartResult,
    Verdict,
    assert_linearizable,
    check_history,
    check_part,
)
from tests.lincheck.model import UNKNOWN, KVModel, Model
from tests.lincheck.ops import Op, Operation, cas, delete, read, write
from tests.lincheck.recorder import Call, Recorder, dump_history, load_history

__all__ = [
    "UNKNOWN",
    "Call",
    "CheckResult",
    "KVModel",
    "Model",
    "Op",
    "Operation",
    "PartResult",
    "Recorder",
    "Verdict",
    "assert_linearizable",
    "cas",
    "check_history",
    "check_part",
    "delete",
    "dump_history",
    "load_history",
    "read",
    "write",
]
