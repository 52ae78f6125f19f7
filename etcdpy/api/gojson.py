"""JSON bytes exactly as Go's ``encoding/json`` (Go 1.19, as in etcd 3.4) writes them.

Clients compare bodies byte for byte in places (and the compatibility suite does), so
the differences from a plain JSON encoder matter: Go escapes ``<``, ``>`` and ``&`` as
``\\u003c`` etc., U+2028/U+2029 as ``\\u2028``/``\\u2029``, control characters other than
``\\n``, ``\\r`` and ``\\t`` as ``\\u00XX`` (so ``\\b`` and ``\\f`` are spelled out), and each
invalid UTF-8 byte (held here as a lone surrogate) as ``\\ufffd``.

orjson does the bulk work; its output is patched for the HTML escapes, and the rare
strings it cannot take (lone surrogates) or spells differently (``\\b``, ``\\f``) go
through a small pure-Python encoder.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_ESCAPES: dict[str, str] = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    e = _ESCAPES.get(c)
    if e is not None:
        return e
    o = ord(c)
    if o < 0x20:
        return f"\\u{o:04x}"
    return "\\ufffd"


def _string(s: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def _encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(_string(obj))
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif obj is None:
        out.append("null")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, dict):
        out.append("{")
        first = True
        for k, v in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(_string(k))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    elif isinstance(obj, float):
        out.append(orjson.dumps(obj).decode())
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _slow(obj: Any) -> bytes:
    out: list[str] = []
    _encode(obj, out)
    return "".join(out).encode()


def dumps(obj: Any) -> bytes:
    """``json.Marshal(obj)``: dicts keep their insertion order (build them in the Go
    struct's field order; sort map keys yourself, as Go does)."""
    try:
        b = orjson.dumps(obj)
    except TypeError:
        return _slow(obj)
    if b"\\b" in b or b"\\f" in b:
        # Possibly orjson's short escapes (or an escaped backslash before b/f): re-encode.
        return _slow(obj)
    if b"<" in b:
        b = b.replace(b"<", b"\\u003c")
    if b">" in b:
        b = b.replace(b">", b"\\u003e")
    if b"&" in b:
        b = b.replace(b"&", b"\\u0026")
    if b"\xe2\x80" in b:
        b = b.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return b


def dumps_line(obj: Any) -> bytes:
    """``json.NewEncoder(w).Encode(obj)``: the same bytes plus a newline."""
    return dumps(obj) + b"\n"
