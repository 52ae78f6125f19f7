"""Answers a real member does not give: 5xx, non-JSON bodies, empty bodies, redirects.

A tiny HTTP server on loopback plays the odd endpoint; both tools must react the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.ctl.ctl_harness import REF, assert_same, both, run


class OddServer:
    def __init__(self) -> None:
        self.status = 500
        self.body = b""
        self.headers: dict[str, str] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(outer.status)
                for name, value in outer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def odd() -> Iterator[OddServer]:
    server = OddServer()
    try:
        yield server
    finally:
        server.close()


COMMANDS = [
    ["get", "/k"],
    ["set", "/k", "v"],
    ["mk", "/k", "v"],
    ["rm", "/k"],
    ["member", "list"],
]


def same_everywhere(url: str, sync: bool = False) -> None:
    flags = [] if sync else ["--no-sync"]
    for args in COMMANDS:
        ref, ours = both([*flags, "--endpoints", url, *args])
        assert_same(
            f"{args}\n[exit {ours.rc}]\n{ours.out}[stderr]\n{ours.err}",
            f"{args}\n[exit {ref.rc}]\n{ref.out}[stderr]\n{ref.err}",
        )


@pytest.mark.parametrize("status", [500, 503, 502])
def test_server_errors(odd: OddServer, status: int) -> None:
    odd.status = status
    same_everywhere(odd.url)
    same_everywhere(odd.url, sync=True)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>not etcd</html>"),
        (404, b"404 page not found\n"),
        (200, b""),
        (412, b'{"errorCode":101,"message":"Compare failed","cause":"[a != b]","index":7}'),
    ],
)
def test_bodies_that_are_not_a_normal_answer(odd: OddServer, status: int, body: bytes) -> None:
    odd.status, odd.body = status, body
    same_everywhere(odd.url)


def test_redirect_is_followed(odd: OddServer, endpoint: str) -> None:
    run(REF, ["--endpoints", endpoint, "set", "/redirected", "there"])
    odd.status = 307
    odd.headers = {"Location": f"{endpoint}/v2/keys/redirected"}
    ref, ours = both(["--no-sync", "--endpoints", odd.url, "get", "/anything"])
    assert (ours.rc, ours.out, ours.err) == (ref.rc, ref.out, ref.err) == (0, "there\n", "")


def test_a_response_without_node_is_an_error_not_a_crash(odd: OddServer) -> None:
    odd.status, odd.body = 200, b'{"action":"get"}'
    ref, ours = both(["--no-sync", "--endpoints", odd.url, "get", "/k"])
    assert ref.rc == 2 and "panic" in ref.err  # etcdctl dereferences nil
    assert (ours.rc, ours.out) == (4, "")
    assert ours.err == (
        "Error:  client: the response has no node; the endpoint is probably not an etcd v2 member\n"
    )
