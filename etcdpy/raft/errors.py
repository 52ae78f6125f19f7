"""Errors raised by the Raft core.

Only ``ProposalDropped`` and ``ConfigError`` are meant to reach the server in normal
operation; the storage errors are part of the ``MemoryStorage`` contract (the log
reacts to them, e.g. by sending a snapshot instead of entries) and
``RaftInvariantError`` means a bug or a corrupted persisted state.
"""

from __future__ import annotations


class RaftError(Exception):
    """Base class of every error of the Raft core."""


class ProposalDropped(RaftError):
    """A proposal (or read-index request) could not be accepted and was not queued.

    Raised when there is no known leader, when a leadership transfer is in progress,
    when this member was removed from the cluster, or when a configuration change is
    already pending. The server maps it to a retryable error for the client.
    """


class ConfigError(RaftError, ValueError):
    """The Raft configuration is invalid; the message says which field and why."""


class CompactedError(RaftError):
    """The requested index is older than the first index kept in the storage."""


class UnavailableError(RaftError):
    """The requested index is past the last index of the storage."""


class SnapshotOutOfDateError(RaftError):
    """A snapshot older than (or as old as) the current one was offered."""


class SnapshotTemporarilyUnavailableError(RaftError):
    """The storage cannot produce a snapshot right now; the leader retries later."""


class RaftInvariantError(RaftError):
    """An internal invariant does not hold: a bug, or persisted state that is corrupt."""
