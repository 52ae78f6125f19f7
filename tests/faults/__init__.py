"""Fault injection for cluster tests (documentation to follow)."""

from tests.faults.proxy import FaultNet, FaultProxy, LinkStats, Mode
from tests.faults.senders import SenderRegistry
from tests.faults.signals import ProcessGone, kill_hard, pause, paused, process_state, resume

__all__ = [
    "FaultNet",
    "FaultProxy",
    "LinkStats",
    "Mode",
    "ProcessGone",
    "SenderRegistry",
    "kill_hard",
    "pause",
    "paused",
    "process_state",
    "resume",
]
