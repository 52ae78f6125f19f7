"""The README's two opening commands stay true: CI runs the second, the first parses."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from etcdpy.cli.flags import parse

REPO = Path(__file__).resolve().parents[2]


def opening_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.DOTALL)[:2]


def test_readme_opens_with_install_and_start_then_the_test_command() -> None:
    start, test = opening_commands()
    assert start.startswith("pip install . && etcdpy ")
    assert "pip install etcdpy" not in start
    assert "pip install -e '.[test]'" in test and test.endswith("python -m pytest")
    assert "\n" not in start and "\n" not in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = REPO / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    lines = [ln for ln in ci.read_text().splitlines() if ln and not ln.startswith("#")]
    _, test = opening_commands()
    assert lines[-1] == test


def test_readme_start_command_serves_default_dir_on_127_0_0_1() -> None:
    start, _ = opening_commands()
    args = shlex.split(start.split("&& etcdpy", 1)[1])
    cfg = parse(args, {}).config
    cfg.validate()
    cfg.validate_bootstrap()
    assert cfg.member_dir == "default.etcd"
    assert cfg.listen_client_urls == ["http://127.0.0.1:2379"]
    assert cfg.advertise_client_urls == ["http://127.0.0.1:2379"]
