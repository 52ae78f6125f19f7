"""The documentation stays true: the flag reference matches the flag table, the API
examples answer as shown when run against a member, the operator's guide names only
commands and flags that exist, and the README links the pages."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from etcdpy.cli import flags
from tests.ops.kit import ctl, start_member
from tests.procs import REPO, ProcGroup

DOCS = REPO / "docs"
DOC_CLIENT, DOC_PEER = "127.0.0.1:2379", "127.0.0.1:2380"
# Strings that differ from run to run; in-order key names carry an index.
VOLATILE = {"expiration", "id", "leader", "startTime", "uptime"}
IN_ORDER = re.compile(r"/\d{20}$")


def test_the_flag_reference_is_generated_from_the_flag_table() -> None:
    r = subprocess.run(
        ["python", str(DOCS / "gen_flags.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    page = (DOCS / "flags.md").read_text()
    for f in flags.FLAGS:
        assert f"| `--{f.name}`" in page and f"`{f.env_name}`" in page, f.name


def examples(page: str) -> list[tuple[str, Any]]:
    """Each ```sh block's curl command with the JSON of the ```json block after it."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", page, re.S)
    out: list[tuple[str, Any]] = []
    for i, (lang, body) in enumerate(blocks):
        if lang != "sh" or not body.startswith("curl "):
            continue
        nxt = blocks[i + 1] if i + 1 < len(blocks) else ("", "")
        out.append((body.strip(), json.loads(nxt[1]) if nxt[0] == "json" else None))
    return out


def same_shape(doc: Any, got: Any, where: str = "") -> None:
    """Equal, except numbers (indexes, TTLs, counters) and volatile strings, which only
    need the same type."""
    if isinstance(doc, dict):
        assert isinstance(got, dict) and set(doc) == set(got), (where, doc, got)
        for k in doc:
            if k in VOLATILE:
                assert type(doc[k]) is type(got[k]), (where + "." + k, got[k])
            else:
                same_shape(doc[k], got[k], f"{where}.{k}")
    elif isinstance(doc, list):
        assert isinstance(got, list) and len(doc) == len(got), (where, doc, got)
        for i, (d, g) in enumerate(zip(doc, got, strict=True)):
            same_shape(d, g, f"{where}[{i}]")
    elif isinstance(doc, bool) or not isinstance(doc, int):
        if isinstance(doc, str) and IN_ORDER.search(doc):
            assert isinstance(got, str) and IN_ORDER.sub("", doc) == IN_ORDER.sub("", got)
        else:
            assert doc == got, (where, doc, got)
    else:
        assert isinstance(got, int) and not isinstance(got, bool), (where, got)


def test_the_api_examples_answer_as_documented(tmp_path: Path, group: ProcGroup) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    cases = examples((DOCS / "api.md").read_text())
    assert len(cases) >= 20
    m = start_member(group, "default", tmp_path / "default.etcd")
    client, peer = m.client_url.removeprefix("http://"), m.peer_url.removeprefix("http://")
    for command, doc in cases:
        argv = [a.replace(DOC_CLIENT, client) for a in shlex.split(command)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (command, r.stderr)
        if doc is None:
            continue
        text = json.dumps(doc).replace(DOC_CLIENT, client).replace(DOC_PEER, peer)
        same_shape(json.loads(text), json.loads(r.stdout), command)


def test_the_operators_guide_names_real_commands_and_flags() -> None:
    page = (DOCS / "operations.md").read_text()
    found = re.findall(
        r"etcdpyctl (?:--endpoints \S+ )?([a-z][a-z-]*)(?: (list|add|remove|update)\b)?", page
    )
    commands = {(c, sub) for c, sub in found}
    assert {("backup", ""), ("member", "add"), ("member", "remove"), ("cluster-health", "")} <= (
        commands
    )
    for c, sub in sorted(commands):
        r = ctl(*[w for w in (c, sub) if w], "--help")
        assert r.rc == 0, (c, sub, r)
    known = {f.name for f in flags.FLAGS}
    used: set[str] = set()
    continued = False  # inside an etcdpy command that goes on after a backslash
    for line in page.splitlines():
        words = line.split()
        ours = continued or (bool(words) and words[0] == "etcdpy")
        if ours:
            used |= set(re.findall(r"(?:^|\s)--([a-z][a-z-]+)", line))
        continued = ours and line.endswith("\\")
    assert used and used <= known, used - known


def test_the_readme_keeps_its_first_commands_and_links_the_docs() -> None:
    readme = (REPO / "README.md").read_text()
    first_two = re.findall(r"```sh\n(.*?)```", readme, re.S)[:2]
    assert first_two[0].startswith("pip install . && etcdpy --listen-client-urls")
    assert "python -m pytest" in first_two[1]
    for page in ("docs/operations.md", "docs/flags.md", "docs/api.md"):
        assert f"]({page})" in readme, page
