"""Responses shaped like Go's ``net/http`` and etcd's writers produce them.

Header names use Go's canonical spelling (``X-Etcd-Index``); bodies follow the writer
etcd uses in each place: ``json.NewEncoder`` (trailing newline) for events, key errors
and member objects, ``json.Marshal`` (none) for stats, versions and members-API errors,
``http.Error`` (text/plain, ``nosniff``, newline) for 404 and 405.
"""

from __future__ import annotations

from etcdpy.api import gojson
from etcdpy.api.goform import html_escape
from etcdpy.api.http import Request, Response, StreamResponse, Verbatim
from etcdpy.store.errors import EtcdError

__all__ = ["Request", "Response", "StreamResponse"]

# Request storage: the CORS headers every answer to this request carries (None: none).
CORS_HEADERS = "etcdpy.cors"


async def continue_body(request: Request) -> None:
    """Send ``100 Continue`` to a client waiting for it, as Go does on the first read of
    the body (curl waits a second for it before sending a large body)."""
    request.send_continue()


JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


def raw(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=body, headers=headers or {})


def json_body(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    h = {"Content-Type": JSON}
    if headers:
        h.update(headers)
    return Response(status=status, body=body, headers=h)


def http_error(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    """Go's ``http.Error``."""
    h = {"Content-Type": TEXT, "X-Content-Type-Options": "nosniff"}
    if headers:
        h.update(headers)
    return Response(status=status, body=(text + "\n").encode(), headers=h)


def not_found() -> Response:
    """Go's ``http.NotFound``."""
    return http_error(404, "404 page not found")


def method_not_allowed(allow: str, headers: dict[str, str] | None = None) -> Response:
    h = {"Allow": allow}
    if headers:
        h.update(headers)
    return http_error(405, "Method Not Allowed", h)


def etcd_error(e: EtcdError, headers: dict[str, str] | None = None) -> Response:
    """etcd's ``v2error.Error.WriteTo``: the error JSON, X-Etcd-Index = its index."""
    h = {"Content-Type": JSON}
    if headers:
        h.update(headers)
    h["X-Etcd-Index"] = str(e.index)
    return Response(status=e.http_status, body=gojson.dumps_line(e.to_dict()), headers=h)


def message_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """etcd's ``httptypes.HTTPError.WriteTo``: ``{"message": ...}``, no newline."""
    return json_body(status, gojson.dumps({"message": message}), headers)


def redirect(method: str, location: str) -> Response:
    """``http.ServeMux``'s 301 to the cleaned path, with Go's little HTML body for GET."""
    h = {"Location": location}
    body = b""
    if method in ("GET", "HEAD"):
        h["Content-Type"] = HTML
    if method == "GET":
        body = f'<a href="{html_escape(location)}">Moved Permanently</a>.\n\n'.encode()
    return Response(status=301, body=body, headers=h)


def bad_request_close() -> Response:
    """What Go's server answers to a request line it cannot parse, then hangs up: a fixed
    ``HTTP/1.1 400`` whatever the request's version, without Date or Content-Length."""
    return Verbatim()
