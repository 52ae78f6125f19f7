"""Every key command in every -o mode, byte for byte against the reference etcdctl."""

from __future__ import annotations

import pytest

from tests.ctl.ctl_harness import compare, step

MODES = ["simple", "extended", "json"]


@pytest.mark.parametrize("mode", MODES)
def test_writes_and_reads(endpoint: str, mode: str) -> None:
    o = ["-o", mode]
    compare(
        endpoint,
        [
            step(*o, "set", "{p}/a", "1"),
            step(*o, "set", "{p}/a", "2"),
            step(*o, "get", "{p}/a"),
            step(*o, "get", "--quorum", "{p}/a"),
            step(*o, "set", "--ttl", "1000", "{p}/t", "v"),
            step(*o, "get", "{p}/t"),
            step(*o, "update", "{p}/a", "3"),
            step(*o, "update", "--ttl", "900", "{p}/a", "4"),
            step(*o, "update", "{p}/missing", "x"),
            step(*o, "mk", "{p}/m", "new"),
            step(*o, "mk", "{p}/m", "again"),
            step(*o, "mk", "--in-order", "{p}/queue", "first"),
            step(*o, "mk", "--in-order", "--ttl", "500", "{p}/queue", "second"),
            step(*o, "set", "{p}/stdin", stdin=b"from stdin\n"),
            step(*o, "get", "{p}/stdin"),
            step(*o, "get", "{p}/nope"),
            step(*o, "get", "{p}"),
            step(*o, "get"),
            step(*o, "set"),
            step(*o, "set", "{p}/novalue"),
        ],
        tag=f"rw-{mode}",
    )


@pytest.mark.parametrize("mode", MODES)
def test_compare_and_swap_and_delete(endpoint: str, mode: str) -> None:
    o = ["-o", mode]
    compare(
        endpoint,
        [
            step(*o, "set", "{p}/c", "one"),
            step(*o, "set", "--swap-with-value", "wrong", "{p}/c", "two"),
            step(*o, "set", "--swap-with-value", "one", "{p}/c", "two"),
            step(*o, "set", "--swap-with-index", "1", "{p}/c", "three"),
            step(*o, "rm", "--with-value", "wrong", "{p}/c"),
            step(*o, "rm", "--with-index", "1", "{p}/c"),
            step(*o, "rm", "--with-value", "two", "{p}/c"),
            step(*o, "set", "{p}/d", "x"),
            step(*o, "rm", "{p}/d"),
            step(*o, "rm", "{p}/d"),
        ],
        tag=f"cas-{mode}",
    )


@pytest.mark.parametrize("mode", MODES)
def test_directories(endpoint: str, mode: str) -> None:
    o = ["-o", mode]
    compare(
        endpoint,
        [
            step(*o, "mkdir", "{p}/dir"),
            step(*o, "mkdir", "{p}/dir"),
            step(*o, "setdir", "{p}/dir"),
            step(*o, "setdir", "{p}/dir2"),
            step(*o, "updatedir", "--ttl", "1000", "{p}/dir"),
            step(*o, "updatedir", "{p}/nodir"),
            step(*o, "set", "{p}/dir/k", "v"),
            step(*o, "rmdir", "{p}/dir"),
            step(*o, "rm", "{p}/dir"),
            step(*o, "rm", "--dir", "{p}/dir2"),
            step(*o, "rm", "-r", "{p}/dir"),
            step(*o, "rmdir", "{p}/gone"),
            step(*o, "mkdir", "--ttl", "1000", "{p}/tdir"),
        ],
        tag=f"dir-{mode}",
    )


@pytest.mark.parametrize("mode", MODES)
def test_ls(endpoint: str, mode: str) -> None:
    o = ["-o", mode]
    setup = [
        step("set", "{p}/b/x", "1"),
        step("set", "{p}/a", "2"),
        step("mkdir", "{p}/c"),
        step("set", "{p}/b/y/z", "3"),
        step("set", "{p}/_hidden", "4"),
    ]
    simple = mode == "simple"
    compare(
        endpoint,
        [
            *setup,
            step(*o, "ls", "--sort", "{p}"),
            step(*o, "ls", "-r", "--sort", "{p}"),
            step(*o, "ls", "-r", "-p", "--sort", "{p}"),
            step(*o, "ls", "--sort", "-p", "{p}/b"),
            step(*o, "ls", "{p}/a"),
            step(*o, "ls", "-q", "{p}/a"),
            step(*o, "ls", "{p}/nope"),
            # Unsorted listings come in the server's map order: compare as sets.
            *([step(*o, "ls", "{p}", unordered=True)] if simple else []),
        ],
        tag=f"ls-{mode}",
    )


def test_json_escaping_and_unicode(endpoint: str) -> None:
    """Go's encoder escapes <, >, &, U+2028 and control bytes its own way."""
    tricky = 'a<b>&c\u2028d\u2029e"f\\g\x01h\x08i\x0cj\tk\nl é 漢 🙂'
    compare(
        endpoint,
        [
            step("-o", "json", "set", "{p}/u", tricky),
            step("-o", "json", "get", "{p}/u"),
            step("-o", "extended", "get", "{p}/u"),
            step("get", "{p}/u"),
            step("set", "{p}/sp ace/q?x#y%z", "v"),
            step("-o", "json", "get", "{p}/sp ace/q?x#y%z"),
        ],
        tag="esc",
    )


def test_unsupported_output_format(endpoint: str) -> None:
    compare(
        endpoint,
        [
            step("-o", "yaml", "set", "{p}/k", "v"),
            step("-o", "yaml", "get", "{p}/k"),
            step("-o", "yaml", "mkdir", "{p}/d"),
            step("-o", "yaml", "ls", "{p}"),
            step("-o", "yaml", "rm", "{p}/k"),
        ],
        tag="fmt",
    )


def test_flag_spellings(endpoint: str) -> None:
    """Go flags: one or two dashes, ``=value``, flags after the key, values like flags."""
    compare(
        endpoint,
        [
            step("set", "-ttl", "1000", "{p}/a", "1"),
            step("-o=json", "get", "{p}/a"),
            step("set", "{p}/b", "2", "--ttl=700"),
            step("set", "{p}/c", "-5"),
            step("get", "{p}/c"),
            step("set", "--", "{p}/d", "--ttl"),
            step("get", "{p}/d"),
            step("ls", "-sort", "-recursive=true", "{p}"),
            step("ls", "--recursive=false", "--sort", "{p}"),
            step("set", "--swap-with-index", "0x10", "{p}/a", "z"),
            step("-output", "extended", "rm", "-dir=false", "{p}/b"),
        ],
        tag="flags",
    )
