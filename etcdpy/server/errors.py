"""Errors the server raises besides the store's :class:`EtcdError`."""

from __future__ import annotations


class ServerError(Exception):
    """A request the server could not carry out (stopped, timed out, unknown method).

    The v2 API answers it as error 300 "Raft Internal Error", HTTP 500, with ``str()``
    as the cause, as etcd does for every non-store error of ``EtcdServer.Do``.
    """


# etcd's texts, which clients see as causes.
ERR_STOPPED = "etcdserver: server stopped"
ERR_UNKNOWN_METHOD = "etcdserver: unknown method"
ERR_TIMEOUT = "etcdserver: request timed out"
ERR_TIMEOUT_LEADER_FAIL = "etcdserver: request timed out, possibly due to previous leader failure"
ERR_NOT_ENOUGH_STARTED = "etcdserver: re-configuration failed due to not enough started members"
