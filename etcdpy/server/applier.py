"""Applying one committed v2 request to the store (etcd ``applierV2store``).

This is the deterministic step every member runs for every committed entry, in log order:
it reads no clock (the request carries its proposer's time) and touches nothing but the
store. The dispatch mirrors etcd 3.4's ``applyV2Request`` exactly, including which PUTs
become update, create or compareAndSwap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdpy.server.errors import ERR_UNKNOWN_METHOD, ServerError
from etcdpy.server.request import QGET, SYNC, Request

if TYPE_CHECKING:
    from etcdpy.store import Event, Store

# etcd treats an expiry before 2000-01-01 as "permanent" (store minExpireTime); huge TTLs
# overflow Go's int64 nanoseconds into such values, and etcd keeps those keys for ever.
MIN_EXPIRE_NS = 946_684_800 * 1_000_000_000


def expire_ns(req: Request) -> int:
    """The request's expiry as the store takes it: 0 for none or for a pre-2000 time."""
    e = req.expiration
    return e if e >= MIN_EXPIRE_NS else 0


def apply_request(store: Store, req: Request) -> Event | None:
    """Apply ``req`` to ``store`` and return its event (None for SYNC, which may expire
    any number of keys). Store refusals raise ``EtcdError``; an unknown method raises
    :class:`ServerError`."""
    m = req.method
    now = req.time
    if m == "PUT":
        exp = expire_ns(req)
        refresh = bool(req.refresh)
        if req.prev_exist is not None:
            if req.prev_exist:
                if req.prev_index == 0 and req.prev_value == "":
                    return store.update(req.path, req.val, exp, now, refresh)
                return store.compare_and_swap(
                    req.path, req.prev_value, req.prev_index, req.val, exp, now, refresh
                )
            return store.create(req.path, req.dir, req.val, False, exp, now)
        if req.prev_index > 0 or req.prev_value != "":
            return store.compare_and_swap(
                req.path, req.prev_value, req.prev_index, req.val, exp, now, refresh
            )
        return store.set(req.path, req.dir, req.val, exp, now, refresh)
    if m == "POST":
        return store.create(req.path, req.dir, req.val, True, expire_ns(req), now)
    if m == "DELETE":
        if req.prev_index > 0 or req.prev_value != "":
            return store.compare_and_delete(req.path, req.prev_value, req.prev_index, now)
        return store.delete(req.path, req.dir, req.recursive, now)
    if m == QGET:
        return store.get(req.path, req.recursive, req.sorted, now)
    if m == SYNC:
        store.delete_expired_keys(now)
        return None
    raise ServerError(ERR_UNKNOWN_METHOD)
