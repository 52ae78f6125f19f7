"""Regenerate the flag table of docs/flags.md from etcdpy's flag table.

    python docs/gen_flags.py          # rewrite the table between the markers
    python docs/gen_flags.py --check  # exit 1 if docs/flags.md is out of date

tests/ops/test_docs.py runs the check, so a flag added to etcdpy/cli/flags.py without
regenerating this page fails the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from etcdpy.cli import flags  # noqa: E402
from etcdpy.server.config import Config  # noqa: E402

PAGE = HERE / "flags.md"
BEGIN = "<!-- BEGIN GENERATED: python docs/gen_flags.py -->"
END = "<!-- END GENERATED -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table() -> str:
    """One table per section of ``etcdpy --help``: flag, variable, default, meaning."""
    defaults = Config()
    out: list[str] = []
    section = ""
    for f in flags.FLAGS:
        if f.section != section:
            section = f.section
            out += ["", f"### {section}", "", "| flag | environment | default | meaning |"]
            out.append("|---|---|---|---|")
        default = flags._shown_default(f, defaults)
        note = ""
        if f.name in flags.NOT_YET_SUPPORTED:
            note = f" Refused for now: {flags.NOT_YET_SUPPORTED[f.name]}."
        kind = " (boolean)" if f.is_bool else ""
        out.append(
            f"| `--{f.name}`{kind} | `{f.env_name}` | `{_cell(default) or '(empty)'}` "
            f"| {_cell(f.help)}{note} |"
        )
    return "\n".join(out).lstrip("\n") + "\n"


def render(page: str) -> str:
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def main(argv: list[str]) -> int:
    page = PAGE.read_text()
    new = render(page)
    if "--check" in argv:
        if new != page:
            print(f"{PAGE} is out of date: run python docs/gen_flags.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
