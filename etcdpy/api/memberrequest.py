"""The body of ``POST /v2/members`` and ``PUT /v2/members/<id>``: ``{"peerURLs": [...]}``.

etcd decodes it with Go's ``json.Unmarshal`` into ``struct{PeerURLs []string}`` and
checks the URLs with ``types.NewURLs`` (Go's ``url.Parse``, then scheme, ``host:port``
and no path). A bad body is answered 400 with the Go error text, so the checks and their
wording follow Go's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from etcdpy.api.goform import GoError, go_quote, unescape
from etcdpy.api.gojsonscan import check_valid

_STRUCT = 'struct { PeerURLs []string "json:\\"peerURLs\\"" }'
_SCHEMES = ("http", "https", "unix", "unixs")
_HOST_OK = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:[]<>\""
)


class MemberRequestError(ValueError):
    """A members-API body etcd refuses with 400; ``str()`` is etcd's message."""


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _decode(body: bytes) -> list[str]:
    err = check_valid(body)
    if err is not None:
        raise MemberRequestError(err)
    doc = json.loads(body.decode("utf-8", "replace"))
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise MemberRequestError(
            f"json: cannot unmarshal {_kind(doc)} into Go value of type {_STRUCT}"
        )
    urls: list[str] = []
    first_error: str | None = None
    for key, v in doc.items():
        # Go matches struct fields case-insensitively when no exact match exists.
        if key.lower() != "peerurls":
            continue
        if v is None:
            urls = []
            continue
        if not isinstance(v, list):
            first_error = first_error or (
                f"json: cannot unmarshal {_kind(v)} into Go struct field .peerURLs of type []string"
            )
            continue
        urls = []
        for item in v:
            if item is None:
                urls.append("")
            elif isinstance(item, str):
                urls.append(item)
            else:
                first_error = first_error or (
                    f"json: cannot unmarshal {_kind(item)} into Go struct field .peerURLs "
                    "of type string"
                )
                urls.append("")
    if first_error is not None:
        raise MemberRequestError(first_error)
    return urls


@dataclass(slots=True)
class GoURL:
    scheme: str = ""
    opaque: str = ""
    userinfo: str | None = None
    host: str = ""
    path: str = ""
    raw_query: str = ""
    force_query: bool = False
    fragment: str = ""

    def __str__(self) -> str:
        # url.URL.String() for what NewURLs lets through (no path).
        s = ""
        if self.scheme:
            s = self.scheme + ":"
        if self.opaque:
            s += self.opaque
        else:
            if self.scheme or self.host or self.userinfo is not None:
                s += "//"
                if self.userinfo is not None:
                    s += self.userinfo + "@"
                s += self.host
            s += self.path
        if self.force_query or self.raw_query:
            s += "?" + self.raw_query
        if self.fragment:
            s += "#" + self.fragment
        return s


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise GoError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _valid_port(colon_port: str) -> bool:
    if not colon_port:
        return True
    return colon_port[0] == ":" and all("0" <= c <= "9" for c in colon_port[1:])


def _parse_host(host: str) -> str:
    if host.startswith("["):
        i = host.rfind("]")
        if i < 0:
            raise GoError("missing ']' in host")
        colon_port = host[i + 1 :]
        if not _valid_port(colon_port):
            raise GoError(f"invalid port {go_quote(colon_port.encode())} after host")
    else:
        i = host.rfind(":")
        if i != -1 and not _valid_port(host[i:]):
            raise GoError(f"invalid port {go_quote(host[i:].encode())} after host")
    for c in host:
        if c != "%" and c.isascii() and c not in _HOST_OK:
            raise GoError(f"invalid character {go_quote(c.encode())} in host name")
    return unescape(host.encode(), False).decode("utf-8", "surrogateescape")


def go_url_parse(raw: str) -> GoURL:
    """Go's ``url.Parse``; raises GoError with Go's ``parse "<url>": <reason>`` text."""
    u, _, frag = raw.partition("#")
    try:
        url = _parse(u)
        if frag:
            url.fragment = unescape(frag.encode(), False).decode("utf-8", "surrogateescape")
    except GoError as exc:
        raise GoError(f"parse {go_quote(u.encode())}: {exc}") from None
    return url


def _parse(raw: str) -> GoURL:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise GoError("net/url: invalid control character in URL")
    url = GoURL()
    scheme, rest = _get_scheme(raw)
    url.scheme = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        url.force_query = True
        rest = rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if url.scheme:
            url.opaque = rest
            return url
        if ":" in rest.split("/", 1)[0]:
            raise GoError("first path segment in URL cannot contain colon")
    if rest.startswith("//") and (url.scheme or not rest.startswith("///")):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        at = authority.rfind("@")
        if at >= 0:
            url.userinfo = authority[:at]
            url.host = _parse_host(authority[at + 1 :])
        else:
            url.host = _parse_host(authority)
    url.path = unescape(rest.encode(), False).decode("utf-8", "surrogateescape")
    return url


def _has_host_port(hp: str) -> bool:
    """Whether Go's ``net.SplitHostPort`` accepts ``hp``."""
    i = hp.rfind(":")
    if i < 0:
        return False
    if hp.startswith("["):
        end = hp.find("]")
        if end < 0 or end + 1 != i:
            return False
        return "[" not in hp[1:end] and "]" not in hp[end + 1 :]
    return ":" not in hp[:i] and "[" not in hp and "]" not in hp


def new_urls(strs: list[str]) -> list[str]:
    """etcd's ``types.NewURLs``: validated, normalized (``url.URL.String()``) and sorted."""
    if not strs:
        raise MemberRequestError("no valid URLs given")
    out: list[str] = []
    for s in strs:
        s = s.strip()
        try:
            u = go_url_parse(s)
        except GoError as exc:
            raise MemberRequestError(str(exc)) from None
        if u.scheme not in _SCHEMES:
            raise MemberRequestError(f"URL scheme must be http, https, unix, or unixs: {s}")
        if not _has_host_port(u.host):
            raise MemberRequestError(f'URL address does not have the form "host:port": {s}')
        if u.path:
            raise MemberRequestError(f"URL must not contain a path: {s}")
        out.append(str(u))
    out.sort()
    return out


def parse_peer_urls(body: bytes) -> list[str]:
    """The peer URLs of a member create/update body; raises MemberRequestError."""
    return new_urls(_decode(body))


def content_type_error(header: str | None) -> str | None:
    """etcd's content-type check for member bodies (it lower-cases only when a ``;``
    follows the type); returns the 415 message or None."""
    ctype = header or ""
    semi = ctype.find(";")
    if semi != -1:
        ctype = ctype[:semi].strip().lower()
    if ctype != "application/json":
        return f"Bad Content-Type {ctype}, accept application/json"
    return None
