"""Running recorded operations against a v2 HTTP endpoint (etcdpy or the reference etcd).

How each answer maps to a history (see ops.py for the result conventions):

- a definite answer (200/201, or the 404/412 error that the operation can legitimately
  end with) completes the operation;
- a timeout, a dropped connection or any 5xx leaves it indeterminate: etcd may still
  commit the entry later (e.g. "Raft Internal Error" or "request timed out");
- failing to connect at all means nothing was sent: the operation leaves the history
  (aiohttp's second try of a GET/PUT/DELETE on a new connection is turned off, so a
  refused connection is the first and only attempt);
- any other answer means the workload itself is wrong and raises UnexpectedResponse.

Reads go through ``quorum=true``: etcd's default v2 GET is served from the local store and
is explicitly not linearizable.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from tests.lincheck.ops import Op, Proc
from tests.lincheck.recorder import Recorder

_KEY_NOT_FOUND = 100
_COMPARE_FAILED = 101
_NODE_EXIST = 105


class UnexpectedResponse(Exception):
    """An answer no correct member gives to this operation."""


class Indeterminate(Exception):
    """The request may or may not have taken effect."""


class NotSent(Exception):
    """The request certainly did not reach a member."""


def key_url(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/v2/keys/{quote(key.lstrip('/'))}"


async def perform(
    session: aiohttp.ClientSession,
    base_url: str,
    op: Op,
    timeout: float = 2.0,
    quorum: bool = True,
) -> Any:
    """Send one operation and return its result in the checker's conventions.

    Raises Indeterminate, NotSent or UnexpectedResponse as described in the module doc.
    `quorum=False` sends reads as plain GETs, served from the member's local store: only
    useful to show that such reads are not linearizable.
    """
    url = key_url(base_url, op.key)
    limit = aiohttp.ClientTimeout(total=timeout)
    if op.kind == "read":
        method, params, data = "GET", ({"quorum": "true"} if quorum else None), None
    elif op.kind == "write":
        method, params, data = "PUT", None, {"value": op.value}
    elif op.kind == "cas":
        method, params = "PUT", None
        if op.expected is None:
            data = {"value": op.value, "prevExist": "false"}
        else:
            data = {"value": op.value, "prevValue": op.expected}
    elif op.kind == "delete":
        method, params, data = "DELETE", None, None
    else:
        raise ValueError(f"unknown operation kind {op.kind!r}; use read/write/cas/delete")
    # aiohttp sends GET/PUT/DELETE again on a new connection when the first attempt broke
    # after the request went out (RFC 9112 9.3.1); a refused second try would then pass
    # for "never sent" although a member received the first and may have applied it.
    session._retry_connection = False
    try:
        async with session.request(
            method, url, params=params, data=data, timeout=limit
        ) as response:
            status = response.status
            body = await response.json(content_type=None) if status < 500 else None
    except aiohttp.ClientConnectorError as error:
        raise NotSent(f"{method} {url}: {error}") from None
    except (TimeoutError, aiohttp.ClientError, ValueError) as error:
        raise Indeterminate(f"{method} {url}: {type(error).__name__} {error}") from None
    if status >= 500:
        raise Indeterminate(f"{method} {url}: HTTP {status}")
    code = body.get("errorCode") if isinstance(body, dict) else None
    if op.kind == "read":
        if status == 200 and not body["node"].get("dir"):
            return body["node"].get("value")
        if code == _KEY_NOT_FOUND:
            return None
    elif op.kind == "write":
        if status in (200, 201):
            return None
    elif op.kind == "cas":
        if status in (200, 201):
            return True
        if code in ((_NODE_EXIST,) if op.expected is None else (_COMPARE_FAILED, _KEY_NOT_FOUND)):
            return False
    elif status == 200:
        return True
    elif code == _KEY_NOT_FOUND:
        return False
    raise UnexpectedResponse(f"{method} {url} answered HTTP {status}: {body!r}")


async def run_op(
    recorder: Recorder,
    session: aiohttp.ClientSession,
    base_url: str,
    proc: Proc,
    op: Op,
    timeout: float = 2.0,
    quorum: bool = True,
) -> Any:
    """perform() one operation and record it, returning its result.

    Returns None when the request was never sent (it leaves the history); re-raises
    Indeterminate after recording the operation as indeterminate, so that the caller
    can do what Jepsen does: give up that logical process and go on under a new id.
    """
    handle = recorder.invoke(proc, op)
    try:
        result = await perform(session, base_url, op, timeout, quorum)
    except NotSent:
        recorder.fail(handle)
        return None
    except BaseException:  # Indeterminate, cancellation, or a workload bug: all unknown
        recorder.fail_unknown(handle)
        raise
    recorder.complete(handle, result)
    return result
