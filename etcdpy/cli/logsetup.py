"""The member's log format: one line per event, as etcd 2.x's capnslog writes it.

``2026-11-26 01:30:00.123 I | n1 | etcdpy.server: applied snapshot at index 10000``

Every module logs through ``logging.getLogger(__name__)``; the daemon calls
:func:`setup_logging` once, before anything else logs. Tests that start a member in
process may call it too (it replaces its own handler rather than adding a second one).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

# capnslog's level letters; NOTICE has no Python level, so INFO carries it.
_LEVEL_LETTERS = {
    logging.CRITICAL: "C",
    logging.ERROR: "E",
    logging.WARNING: "W",
    logging.INFO: "I",
    logging.DEBUG: "D",
}


class LineFormatter(logging.Formatter):
    """Formats a record as one line: time, level letter, member name, logger, message."""

    def __init__(self, member: str) -> None:
        super().__init__()
        self.member = member

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        letter = _LEVEL_LETTERS.get(record.levelno, record.levelname[:1])
        line = f"{self.formatTime(record)} {letter} | {self.member} | {record.name}: {text}"
        # One event, one line: a log reader splits on newlines, so a traceback or a
        # multi-line value stays readable but never spans lines.
        return line.replace("\r", "\\r").replace("\n", "\\n")


_HANDLER_MARK = "_etcdpy_handler"


def setup_logging(member: str, debug: bool = False, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr by default) in the member's format.

    ``debug`` lowers the level from INFO to DEBUG (etcd's ``--debug``).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LineFormatter(member))
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # aiohttp logs every request at INFO; a member serving thousands a second would bury
    # its own events, so the access log speaks only when debugging.
    logging.getLogger("aiohttp.access").setLevel(logging.DEBUG if debug else logging.WARNING)
