"""A small synchronous v2 HTTP client that fails over like etcdctl's Go client.

One :class:`Client` holds the endpoint list and the "pinned" endpoint.  Each request
starts at the pinned endpoint and walks the list on connection errors and 5xx answers;
the first endpoint that answers becomes pinned.  Writes that must not be repeated
(create-only sets, deletes) stop at the first failure, as in the Go client.
Built on ``http.client`` because a CLI must start fast; connections are kept alive
between the requests of one command (sync, then the command itself).
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote

from etcdpy.ctl.errors import (
    NO_ENDPOINTS,
    ClientError,
    ClusterError,
    ConnectionFailure,
    DeadlineExceeded,
)
from etcdpy.ctl.response import go_quote

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_MAX_REDIRECTS = 10


def go_clean(path: str) -> str:
    """Go's path.Clean."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def canonical_url_path(path: str) -> str:
    """etcd's pathutil.CanonicalURLPath: path.Clean that keeps a trailing slash."""
    if not path:
        return "/"
    if path[0] != "/":
        path = "/" + path
    cleaned = go_clean(path)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def escape_path(path: str) -> str:
    """Go's URL.EscapedPath: everything but unreserved and ``$&+,/:;=@`` is %-escaped."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/$&+,:;=@")


@dataclass(slots=True, frozen=True)
class Endpoint:
    """One client URL as Go's url.Parse sees it; ``text`` is how Go prints it back."""

    text: str
    scheme: str
    host: str
    port: int | None
    netloc: str
    path: str  # %-decoded, as Go's URL.Path
    raw_path: str = ""  # as written

    @property
    def address(self) -> str:
        port = self.port if self.port is not None else (443 if self.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{port}"


def _split_scheme(text: str) -> tuple[str, str]:
    # Go's getScheme: a scheme is letters first, then letters/digits/+-. up to ':'.
    for i, ch in enumerate(text):
        if ch == ":":
            if i == 0:
                raise ClientError(f"parse {go_quote(text)}: missing protocol scheme")
            return text[:i].lower(), text[i + 1 :]
        if ch not in _SCHEME_CHARS or (i == 0 and not ch.isalpha()):
            return "", text
    return "", text


def parse_endpoint(text: str, default_scheme: str = "http") -> Endpoint:
    """Parse an --endpoints entry the way etcdctl does (url.Parse, then default http)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ClientError(f"parse {go_quote(text)}: net/url: invalid control character in URL")
    raw = text.split("#", 1)[0]
    raw = raw.split("?", 1)[0]
    scheme, rest = _split_scheme(raw)
    if not scheme:
        first = rest.split("/", 1)[0]
        if not rest.startswith("/") and ":" in first:
            raise ClientError(
                f"parse {go_quote(text)}: first path segment in URL cannot contain colon"
            )
        scheme = default_scheme
        return Endpoint(f"{scheme}:{rest}" if rest else f"{scheme}:", scheme, "", None, "", rest)
    if not rest.startswith("//"):
        # "localhost:2379" parses as scheme "localhost" with opaque "2379".
        return Endpoint(f"{scheme}:{rest}", scheme, "", None, "", "")
    authority, slash, path = rest[2:].partition("/")
    path = slash + path
    hostport = authority.rpartition("@")[2]
    host, port = hostport, None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ClientError(f"parse {go_quote(text)}: missing ']' in host")
        host, tail = hostport[1:end], hostport[end + 1 :]
        if tail and not tail.startswith(":"):
            raise ClientError(f'parse {go_quote(text)}: invalid port "{tail}" after host')
        port_text = tail[1:] if tail else ""
    else:
        host, _, port_text = hostport.partition(":")
        if ":" in port_text:
            raise ClientError(f'parse {go_quote(text)}: invalid port ":{port_text}" after host')
    if port_text:
        if not port_text.isascii() or not port_text.isdigit():
            raise ClientError(f'parse {go_quote(text)}: invalid port ":{port_text}" after host')
        port = int(port_text)
    shown = f"{scheme}://{authority}{path}"
    decoded = unquote(path, errors="surrogateescape")
    return Endpoint(shown, scheme, host, port, authority, decoded, path)


@dataclass(slots=True)
class Action:
    """One HTTP request, independent of the endpoint it will be sent to."""

    method: str
    path: str
    path_style: Literal["keys", "join"] = "keys"
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    content_type: str | None = None
    wait: bool = False

    def url_path(self, endpoint: Endpoint) -> str:
        if self.path_style == "keys":
            full = canonical_url_path(endpoint.path + self.path)
        else:
            full = go_clean(f"{endpoint.path}/{self.path}" if endpoint.path else self.path)
        target = escape_path(full)
        if self.query:
            target += "?" + encode_query(self.query)
        return target


def encode_query(pairs: list[tuple[str, str]]) -> str:
    """Go's url.Values.Encode: keys sorted, QueryEscape'd (space becomes '+')."""
    from urllib.parse import quote_plus

    return "&".join(
        quote_plus(k.encode("utf-8", "surrogateescape"), safe="")
        + "="
        + quote_plus(v.encode("utf-8", "surrogateescape"), safe="")
        for k, v in sorted(pairs, key=lambda kv: kv[0])
    )


@dataclass(slots=True)
class HTTPResult:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass(slots=True)
class TLSFiles:
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""


class Client:
    """The endpoint list, the pinned endpoint, credentials, timeouts and TLS settings."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        *,
        header_timeout: float = 2.0,
        credentials: tuple[str, str] | None = None,
        tls: TLSFiles | None = None,
        debug: bool = False,
    ) -> None:
        if not endpoints:
            raise ClientError(NO_ENDPOINTS)
        self.endpoints = list(endpoints)
        self.pinned = 0
        self.header_timeout = header_timeout
        self.debug = debug
        self._auth: str | None = None
        if credentials is not None:
            token = f"{credentials[0]}:{credentials[1]}".encode("utf-8", "surrogateescape")
            self._auth = "Basic " + base64.b64encode(token).decode("ascii")
        self._tls = tls or TLSFiles()
        self._ssl: ssl.SSLContext | None = None
        self._pool: dict[tuple[str, str, int | None], http.client.HTTPConnection] = {}

    def endpoint_texts(self) -> list[str]:
        return [ep.text for ep in self.endpoints]

    def set_endpoints(self, endpoints: list[Endpoint]) -> None:
        if not endpoints:
            raise ClientError(NO_ENDPOINTS)
        self.endpoints = list(endpoints)
        self.pinned = 0

    def close(self) -> None:
        for conn in self._pool.values():
            conn.close()
        self._pool.clear()

    # -- one cluster request ---------------------------------------------------------

    def do(self, action: Action, deadline: float | None, *, one_shot: bool = False) -> HTTPResult:
        """Send ``action`` to the pinned endpoint, failing over like httpClusterClient.Do."""
        errors: list[ClientError] = []
        count = len(self.endpoints)
        for i in range(self.pinned, self.pinned + count):
            k = i % count
            endpoint = self.endpoints[k]
            err: ClientError
            try:
                result = self._do_following_redirects(endpoint, action, deadline)
            except DeadlineExceeded:
                raise
            except ClientError as exc:
                errors.append(exc)
                err = exc
            else:
                if result.status // 100 != 5:
                    self.pinned = k
                    return result
                if result.status in (500, 503):
                    errors.append(ClientError(f"client: etcd member {endpoint.text} has no leader"))
                else:
                    reason = http.client.responses.get(result.status, "")
                    errors.append(
                        ClientError(
                            f"client: etcd member {endpoint.text} returns server error [{reason}]"
                        )
                    )
                # The Go client reports the first error of the round here, not this one.
                err = errors[0]
            if one_shot:
                self.pinned = (k + 1) % count
                raise err
        raise ClusterError(errors)

    def _do_following_redirects(
        self, endpoint: Endpoint, action: Action, deadline: float | None
    ) -> HTTPResult:
        target = endpoint
        url_path = action.url_path(endpoint)
        for hop in range(_MAX_REDIRECTS + 2):
            if hop > _MAX_REDIRECTS:
                raise ClientError("client: too many redirects")
            result = self._round_trip(target, url_path, action, deadline)
            if result.status // 100 != 3:
                return result
            location = result.headers.get("Location", "")
            if not location:
                raise ClientError("location header not set")
            try:
                target = parse_endpoint(location)
            except ClientError:
                raise ClientError(f"location header not valid URL: {location}") from None
            url_path = target.raw_path or "/"
            if "?" in location:
                url_path += "?" + location.split("?", 1)[1].split("#", 1)[0]
        raise ClientError("client: too many redirects")

    # -- one HTTP exchange -------------------------------------------------------------

    def prepare_tls(self) -> None:
        """Load the TLS files now, so a bad path fails before any request is sent."""
        self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            files = self._tls
            try:
                ctx = ssl.create_default_context(cafile=files.ca_file or None)
                if files.cert_file or files.key_file:
                    ctx.load_cert_chain(files.cert_file, files.key_file or None)
            except FileNotFoundError as exc:
                paths = (files.ca_file, files.cert_file, files.key_file)
                gone = [path for path in paths if path and not os.path.exists(path)]
                missing = exc.filename or (gone[0] if gone else "")
                raise ClientError(f"open {missing}: no such file or directory") from None
            except (OSError, ssl.SSLError) as exc:
                raise ClientError(f"tls: failed to load the certificate files: {exc}") from None
            self._ssl = ctx
        return self._ssl

    def _connection(self, endpoint: Endpoint) -> tuple[http.client.HTTPConnection, bool]:
        key = (endpoint.scheme, endpoint.host, endpoint.port)
        conn = self._pool.get(key)
        if conn is not None:
            return conn, True
        if endpoint.scheme == "https":
            conn = http.client.HTTPSConnection(
                endpoint.host, endpoint.port, context=self.ssl_context()
            )
        else:
            conn = http.client.HTTPConnection(endpoint.host, endpoint.port)
        self._pool[key] = conn
        return conn, False

    def _drop(self, endpoint: Endpoint) -> None:
        conn = self._pool.pop((endpoint.scheme, endpoint.host, endpoint.port), None)
        if conn is not None:
            conn.close()

    def _round_trip(
        self, endpoint: Endpoint, url_path: str, action: Action, deadline: float | None
    ) -> HTTPResult:
        if endpoint.scheme not in ("http", "https"):
            raise ClientError(f'unsupported protocol scheme "{endpoint.scheme}"')
        if not endpoint.host:
            raise ClientError("http: no Host in request URL")
        url = f"{endpoint.scheme}://{endpoint.netloc}{url_path}"
        if self.debug:
            line = f"cURL Command: curl -X {action.method} {url}"
            if action.body is not None:
                line += " -d " + go_quote(action.body.decode("utf-8", "replace"))
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        headers = {"User-Agent": "Go-http-client/1.1"}
        if action.content_type is not None:
            headers["Content-Type"] = action.content_type
        if self._auth is not None:
            headers["Authorization"] = self._auth
        # A reused keep-alive connection may have been closed by the server meanwhile;
        # like Go's transport, retry such a request once on a fresh connection.
        for attempt in range(2):
            conn, reused = self._connection(endpoint)
            try:
                return self._exchange(conn, endpoint, url_path, action, headers, deadline)
            except _StaleConnection:
                self._drop(endpoint)
                if not reused or attempt == 1:
                    raise ClientError("EOF") from None
            except BaseException:
                self._drop(endpoint)
                raise
        raise ClientError("EOF")

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        endpoint: Endpoint,
        url_path: str,
        action: Action,
        headers: dict[str, str],
        deadline: float | None,
    ) -> HTTPResult:
        header_timeout = None if action.wait or self.header_timeout <= 0 else self.header_timeout
        timeout, by_deadline = _limit(header_timeout, deadline)
        if conn.sock is None:
            if endpoint.port is not None and endpoint.port > 0xFFFF:
                raise ConnectionFailure(f"dial tcp: address {endpoint.port}: invalid port")
            conn.timeout = timeout
            try:
                conn.connect()
            except TimeoutError:
                raise self._timeout_error(endpoint, by_deadline) from None
            except socket.gaierror:
                raise ConnectionFailure(f"dial tcp: lookup {endpoint.host}: no such host") from None
            except ssl.SSLError as exc:
                raise ClientError(_tls_message(exc)) from None
            except OSError as exc:
                raise ConnectionFailure(
                    f"dial tcp {endpoint.address}: connect: {_strerror(exc)}"
                ) from None
        else:
            conn.sock.settimeout(timeout)
        try:
            conn.request(action.method, url_path, body=action.body, headers=headers)
            response = conn.getresponse()
        except TimeoutError:
            raise self._timeout_error(endpoint, by_deadline) from None
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            raise _StaleConnection() from None
        except ssl.SSLError as exc:
            raise ClientError(_tls_message(exc)) from None
        except OSError as exc:
            raise ConnectionFailure(f"read tcp {endpoint.address}: {_strerror(exc)}") from None
        # The body is read under the command's deadline only (never the header timeout).
        body_timeout, _ = _limit(None, deadline)
        if conn.sock is not None:
            conn.sock.settimeout(body_timeout)
        try:
            body = response.read()
        except TimeoutError:
            raise DeadlineExceeded() from None
        except (http.client.IncompleteRead, OSError) as exc:
            raise ConnectionFailure(f"read tcp {endpoint.address}: {_strerror(exc)}") from None
        if response.will_close:
            self._drop(endpoint)
        return HTTPResult(response.status, response.headers, body)

    @staticmethod
    def _timeout_error(endpoint: Endpoint, by_deadline: bool) -> ClientError:
        if by_deadline:
            return DeadlineExceeded()
        return ClientError(f"client: endpoint {endpoint.text} exceeded header timeout")


class _StaleConnection(Exception):
    pass


def _limit(header_timeout: float | None, deadline: float | None) -> tuple[float | None, bool]:
    """The socket timeout to use, and whether it is the command deadline that binds."""
    if deadline is None:
        return header_timeout, False
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded()
    if header_timeout is None or remaining <= header_timeout:
        return remaining, True
    return header_timeout, False


def _strerror(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "read: connection reset by peer"
    if isinstance(exc, http.client.IncompleteRead):
        return "unexpected EOF"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _tls_message(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or ""
        if "unable to get local issuer" in reason or "self-signed" in reason:
            return "x509: certificate signed by unknown authority"
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            return f"x509: certificate is not valid for this host ({reason})"
        return f"x509: {reason}"
    return f"remote error: tls: {exc.reason or exc}"
