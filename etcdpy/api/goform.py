"""Go's ``net/url``, ``net/http`` form and ``mime`` parsing, as etcd's v2 API sees requests.

etcd reads parameters with ``Request.ParseForm`` and the URL with ``url.ParseRequestURI``;
clients rely on the exact outcome (which value wins, which input is an error and with
which message), so this module reproduces those rules rather than Python's lenient ones.
Go strings are bytes: keys and values are decoded as UTF-8 with ``surrogateescape`` so
that invalid bytes survive as distinct keys and render as U+FFFD in JSON, as in Go.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from etcdpy.store.keypath import clean_path

# Go's ParseForm reads at most this much of a form body ("10 MB is a lot of text").
MAX_FORM_BYTES = 10 << 20

_HEX = b"0123456789abcdefABCDEF"
_BAD_ESCAPE = re.compile(rb"%(?![0-9a-fA-F]{2})")
_HEXBYTE = re.compile(rb"%([0-9a-fA-F]{2})")

Form = dict[str, list[str]]


class GoError(ValueError):
    """A Go library error; ``str()`` is Go's ``err.Error()`` text, which etcd puts in
    error causes and messages verbatim."""


def decode(b: bytes) -> str:
    """Bytes as a Go string: UTF-8, invalid bytes kept as lone surrogates."""
    return b.decode("utf-8", "surrogateescape")


def encode(s: str) -> bytes:
    """Inverse of :func:`decode`."""
    return s.encode("utf-8", "surrogateescape")


def go_quote(b: bytes) -> str:
    """``strconv.Quote`` of a Go string (used in Go's error messages)."""
    out = ['"']
    for ch in b.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x80 or _printable(ch):
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SHORT_ESCAPES["\v"] = "\\v"


def _printable(ch: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and U+0020.
    return unicodedata.category(ch)[0] in "LMNPS"


def unescape(s: bytes, query: bool) -> bytes:
    """Go's ``url.unescape`` in path mode (``query=False``) or query-component mode,
    where ``+`` means a space. Raises :class:`GoError` on a malformed ``%`` escape."""
    if b"%" not in s:
        return s.replace(b"+", b" ") if query else s
    bad = _BAD_ESCAPE.search(s)
    if bad is not None:
        raise GoError("invalid URL escape " + go_quote(s[bad.start() : bad.start() + 3]))
    if query:
        s = s.replace(b"+", b" ")
    return _HEXBYTE.sub(lambda m: bytes((int(m.group(1), 16),)), s)


def parse_query(raw: bytes, into: Form) -> str | None:
    """Go's ``url.ParseQuery``: add every pair of ``raw`` to ``into`` (values appended in
    order) and return the error text Go would return, or None.

    Go keeps parsing after an error; a ``;`` in a pair always overrides an earlier error,
    an escape error only fills an empty slot (this is how Go 1.17+ behaves).
    """
    err: str | None = None
    for pair in raw.split(b"&"):
        if b";" in pair:
            err = "invalid semicolon separator in query"
            continue
        if not pair:
            continue
        k, _, v = pair.partition(b"=")
        try:
            key = unescape(k, True)
            value = unescape(v, True)
        except GoError as exc:
            if err is None:
                err = str(exc)
            continue
        into.setdefault(decode(key), []).append(decode(value))
    return err


def parse_bool(s: str) -> bool:
    """``strconv.ParseBool``; raises ValueError on anything else."""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(s)


_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))
_MAX_UINT64 = (1 << 64) - 1


def parse_uint64(s: str) -> int:
    """``strconv.ParseUint(s, 10, 64)``: ASCII digits only, no sign, at most 2**64-1."""
    if not s or not s.isascii() or not s.isdigit():
        raise ValueError(s)
    v = int(s)
    if v > _MAX_UINT64:
        raise ValueError(s)
    return v


# --- mime.ParseMediaType -------------------------------------------------------------

_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')


