"""TLS contexts for the client and peer listeners and for talking to peers, from etcd's
flags, with etcd 3.4's rules (``transport.TLSInfo``).

- An ``https://`` listener needs a certificate and key (``--cert-file``/``--key-file``,
  ``--peer-cert-file``/``--peer-key-file``).
- A listener demands and verifies a client certificate when ``--client-cert-auth`` is on
  *or* a trusted CA file is given (etcd 3.4 does both; 2.x's ``--ca-file`` meant
  "trusted CA plus client-cert-auth"). Without a CA file the system CAs verify.
- A member talking to its peers presents its peer certificate and trusts
  ``--peer-trusted-ca-file`` (or the system CAs), checking that the peer's certificate
  names the host of its URL.
- TLS 1.2 at least, as etcd 3.4.

Every file is read once at start, before the data dir is touched, and a file that is
missing, unreadable, encrypted or not what its flag says ends the start with one
sentence naming the flag and the file.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etcdpy.server.config import ConfigError

if TYPE_CHECKING:
    from etcdpy.server.config import Config


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """One side's TLS flags (client or peer) and the names they have on the command line."""

    kind: str  # "client" or "peer"
    cert: str
    key: str
    trusted_ca: str
    client_cert_auth: bool

    @property
    def prefix(self) -> str:
        return "peer-" if self.kind == "peer" else ""

    @property
    def empty(self) -> bool:
        return not (self.cert or self.key or self.trusted_ca)


def client_files(cfg: Config) -> TLSFiles:
    return TLSFiles(
        "client", cfg.cert_file, cfg.key_file, cfg.trusted_ca_file, cfg.client_cert_auth
    )


def peer_files(cfg: Config) -> TLSFiles:
    return TLSFiles(
        "peer",
        cfg.peer_cert_file,
        cfg.peer_key_file,
        cfg.peer_trusted_ca_file,
        cfg.peer_client_cert_auth,
    )


class _EncryptedKey(Exception):
    pass


def _no_password() -> str:
    # Called by OpenSSL only for an encrypted key; etcd needs clear keys (and a member
    # must never stop at start to ask for a passphrase on a terminal).
    raise _EncryptedKey


def _check_readable(flag: str, path: str) -> None:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise ConfigError(
            f"cannot read --{flag}={path}: {e.strerror or e}; give the path of a PEM file "
            "this user can read."
        ) from None


def _load_chain(ctx: ssl.SSLContext, files: TLSFiles) -> None:
    p = files.prefix
    if not files.cert or not files.key:
        missing = f"--{p}cert-file" if not files.cert else f"--{p}key-file"
        raise ConfigError(
            f"{missing} is not set: TLS for {files.kind}s needs both --{p}cert-file and "
            f"--{p}key-file; give both, or use http:// URLs."
        )
    _check_readable(f"{p}cert-file", files.cert)
    _check_readable(f"{p}key-file", files.key)
    try:
        ctx.load_cert_chain(files.cert, files.key, password=_no_password)
    except _EncryptedKey:
        raise ConfigError(
            f"--{p}key-file={files.key} is encrypted; etcd needs an unencrypted private key "
            "(decrypt it, e.g. with openssl pkey)."
        ) from None
    except ssl.SSLError as e:
        reason = e.reason or str(e)
        raise ConfigError(
            f"--{p}cert-file={files.cert} and --{p}key-file={files.key} are not a usable "
            f"certificate and private key ({reason}); give a PEM certificate and its own "
            "PEM private key."
        ) from None


def _load_ca(ctx: ssl.SSLContext, files: TLSFiles) -> None:
    flag = f"{files.prefix}trusted-ca-file"
    _check_readable(flag, files.trusted_ca)
    try:
        ctx.load_verify_locations(cafile=files.trusted_ca)
    except ssl.SSLError as e:
        raise ConfigError(
            f"--{flag}={files.trusted_ca} holds no usable CA certificate ({e.reason or e}); "
            f"give the PEM certificate of the CA that signs the {files.kind} certificates."
        ) from None


def server_context(files: TLSFiles) -> ssl.SSLContext:
    """The context of an ``https://`` listener."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(ctx, files)
    if files.trusted_ca or files.client_cert_auth:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if files.trusted_ca:
            _load_ca(ctx, files)
        else:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return ctx


def client_context(files: TLSFiles) -> ssl.SSLContext | None:
    """The context for requests to ``https://`` peers, or None when no peer TLS flag is
    set (then the system defaults apply)."""
    if files.empty:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.cert or files.key:
        _load_chain(ctx, files)
    if files.trusted_ca:
        _load_ca(ctx, files)
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    return ctx


def _https(urls: list[str]) -> bool:
    # A malformed URL is the listener's to report; here it only is not https.
    return any(u.startswith("https://") for u in urls)


@dataclass(slots=True)
class MemberTLS:
    """Every TLS context one member needs, built (and so checked) at once."""

    client_server: ssl.SSLContext | None
    peer_server: ssl.SSLContext | None
    peer_client: ssl.SSLContext | None


def member_tls(cfg: Config) -> MemberTLS:
    """Build the contexts the member's URLs and flags call for; raise ConfigError with
    one sentence for anything etcd would refuse."""
    client = client_files(cfg)
    peer = peer_files(cfg)
    client_server = server_context(client) if _https(cfg.listen_client_urls) else None
    peer_server = server_context(peer) if _https(cfg.listen_peer_urls) else None
    return MemberTLS(client_server, peer_server, client_context(peer))
