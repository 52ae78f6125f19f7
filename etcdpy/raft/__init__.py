"""The Raft consensus core, sans I/O (see ``rawnode`` for the server's contract).

Public names: ``RawNode``, ``Ready``, ``Peer``, ``Config``, ``MemoryStorage``,
``SoftState``, ``Role``, ``ReadState``, ``Status``, ``ProposalDropped`` and the records
of ``etcdpy.raft.types``.
"""

from etcdpy.raft.config import Config
from etcdpy.raft.errors import (
    CompactedError,
    ConfigError,
    ProposalDropped,
    RaftError,
    RaftInvariantError,
    SnapshotOutOfDateError,
    UnavailableError,
)
from etcdpy.raft.rawnode import Peer, RawNode, Ready
from etcdpy.raft.state import PeerStatus, ProgressState, ReadState, Role, SoftState, Status
from etcdpy.raft.storage import MemoryStorage

__all__ = [
    "CompactedError",
    "Config",
    "ConfigError",
    "MemoryStorage",
    "Peer",
    "PeerStatus",
    "ProgressState",
    "ProposalDropped",
    "RaftError",
    "RaftInvariantError",
    "RawNode",
    "ReadState",
    "Ready",
    "Role",
    "SnapshotOutOfDateError",
    "SoftState",
    "Status",
    "UnavailableError",
]
