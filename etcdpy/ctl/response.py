"""The v2 keys response as etcdctl's Go client decodes it, and its Go JSON re-encoding.

``-o json`` prints the client's struct (not the server's bytes), so fields come out in
the struct's order with its zero values: ``"value":""`` on directories, ``"nodes":null``
on leaves, ``"prevNode":null`` when there is none, and Go's string escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Go's encoding/json escapes these on top of '"' and '\\' (HTML-safe output).
_GO_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029]')
_GO_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    short = _GO_SHORT.get(ch)
    if short is not None:
        return short
    return f"\\u{ord(ch):04x}"


def go_json_string(text: str) -> str:
    """A JSON string literal byte-for-byte as Go's json.Marshal writes it."""
    return '"' + _GO_ESCAPE.sub(_escape_char, text) + '"'


def go_quote(text: str) -> str:
    """Go's strconv.Quote (``%q``): printable runes kept, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append(repr(ch)[1:-1])
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_time(text: str) -> str:
    """Re-format an RFC 3339 time the way Go's time.MarshalJSON would print it back.

    Go keeps at most 9 fractional digits, drops trailing zeros and writes a zero offset
    as ``Z``; anything it could not parse is passed through unchanged.
    """
    match = _RFC3339.match(text)
    if match is None:
        return text
    base, frac, zone = match.groups()
    frac = (frac or "")[:9].rstrip("0")
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    return base + ("." + frac if frac else "") + zone


def _clean(text: str) -> str:
    # Go decodes an unpaired \uD800-style escape to U+FFFD; Python keeps the surrogate,
    # which could not even be written to stdout.
    if _LONE_SURROGATE.search(text):
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def _go_char(ch: str) -> str:
    # encoding/json's quoteChar
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + go_quote(ch)[1:-1] + "'"


def _innermost(text: str, pos: int) -> str:
    """The innermost open bracket at ``pos`` ('{', '[' or '')."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_json_error(text: str) -> str | None:
    """Go's encoding/json syntax error for ``text``, or None when it is valid JSON."""
    import json

    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        pos = exc.pos
        if pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated"):
            return "unexpected end of JSON input"
        ch = text[pos]
        if exc.msg == "Extra data":
            return f"invalid character {_go_char(ch)} after top-level value"
        if exc.msg.startswith("Expecting property name"):
            return f"invalid character {_go_char(ch)} looking for beginning of object key string"
        if exc.msg == "Expecting ':' delimiter":
            return f"invalid character {_go_char(ch)} after object key"
        if exc.msg == "Expecting ',' delimiter":
            where = "array element" if _innermost(text, pos) == "[" else "object key:value pair"
            return f"invalid character {_go_char(ch)} after {where}"
        if exc.msg.startswith("Invalid control character"):
            return f"invalid character {_go_char(ch)} in string literal"
        return f"invalid character {_go_char(ch)} looking for beginning of value"
    return None


class DecodeError(ValueError):
    """The body was JSON but not the shape of a v2 keys response."""


def as_str(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError("string expected")
    return _clean(value)


def as_uint(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DecodeError("unsigned integer expected")
    return value


def as_int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError("integer expected")
    return value


@dataclass(slots=True)
class Node:
    """client.Node: the fields a Go client keeps from a v2 node."""

    key: str = ""
    dir: bool = False
    value: str = ""
    nodes: list[Node] | None = None
    created_index: int = 0
    modified_index: int = 0
    expiration: str | None = None
    ttl: int = 0

    @classmethod
    def from_json(cls, data: Any) -> Node | None:
        if data is None:
            return None
        if not isinstance(data, dict):
            raise DecodeError("object expected")
        nodes_raw = data.get("nodes")
        nodes: list[Node] | None = None
        if nodes_raw is not None:
            if not isinstance(nodes_raw, list):
                raise DecodeError("array expected")
            nodes = [Node.from_json(item) or Node() for item in nodes_raw]
        dir_raw = data.get("dir", False)
        if dir_raw is None:
            dir_raw = False
        if not isinstance(dir_raw, bool):
            raise DecodeError("bool expected")
        expiration = data.get("expiration")
        if expiration is not None:
            expiration = go_time(as_str(expiration))
        return cls(
            key=as_str(data.get("key")),
            dir=dir_raw,
            value=as_str(data.get("value")),
            nodes=nodes,
            created_index=as_uint(data.get("createdIndex")),
            modified_index=as_uint(data.get("modifiedIndex")),
            expiration=expiration,
            ttl=as_int(data.get("ttl")),
        )

    def to_go_json(self) -> str:
        parts = ['"key":', go_json_string(self.key)]
        if self.dir:
            parts.append(',"dir":true')
        parts += [',"value":', go_json_string(self.value), ',"nodes":']
        if self.nodes is None:
            parts.append("null")
        else:
            parts.append("[" + ",".join(n.to_go_json() for n in self.nodes) + "]")
        parts.append(f',"createdIndex":{self.created_index},"modifiedIndex":{self.modified_index}')
        if self.expiration is not None:
            parts += [',"expiration":', go_json_string(self.expiration)]
        if self.ttl:
            parts.append(f',"ttl":{self.ttl}')
        return "{" + "".join(parts) + "}"


@dataclass(slots=True)
class Response:
    """client.Response: action, node, prevNode and the X-Etcd-Index header."""

    action: str
    node: Node = field(default_factory=Node)
    prev_node: Node | None = None
    index: int = 0
    has_node: bool = True

    @classmethod
    def from_json(cls, data: Any, index: int) -> Response:
        if not isinstance(data, dict):
            raise DecodeError("object expected")
        node = Node.from_json(data.get("node"))
        return cls(
            action=as_str(data.get("action")),
            node=node or Node(),
            prev_node=Node.from_json(data.get("prevNode")),
            index=index,
            has_node=node is not None,
        )

    def to_go_json(self) -> str:
        node = self.node.to_go_json() if self.has_node else "null"
        prev = self.prev_node.to_go_json() if self.prev_node is not None else "null"
        action = go_json_string(self.action)
        return f'{{"action":{action},"node":{node},"prevNode":{prev}}}'
