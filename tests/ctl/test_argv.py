"""Go/urfave argument handling, checked against what etcdctl 3.4 was seen to do."""

from __future__ import annotations

import pytest

from etcdpy.ctl.argv import (
    FlagError,
    FlagSpec,
    parse,
    parse_bool,
    parse_duration,
    parse_int,
    reorder,
)
from etcdpy.ctl.cmd_watch import split_exec_args

EXEC_WATCH_FLAGS = [
    FlagSpec(("after-index",), "after_index", "int"),
    FlagSpec(("recursive", "r"), "recursive", "bool"),
    FlagSpec(("help", "h"), "help", "bool"),
]


def exec_watch(args: list[str]) -> tuple[dict[str, object], str, list[str]]:
    values, rest = parse(EXEC_WATCH_FLAGS, reorder(EXEC_WATCH_FLAGS, args))
    key, command = split_exec_args(tuple(rest))
    return values, key, command


# (arguments, watched key, command) as observed with `etcdctl --debug exec-watch ...`.
@pytest.mark.parametrize(
    ("args", "key", "command"),
    [
        (["/s", "--", "echo", "hi"], "hi", ["/s", "echo"]),
        (["--", "echo", "hi", "/s"], "/s", ["echo", "hi"]),
        (["/s", "echo", "hi"], "hi", ["/s", "echo"]),
        (["-r", "/s", "--", "echo", "hi"], "/s", ["echo", "hi"]),
        (["/s", "-r", "--", "echo", "hi"], "hi", ["/s", "echo"]),
        (["-r", "--", "/s", "echo", "hi"], "hi", ["/s", "echo"]),
        (["-r", "/s", "echo", "hi"], "hi", ["/s", "echo"]),
        (["--after-index", "4", "-r", "/s", "--", "echo", "hi"], "/s", ["echo", "hi"]),
        (["-r", "--after-index", "4", "/s", "--", "echo", "hi"], "hi", ["/s", "echo"]),
        (["-r", "/s", "--", "echo", "-r", "hi"], "/s", ["echo", "-r", "hi"]),
        (["--after-index=4", "/s", "--", "echo", "a", "/s"], "/s", ["/s", "echo", "a"]),
        (["echo", "hi", "/s"], "/s", ["echo", "hi"]),
    ],
)
def test_exec_watch_split_matches_etcdctl(args: list[str], key: str, command: list[str]) -> None:
    _, got_key, got_command = exec_watch(args)
    assert (got_key, got_command) == (key, command)


SET_FLAGS = [
    FlagSpec(("ttl",), "ttl", "int"),
    FlagSpec(("swap-with-value",), "swap_with_value", "string"),
    FlagSpec(("dir",), "dir", "bool"),
]


def test_go_flag_spellings() -> None:
    assert parse(SET_FLAGS, ["-ttl", "5", "/k"]) == ({"ttl": 5}, ["/k"])
    assert parse(SET_FLAGS, ["--ttl=0x10", "/k"]) == ({"ttl": 16}, ["/k"])
    assert parse(SET_FLAGS, ["--swap-with-value", "-x", "/k"]) == (
        {"swap_with_value": "-x"},
        ["/k"],
    )
    assert parse(SET_FLAGS, ["--dir=false", "/k"]) == ({"dir": False}, ["/k"])
    assert parse(SET_FLAGS, ["/k", "--ttl", "5"]) == ({}, ["/k", "--ttl", "5"])
    assert parse(SET_FLAGS, ["--", "--ttl"]) == ({}, ["--ttl"])
    assert parse(SET_FLAGS, ["-", "x"]) == ({}, ["-", "x"])


def test_reorder_moves_flags_and_their_values_forward() -> None:
    assert reorder(SET_FLAGS, ["/k", "v", "--ttl", "5"]) == ["--ttl", "5", "/k", "v"]
    assert reorder(SET_FLAGS, ["/k", "-5"]) == ["/k", "-5"]
    assert reorder(SET_FLAGS, ["/k", "--", "-v"]) == ["--", "/k", "-v"]
    # A bool flag takes the next word along; Go's parser then stops at that word.
    assert reorder(SET_FLAGS, ["/a", "--dir", "/b"]) == ["--dir", "/b", "/a"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "flag provided but not defined: -bogus"),
        (["--ttl"], "flag needs an argument: -ttl"),
        (["--ttl", "x"], 'invalid value "x" for flag -ttl: parse error'),
        (["--dir=maybe"], 'invalid boolean value "maybe" for -dir: parse error'),
        (["---ttl", "1"], "bad flag syntax: ---ttl"),
        (["-=x"], "bad flag syntax: -=x"),
    ],
)
def test_go_flag_errors(args: list[str], message: str) -> None:
    with pytest.raises(FlagError) as info:
        parse(SET_FLAGS, args)
    assert str(info.value) == message


def test_go_number_and_duration_syntax() -> None:
    assert [parse_int(s) for s in ("10", "-3", "+4", "0x1f", "017", "0b11", "0o7", "1_000")] == [
        10,
        -3,
        4,
        31,
        15,
        3,
        7,
        1000,
    ]
    for bad in ("", " 1", "08", "1.5", "abc", "--1", "9223372036854775808"):
        with pytest.raises(ValueError):
            parse_int(bad)
    assert parse_duration("2s") == 2.0
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("1.5h") == 5400.0
    assert abs(parse_duration("300ms") - 0.3) < 1e-12
    assert parse_duration("0") == 0.0
    assert parse_duration("-1s") == -1.0
    for bad in ("", "5", "s", "1x", "1.s.", "."):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert [parse_bool(s) for s in ("1", "t", "TRUE", "True", "0", "f", "FALSE")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(ValueError):
        parse_bool("yes")
