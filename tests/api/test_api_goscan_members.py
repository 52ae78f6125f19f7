"""Go's JSON syntax errors and etcd's peer-URL checks for member bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdpy.api.gojsonscan import check_valid
from etcdpy.api.memberrequest import (
    MemberRequestError,
    content_type_error,
    go_url_parse,
    parse_peer_urls,
)

# Messages as etcd 3.4 (Go 1.19) returns them; the compat table checks the same bodies
# against the real binary.
SYNTAX = [
    (b"", "unexpected end of JSON input"),
    (b"  ", "unexpected end of JSON input"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
    (b"[1 2]", "invalid character '2' after array element"),
    (b'{"a":[1,]}', "invalid character ']' looking for beginning of value"),
    (b'{,"a":1}', "invalid character ',' looking for beginning of object key string"),
    (b'"\x01"', "invalid character '\\x01' in string literal"),
    (b'"\\q"', "invalid character 'q' in string escape code"),
    (b'"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"),
    (b"1.", "invalid character ' ' after decimal point in numeric literal"),
    (b"1e+x", "invalid character 'x' in exponent of numeric literal"),
    (b"-", "invalid character ' ' in numeric literal"),
    (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
    (b"nul", "invalid character ' ' in literal null (expecting 'l')"),
    (b"01", "invalid character '1' after top-level value"),
    (b"'a'", "invalid character '\\'' looking for beginning of value"),
    (b"xyz", "invalid character 'x' looking for beginning of value"),
]


@pytest.mark.parametrize(("data", "message"), SYNTAX)
def test_go_syntax_messages(data: bytes, message: str) -> None:
    assert check_valid(data) == message


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@given(json_values, st.sampled_from(["", " ", "\n\t "]))
def test_everything_json_writes_is_valid(v: object, pad: str) -> None:
    assert check_valid((pad + json.dumps(v) + pad).encode()) is None


@given(st.binary(max_size=40))
def test_never_crashes_and_agrees_with_python_on_ascii(data: bytes) -> None:
    err = check_valid(data)
    try:
        text = data.decode("ascii")
        ok = not any(w in text for w in ("NaN", "Infinity"))
        json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        ok = False
    if ok:
        assert err is None


def test_peer_urls_sorted_and_normalized() -> None:
    body = b'{"peerURLs":[" HTTP://b:2 ","http://a:1"]}'
    assert parse_peer_urls(body) == ["http://a:1", "http://b:2"]


def test_field_name_is_case_insensitive_and_null_is_empty() -> None:
    assert parse_peer_urls(b'{"PEERURLS":["http://a:1"]}') == ["http://a:1"]
    with pytest.raises(MemberRequestError, match=r"^no valid URLs given$"):
        parse_peer_urls(b"null")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"peerURLs":"a"}',
            "json: cannot unmarshal string into Go struct field .peerURLs of type []string",
        ),
        (
            b'{"peerURLs":[true]}',
            "json: cannot unmarshal bool into Go struct field .peerURLs of type string",
        ),
        (
            b"[1]",
            "json: cannot unmarshal array into Go value of type "
            'struct { PeerURLs []string "json:\\"peerURLs\\"" }',
        ),
        (b'{"peerURLs":[]}', "no valid URLs given"),
        (
            b'{"peerURLs":["ftp://a:1"]}',
            "URL scheme must be http, https, unix, or unixs: ftp://a:1",
        ),
        (b'{"peerURLs":["http://a"]}', 'URL address does not have the form "host:port": http://a'),
        (b'{"peerURLs":["http://a:1/x"]}', "URL must not contain a path: http://a:1/x"),
        (b'{"peerURLs":["%zz"]}', 'parse "%zz": invalid URL escape "%zz"'),
        (b'{"peerURLs":["http://a:b"]}', 'parse "http://a:b": invalid port ":b" after host'),
        (
            b'{"peerURLs":["127.0.0.1:2380"]}',
            'parse "127.0.0.1:2380": first path segment in URL cannot contain colon',
        ),
        (b'{"peerURLs":[":x"]}', 'parse ":x": missing protocol scheme'),
        (b'{"peerURLs":[null]}', "URL scheme must be http, https, unix, or unixs: "),
    ],
)
def test_member_body_errors(body: bytes, message: str) -> None:
    with pytest.raises(MemberRequestError) as exc:
        parse_peer_urls(body)
    assert str(exc.value) == message


def test_url_parse_keeps_ipv6_and_userinfo() -> None:
    u = go_url_parse("http://u@[::1]:2380")
    assert (u.scheme, u.userinfo, u.host, str(u)) == (
        "http",
        "u",
        "[::1]:2380",
        "http://u@[::1]:2380",
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Bad Content-Type , accept application/json"),
        ("text/plain", "Bad Content-Type text/plain, accept application/json"),
        ("Application/JSON", "Bad Content-Type Application/JSON, accept application/json"),
        ("Application/JSON; charset=utf-8", None),
        ("application/json", None),
    ],
)
def test_member_content_type(header: str | None, message: str | None) -> None:
    assert content_type_error(header) == message
