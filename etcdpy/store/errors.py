"""etcd's v2 error codes, messages and HTTP statuses (etcd ``error/error.go``).

An :class:`EtcdError` is what a v2 client sees as ``{"errorCode", "message", "cause",
"index"}``. The store raises the 1xx and 4xx ones, the API's request parser the 2xx ones,
the server the 3xx ones.
"""

from __future__ import annotations

from typing import Any

ECODE_KEY_NOT_FOUND = 100
ECODE_TEST_FAILED = 101
ECODE_NOT_FILE = 102
ECODE_NO_MORE_PEER = 103
ECODE_NOT_DIR = 104
ECODE_NODE_EXIST = 105
ECODE_KEY_IS_PRESERVED = 106
ECODE_ROOT_RONLY = 107
ECODE_DIR_NOT_EMPTY = 108
ECODE_EXISTING_PEER_ADDR = 109
ECODE_UNAUTHORIZED = 110

ECODE_VALUE_REQUIRED = 200
ECODE_PREV_VALUE_REQUIRED = 201
ECODE_TTL_NAN = 202
ECODE_INDEX_NAN = 203
ECODE_VALUE_OR_TTL_REQUIRED = 204
ECODE_TIMEOUT_NAN = 205
ECODE_NAME_REQUIRED = 206
ECODE_INDEX_OR_VALUE_REQUIRED = 207
ECODE_INDEX_VALUE_MUTEX = 208
ECODE_INVALID_FIELD = 209
ECODE_INVALID_FORM = 210
ECODE_REFRESH_VALUE = 211
ECODE_REFRESH_TTL_REQUIRED = 212

ECODE_RAFT_INTERNAL = 300
ECODE_LEADER_ELECT = 301

ECODE_WATCHER_CLEARED = 400
ECODE_EVENT_INDEX_CLEARED = 401
ECODE_STANDBY_INTERNAL = 402
ECODE_INVALID_ACTIVE_SIZE = 403
ECODE_INVALID_REMOVE_DELAY = 404

ECODE_CLIENT_INTERNAL = 500

MESSAGES: dict[int, str] = {
    ECODE_KEY_NOT_FOUND: "Key not found",
    ECODE_TEST_FAILED: "Compare failed",
    ECODE_NOT_FILE: "Not a file",
    ECODE_NO_MORE_PEER: "Reached the max number of peers in the cluster",
    ECODE_NOT_DIR: "Not a directory",
    ECODE_NODE_EXIST: "Key already exists",
    ECODE_KEY_IS_PRESERVED: "The prefix of given key is a keyword in etcd",
    ECODE_ROOT_RONLY: "Root is read only",
    ECODE_DIR_NOT_EMPTY: "Directory not empty",
    ECODE_EXISTING_PEER_ADDR: "Peer address has existed",
    ECODE_UNAUTHORIZED: "The request requires user authentication",
    ECODE_VALUE_REQUIRED: "Value is Required in POST form",
    ECODE_PREV_VALUE_REQUIRED: "PrevValue is Required in POST form",
    ECODE_TTL_NAN: "The given TTL in POST form is not a number",
    ECODE_INDEX_NAN: "The given index in POST form is not a number",
    ECODE_VALUE_OR_TTL_REQUIRED: "Value or TTL is required in POST form",
    ECODE_TIMEOUT_NAN: "The given timeout in POST form is not a number",
    ECODE_NAME_REQUIRED: "Name is required in POST form",
    ECODE_INDEX_OR_VALUE_REQUIRED: "Index or value is required",
    ECODE_INDEX_VALUE_MUTEX: "Index and value cannot both be specified",
    ECODE_INVALID_FIELD: "Invalid field",
    ECODE_INVALID_FORM: "Invalid POST form",
    ECODE_REFRESH_VALUE: "Value provided on refresh",
    ECODE_REFRESH_TTL_REQUIRED: "A TTL must be provided on refresh",
    ECODE_RAFT_INTERNAL: "Raft Internal Error",
    ECODE_LEADER_ELECT: "During Leader Election",
    ECODE_WATCHER_CLEARED: "watcher is cleared due to etcd recovery",
    ECODE_EVENT_INDEX_CLEARED: "The event in requested index is outdated and cleared",
    ECODE_STANDBY_INTERNAL: "Standby Internal Error",
    ECODE_INVALID_ACTIVE_SIZE: "Invalid active size",
    ECODE_INVALID_REMOVE_DELAY: "Standby remove delay",
    ECODE_CLIENT_INTERNAL: "Client Internal Error",
}

# Only these codes map to something other than 400 Bad Request.
_HTTP_STATUS: dict[int, int] = {
    ECODE_KEY_NOT_FOUND: 404,
    ECODE_NOT_FILE: 403,
    ECODE_DIR_NOT_EMPTY: 403,
    ECODE_UNAUTHORIZED: 401,
    ECODE_TEST_FAILED: 412,
    ECODE_NODE_EXIST: 412,
    ECODE_RAFT_INTERNAL: 500,
    ECODE_LEADER_ELECT: 500,
}


class EtcdError(Exception):
    """A v2 API error: code, message (from the code), cause and the store index."""

    __slots__ = ("cause", "code", "index")

    def __init__(self, code: int, cause: str = "", index: int = 0) -> None:
        super().__init__(code, cause, index)
        self.code = code
        self.cause = cause
        self.index = index

    @property
    def message(self) -> str:
        return MESSAGES.get(self.code, "")

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.cause:
            d["cause"] = self.cause
        d["index"] = self.index
        return d

    def __str__(self) -> str:
        return f"{self.code}: {self.message} ({self.cause}) [{self.index}]"
