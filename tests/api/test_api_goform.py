"""Go's form, escape, number and path rules as the API reproduces them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdpy.api.goform import (
    GoError,
    clean_request_path,
    decode,
    encode,
    escape_path,
    go_quote,
    parse_bool,
    parse_media_type,
    parse_query,
    parse_uint64,
    unescape,
)
from etcdpy.store.keypath import clean_path as clean


def q(raw: bytes) -> tuple[dict[str, list[str]], str | None]:
    form: dict[str, list[str]] = {}
    err = parse_query(raw, form)
    return form, err


def test_query_order_and_repeats() -> None:
    assert q(b"a=1&b=2&a=3") == ({"a": ["1", "3"], "b": ["2"]}, None)


def test_query_plus_is_space_and_escapes_decode() -> None:
    assert q(b"v=a+b%2Bc%20d") == ({"v": ["a b+c d"]}, None)


def test_query_empty_pairs_and_missing_equals() -> None:
    assert q(b"&&=x&k&v=") == ({"": ["x"], "k": [""], "v": [""]}, None)


def test_query_semicolon_is_an_error_but_parsing_goes_on() -> None:
    assert q(b"a=1;b=2&c=3") == ({"c": ["3"]}, "invalid semicolon separator in query")


def test_query_first_escape_error_wins_but_semicolon_overrides() -> None:
    assert q(b"a=%zz&b=%4") == ({}, 'invalid URL escape "%zz"')
    assert q(b"a=%zz&b;c") == ({}, "invalid semicolon separator in query")
    assert q(b"a;b&c=%g") == ({}, "invalid semicolon separator in query")


def test_escape_error_quotes_like_go() -> None:
    with pytest.raises(GoError, match=r'^invalid URL escape "%4"$'):
        unescape(b"%4", True)
    with pytest.raises(GoError, match=r'^invalid URL escape "%\\xff1"$'):
        unescape(b"%\xff1", True)


def test_invalid_utf8_survives_and_stays_distinct() -> None:
    form, err = q(b"k=%ff&k=%fe")
    assert err is None
    a, b = form["k"]
    assert a != b and encode(a) == b"\xff" and encode(b) == b"\xfe"


def test_path_unescape_keeps_plus() -> None:
    assert unescape(b"/a+b%2Fc", False) == b"/a+b/c"


@pytest.mark.parametrize("s", ["1", "t", "T", "TRUE", "true", "True"])
def test_bool_true(s: str) -> None:
    assert parse_bool(s) is True


@pytest.mark.parametrize("s", ["0", "f", "F", "FALSE", "false", "False"])
def test_bool_false(s: str) -> None:
    assert parse_bool(s) is False


@pytest.mark.parametrize("s", ["", "yes", "tRUE", " true", "2", "on"])
def test_bool_rejects(s: str) -> None:
    with pytest.raises(ValueError):
        parse_bool(s)


@pytest.mark.parametrize(
    "s", ["", "-1", "+1", "1.5", " 1", "1_000", "\u0661", "18446744073709551616"]
)
def test_uint64_rejects(s: str) -> None:
    with pytest.raises(ValueError):
        parse_uint64(s)


def test_uint64_bounds() -> None:
    assert parse_uint64("0") == 0
    assert parse_uint64("007") == 7
    assert parse_uint64("18446744073709551615") == 2**64 - 1


@pytest.mark.parametrize(
    ("ct", "want"),
    [
        ("application/x-www-form-urlencoded", ("application/x-www-form-urlencoded", None)),
        (
            "Application/X-WWW-Form-Urlencoded; charset=utf-8",
            ("application/x-www-form-urlencoded", None),
        ),
        ("application/x-www-form-urlencoded;", ("application/x-www-form-urlencoded", None)),
        (
            "application/x-www-form-urlencoded; charset",
            ("application/x-www-form-urlencoded", "mime: invalid media parameter"),
        ),
        ("text/plain; a=1; a=2", ("", "mime: duplicate parameter name")),
        ("foo", ("foo", None)),
        ("foo bar", ("", "mime: expected slash after first token")),
        ("text/", ("", "mime: expected token after slash")),
        ("text/plain x", ("", "mime: unexpected content after media subtype")),
        ("", ("", "mime: no media type")),
        ('text/plain; q="a;b"', ("text/plain", None)),
    ],
)
def test_media_type(ct: str, want: tuple[str, str | None]) -> None:
    assert parse_media_type(ct) == want


@pytest.mark.parametrize(
    ("p", "want"),
    [
        ("/", "/"),
        ("", "/"),
        ("/v2/keys/", "/v2/keys/"),
        ("/v2/keys//a", "/v2/keys/a"),
        ("/v2/keys/a/../b", "/v2/keys/b"),
        ("/v2/keys/./a/", "/v2/keys/a/"),
        ("/../..", "/"),
        ("//a//", "/a/"),
        ("v2", "/v2"),
    ],
)
def test_clean_request_path(p: str, want: str) -> None:
    assert clean_request_path(p) == want


def test_escape_path_like_go() -> None:
    assert escape_path("/v2/keys/a b") == "/v2/keys/a%20b"
    assert escape_path("/a+b:c@d=$&,;") == "/a+b:c@d=$&,;"
    assert escape_path("/\u00e9?#") == "/%C3%A9%3F%23"
    assert escape_path(decode(b"/\xff")) == "/%FF"


def test_go_quote() -> None:
    assert go_quote(b'a"b\\c\n\x01\x7f\xff') == '"a\\"b\\\\c\\n\\x01\\x7f\\xff"'
    assert go_quote("é\u2028".encode()) == '"é\\u2028"'


@given(st.lists(st.sampled_from(["", ".", "..", "a", "b", "_c"]), max_size=8))
def test_clean_is_idempotent_and_rooted(parts: list[str]) -> None:
    p = clean("/" + "/".join(parts))
    assert p.startswith("/") and clean(p) == p
    assert "//" not in p and "/./" not in p + "/" and "/../" not in p + "/"
