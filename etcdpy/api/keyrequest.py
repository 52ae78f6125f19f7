"""Turning a ``/v2/keys`` HTTP request into a v2 :class:`Request` (etcd ``parseKeyRequest``).

The checks run in etcd's order, so that a request with several faults gets the same
error as from etcd; every fault is an :class:`EtcdError` with etcd's code and cause and
index 0.
"""

from __future__ import annotations

from etcdpy.api.goform import Form, parse_bool, parse_uint64
from etcdpy.server.request import STORE_KEYS_PREFIX, Request
from etcdpy.store.errors import (
    ECODE_INDEX_NAN,
    ECODE_INVALID_FIELD,
    ECODE_PREV_VALUE_REQUIRED,
    ECODE_REFRESH_TTL_REQUIRED,
    ECODE_REFRESH_VALUE,
    ECODE_TTL_NAN,
    EtcdError,
)
from etcdpy.store.keypath import clean_path

KEYS_PREFIX = "/v2/keys"
_VALUE_ONLY = frozenset(("value",))

_NS = 1_000_000_000
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def _int64(v: int) -> int:
    """Wrap to a Go int64, as Go's arithmetic silently does."""
    v %= _U64
    return v - _U64 if v > _I64_MAX else v


def expiration_ns(ttl: int, now_ns: int) -> int:
    """``clock.Now().Add(time.Duration(ttl) * time.Second).UnixNano()`` with Go's int64
    overflow: absurd TTLs wrap, and etcd stores what results (often a time before 2000,
    which the store takes as permanent). Reproduced so such keys behave as in etcd."""
    return _int64(now_ns + _int64(_int64(ttl) * _NS))


def _first(form: Form, key: str) -> str | None:
    vals = form.get(key)
    return vals[0] if vals else None


def _uint(form: Form, key: str) -> int:
    v = _first(form, key)
    if v is None:
        return 0
    try:
        return parse_uint64(v)
    except ValueError:
        raise EtcdError(ECODE_INDEX_NAN, f'invalid value for "{key}"') from None


def _bool(form: Form, key: str, cause: str | None = None) -> bool:
    v = _first(form, key)
    if v is None:
        return False
    try:
        return parse_bool(v)
    except ValueError:
        raise EtcdError(ECODE_INVALID_FIELD, cause or f'invalid value for "{key}"') from None


def parse_key_request(method: str, url_path: str, form: Form, now_ns: int) -> tuple[Request, bool]:
    """Build the store request for ``method`` on the (decoded, cleaned) ``url_path``.

    Returns the request and etcd 3.x's ``noValueOnSuccess`` flag; raises EtcdError.
    """
    # path.Join("/1", rest): the URL path is clean already except for a trailing slash.
    p = clean_path(STORE_KEYS_PREFIX + "/" + url_path[len(KEYS_PREFIX) :])
    if not form or form.keys() <= _VALUE_ONLY:
        # The common case (a plain GET, a plain set): nothing to check.
        return Request(method=method, path=p, val=_first(form, "value") or "", time=now_ns), False

    prev_index = _uint(form, "prevIndex")
    wait_index = _uint(form, "waitIndex")
    recursive = _bool(form, "recursive")
    sort = _bool(form, "sorted")
    wait = _bool(form, "wait")
    is_dir = _bool(form, "dir")
    quorum = _bool(form, "quorum")
    stream = _bool(form, "stream")

    if wait and method != "GET":
        raise EtcdError(ECODE_INVALID_FIELD, '"wait" can only be used with GET requests')

    prev_value = _first(form, "prevValue")
    if prev_value == "":
        raise EtcdError(ECODE_PREV_VALUE_REQUIRED, '"prevValue" cannot be empty')

    no_value_on_success = _bool(form, "noValueOnSuccess")

    ttl: int | None = None
    ttl_s = _first(form, "ttl")
    if ttl_s:
        try:
            ttl = parse_uint64(ttl_s)
        except ValueError:
            raise EtcdError(ECODE_TTL_NAN, 'invalid value for "ttl"') from None

    prev_exist: bool | None = None
    if "prevExist" in form:
        prev_exist = _bool(form, "prevExist", "invalid value for prevExist")

    refresh: bool | None = None
    if "refresh" in form:
        refresh = _bool(form, "refresh", "invalid value for refresh")
        if refresh:
            if _first(form, "value"):
                raise EtcdError(ECODE_REFRESH_VALUE, "A value was provided on a refresh")
            if ttl is None:
                raise EtcdError(ECODE_REFRESH_TTL_REQUIRED, "No TTL value set")

    req = Request(
        method=method,
        path=p,
        val=_first(form, "value") or "",
        dir=is_dir,
        prev_value=prev_value or "",
        prev_index=prev_index,
        prev_exist=prev_exist,
        wait=wait,
        since=wait_index,
        recursive=recursive,
        sorted=sort,
        quorum=quorum,
        stream=stream,
        refresh=refresh,
        time=now_ns,
    )
    if ttl is not None:
        req.expiration = expiration_ns(ttl, now_ns)
    return req, no_value_on_success
