"""setup_logging: one line per event with time, level letter and member name."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from etcdpy.cli.logsetup import setup_logging

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (?P<level>[CEWID]) \| (?P<member>[^|]+) \| "
    r"(?P<logger>[\w.]+): (?P<message>.*)$"
)


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logging")
def test_one_line_per_event_with_time_level_and_member() -> None:
    out = io.StringIO()
    setup_logging("n1", stream=out)
    log = logging.getLogger("etcdpy.server")
    log.info("started at %s", "http://127.0.0.1:2379")
    log.warning("slow fsync")
    log.debug("hidden without --debug")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        log.error("apply failed", exc_info=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m["level"], m["member"], m["logger"]) for m in parsed if m] == [
        ("I", "n1", "etcdpy.server"),
        ("W", "n1", "etcdpy.server"),
        ("E", "n1", "etcdpy.server"),
    ]
    assert parsed[0] and parsed[0]["message"] == "started at http://127.0.0.1:2379"
    # The traceback is kept, folded into the event's single line.
    assert "Traceback" in lines[2] and "RuntimeError: boom\\nsecond line" in lines[2]


@pytest.mark.usefixtures("restore_root_logging")
def test_debug_level_and_no_duplicate_handlers() -> None:
    out = io.StringIO()
    setup_logging("a", stream=io.StringIO())
    setup_logging("b", debug=True, stream=out)
    logging.getLogger("etcdpy.raft").debug("tick")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    match = LINE.match(lines[0])
    assert match and (match["level"], match["member"], match["message"]) == ("D", "b", "tick")
