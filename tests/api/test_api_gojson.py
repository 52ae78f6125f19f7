"""JSON bytes as Go writes them; the fast (orjson) and slow paths agree."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from etcdpy.api import gojson
from etcdpy.api.goform import decode


def test_html_and_line_separators_are_escaped() -> None:
    assert (
        gojson.dumps({"v": "<a>&\u2028\u2029"}) == b'{"v":"\\u003ca\\u003e\\u0026\\u2028\\u2029"}'
    )


def test_control_characters_as_go_spells_them() -> None:
    s = "".join(chr(c) for c in range(0x20)) + "\x7f"
    out = gojson.dumps(s).decode()
    assert "\\u0008" in out and "\\u000c" in out and "\\b" not in out and "\\f" not in out
    assert "\\n" in out and "\\r" in out and "\\t" in out and "\\u001f" in out
    assert out.endswith('\x7f"')  # DEL is not escaped


def test_invalid_utf8_bytes_become_replacement_characters() -> None:
    assert gojson.dumps(decode(b"a\xff\xfeb")) == b'"a\\ufffd\\ufffdb"'


def test_escaped_backslash_before_b_is_not_mistaken() -> None:
    assert gojson.dumps("\\b\\f") == b'"\\\\b\\\\f"'


def test_order_newline_and_types() -> None:
    d = {"b": 1, "a": [True, False, None, "x"], "c": {}}
    assert gojson.dumps(d) == b'{"b":1,"a":[true,false,null,"x"],"c":{}}'
    assert gojson.dumps_line(d).endswith(b"}\n")


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(values)
def test_round_trips_and_matches_slow_path(v: object) -> None:
    fast = gojson.dumps(v)
    assert fast == gojson._slow(v)
    if not _has_surrogate(v):
        assert json.loads(fast) == v


def _has_surrogate(v: object) -> bool:
    if isinstance(v, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    if isinstance(v, list):
        return any(_has_surrogate(x) for x in v)
    if isinstance(v, dict):
        return any(_has_surrogate(k) or _has_surrogate(x) for k, x in v.items())
    return False
