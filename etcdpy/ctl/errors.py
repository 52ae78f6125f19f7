"""Exit codes and the errors etcdctl's v2 client produces, with its exact wording."""

from __future__ import annotations

from typing import Any

from etcdpy.ctl.response import DecodeError, as_int, as_str, as_uint

# etcdctl/ctlv2/command/error.go
EXIT_SUCCESS = 0
EXIT_BAD_ARGS = 1
EXIT_BAD_CONNECTION = 2
EXIT_BAD_AUTH = 3
EXIT_SERVER_ERROR = 4
EXIT_CLUSTER_NOT_HEALTHY = 5

CLUSTER_UNAVAILABLE = "client: etcd cluster is unavailable or misconfigured"
NO_ENDPOINTS = "client: no endpoints available"
INVALID_JSON = (
    "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint"
)
EMPTY_BODY = "client: response body is empty"
DEADLINE_EXCEEDED = "context deadline exceeded"


class ClientError(Exception):
    """Any failure of a request; str() is the text etcdctl would print for it."""


class ConnectionFailure(ClientError):
    """Dialing or reading from one endpoint failed (Go's net.OpError / timeouts).

    etcdctl treats a sync that failed only with these as a connection problem (exit 2).
    """


class DeadlineExceeded(ClientError):
    """The command's --total-timeout ran out; no other endpoint is tried."""

    def __init__(self) -> None:
        super().__init__(DEADLINE_EXCEEDED)


class ClusterError(ClientError):
    """Every endpoint failed; keeps each endpoint's error like client.ClusterError."""

    def __init__(self, errors: list[ClientError]) -> None:
        self.errors = errors
        super().__init__(self._text())

    def _text(self) -> str:
        return CLUSTER_UNAVAILABLE + "".join(
            f"; error #{i}: {err}\n" for i, err in enumerate(self.errors)
        )

    def detail(self) -> str:
        return "".join(f"error #{i}: {err}\n" for i, err in enumerate(self.errors))

    def only_connection_errors(self) -> bool:
        return all(isinstance(err, ConnectionFailure) for err in self.errors)


class EtcdClientError(ClientError):
    """A v2 error body (client.Error): ``100: Key not found (/foo) [12]``."""

    def __init__(self, code: int, message: str, cause: str, index: int) -> None:
        self.code = code
        self.message = message
        self.cause = cause
        self.index = index
        super().__init__(f"{code}: {message} ({cause}) [{index}]")

    @classmethod
    def from_json(cls, data: Any) -> EtcdClientError:
        if not isinstance(data, dict):
            raise DecodeError("object expected")
        # encoding/json matches field names case-insensitively when decoding errors.
        lowered = {str(k).lower(): v for k, v in data.items()}
        return cls(
            as_int(lowered.get("errorcode")),
            as_str(lowered.get("message")),
            as_str(lowered.get("cause")),
            as_uint(lowered.get("index")),
        )


class CtlExit(Exception):
    """Stop the command: write ``stderr`` as is, then exit with ``code``."""

    def __init__(self, code: int, stderr: str = "") -> None:
        super().__init__(stderr)
        self.code = code
        self.stderr = stderr


def handle_error(err: BaseException, code: int) -> CtlExit:
    """etcdctl's handleError: ``Error:  <err>`` and, for a cluster error, its detail."""
    text = f"Error:  {err}\n"
    if isinstance(err, ClusterError):
        text += err.detail() + "\n"
    return CtlExit(code, text)
