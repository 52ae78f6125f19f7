"""What etcdctl prints for a keys response in each ``-o`` mode (format.go, ls)."""

from __future__ import annotations

import sys

from etcdpy.ctl.response import Node, Response

FORMATS = ("simple", "extended", "json")


def write_out(text: str) -> None:
    """Write to stdout at once, bytes as given (argv may carry undecodable bytes)."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def write_err(text: str) -> None:
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stderr.buffer.flush()


def format_response(resp: Response, fmt: str) -> str | None:
    """printResponseKey's stdout text, or None for an unsupported format."""
    if fmt == "simple":
        if resp.action != "delete":
            return resp.node.value + "\n"
        prev = resp.prev_node.value if resp.prev_node is not None else ""
        return f"PrevNode.Value: {prev}\n"
    if fmt == "extended":
        node = resp.node
        lines = [
            f"Key: {node.key}",
            f"Created-Index: {node.created_index}",
            f"Modified-Index: {node.modified_index}",
        ]
        if resp.prev_node is not None:
            lines.append(f"PrevNode.Value: {resp.prev_node.value}")
        lines += [f"TTL: {node.ttl}", f"Index: {resp.index}"]
        if resp.action != "delete":
            lines += ["", node.value]
        return "\n".join(lines) + "\n"
    if fmt == "json":
        return resp.to_go_json() + "\n"
    return None


def print_response(resp: Response, fmt: str) -> None:
    text = format_response(resp, fmt)
    if text is None:
        write_err(f"Unsupported output format: {fmt}\n")
    else:
        write_out(text)


def format_ls(resp: Response, with_slash: bool) -> str:
    """``ls`` in simple mode: the key of a file, or every key below a directory."""
    lines: list[str] = []
    if not resp.node.dir:
        lines.append(resp.node.key)

    # Explicit stack instead of recursion: a deep tree must not hit the recursion limit.
    stack: list[Node] = list(reversed(resp.node.nodes or []))
    while stack:
        node = stack.pop()
        lines.append(node.key + "/" if node.dir and with_slash else node.key)
        stack.extend(reversed(node.nodes or []))
    return "".join(line + "\n" for line in lines)
