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

Workloads that stay checkable.  Deciding linearizability is NP-complete; what makes a
history hard is many indeterminate writes that the search may place anywhere after their
call.  Valid histories check fast (3,000 operations over 5 keys, 10 clients and ~3% lost
requests: well under a second); a history with a violation needs the whole search up to
the violation, which grows with the lost writes pending before it.  So:
- read with quorum=true (etcd_v2 does): plain v2 GETs are not linearizable by design;
- after an indeterminate operation, give the client a new proc id (as above);
- spread operations over several keys and switch to fresh keys every few hundred
  operations (parts are checked separately), keep the value domain small (0-4, as
  Jepsen's etcd test does) or unique per write;
- pass `max_seconds`; an "unknown" verdict in a cluster test almost always hides a
  violation: dump the history (`recorder.dump`) and fail the test.
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
