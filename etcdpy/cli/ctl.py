"""``etcdpyctl``: the etcdctl v2 compatible control tool (entry point).

Kept tiny so that ``etcdpyctl --help`` and friends import only what they need.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from etcdpy.ctl.app import run

    sys.exit(run(argv))


if __name__ == "__main__":
    main()