def _is_token_char(c: str) -> bool:
    return " " < c < "\x7f" and c not in _TSPECIALS


def _consume_token(v: str) -> tuple[str, str]:
    i = 0
    while i < len(v) and _is_token_char(v[i]):
        i += 1
    return v[:i], v[i:]


def _consume_value(v: str) -> tuple[str, str]:
    if not v:
        return "", v
    if v[0] != '"':
        return _consume_token(v)
    buf: list[str] = []
    i = 1
    while i < len(v):
        c = v[i]
        if c == '"':
            return "".join(buf), v[i + 1 :]
        if c == "\\" and i + 1 < len(v) and (_is_token_char(v[i + 1]) or v[i + 1] in _TSPECIALS):
            buf.append(v[i + 1])
            i += 2
            continue
        if c in "\r\n":
            return "", v
        buf.append(c)
        i += 1
    return "", v


def _consume_param(v: str) -> tuple[str, str, str]:
    rest = v.lstrip()
    if not rest.startswith(";"):
        return "", "", v
    rest = rest[1:].lstrip()
    param, rest = _consume_token(rest)
    param = param.lower()
    if not param:
        return "", "", v
    rest = rest.lstrip()
    if not rest.startswith("="):
        return "", "", v
    rest = rest[1:].lstrip()
    value, rest2 = _consume_value(rest)
    if not value and rest2 == rest:
        return "", "", v
    return param, value, rest2


def _check_media_type(s: str) -> str | None:
    typ, rest = _consume_token(s)
    if not typ:
        return "mime: no media type"
    if not rest:
        return None
    if not rest.startswith("/"):
        return "mime: expected slash after first token"
    sub, rest = _consume_token(rest[1:])
    if not sub:
        return "mime: expected token after slash"
    if rest:
        return "mime: unexpected content after media subtype"
    return None


@functools.lru_cache(maxsize=512)
def parse_media_type(v: str) -> tuple[str, str | None]:
    """``mime.ParseMediaType`` reduced to what ParseForm uses: (media type, error text).

    As in Go, a bad parameter still returns the media type alongside the error.
    """
    base = v.split(";", 1)[0]
    mediatype = base.strip().lower()
    err = _check_media_type(mediatype)
    if err is not None:
        return "", err
    seen: set[str] = set()
    rest = v[len(base) :]
    while rest:
        rest = rest.lstrip()
        if not rest:
            break
        key, _value, after = _consume_param(rest)
        if not key:
            if after.strip() == ";":
                break
            return mediatype, "mime: invalid media parameter"
        if key in seen:
            return "", "mime: duplicate parameter name"
        seen.add(key)
        rest = after
    return mediatype, None


# --- paths ---------------------------------------------------------------------------


def clean_request_path(p: str) -> str:
    """``http.ServeMux``'s cleanPath: ``path.Clean`` that keeps a trailing slash."""
    if p[:1] == "/" and "//" not in p and "/." not in p:
        return p  # already clean (the common case)
    if not p:
        return "/"
    if p[0] != "/":
        p = "/" + p
    np = clean_path(p)
    if p[-1] == "/" and np != "/":
        np += "/"
    return np


# Bytes Go's url.URL.EscapedPath leaves alone in a path (RFC 3986 unreserved, plus the
# sub-delims it allows there).
_PATH_SAFE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+,/:;=@"
)


def escape_path(p: str) -> str:
    """``url.URL{Path: p}.EscapedPath()``: percent-encode what a path may not hold."""
    raw = encode(p)
    if all(b in _PATH_SAFE for b in raw):
        return p
    return "".join(chr(b) if b in _PATH_SAFE else f"%{b:02X}" for b in raw)


def html_escape(s: str) -> str:
    """Go's ``htmlEscape`` in ``http.Redirect``."""
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def has_control_byte(b: bytes) -> bool:
    """Go refuses request targets holding ASCII control bytes (or DEL)."""
    return _CONTROL.search(b) is not None
