"""Run one member: the server facade plus the client API on every ``--listen-client-urls``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from etcdpy.server.config import Config, ConfigError
from etcdpy.server.etcdserver import EtcdServer
from etcdpy.server.member import id_str

if TYPE_CHECKING:
    from etcdpy.api.app import ClientAPI

log = logging.getLogger(__name__)

# How long a stopping member waits for requests in flight (watches are ended first).
SHUTDOWN_GRACE_S = 2.0


def raise_open_files_limit() -> None:
    """Lift the soft limit on open files to the hard one, as Go's runtime does for etcd:
    every long-poll watch holds a connection."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _ssl_context(cfg: Config) -> ssl.SSLContext:
    if not cfg.cert_file or not cfg.key_file:
        raise ConfigError(
            "an https client URL needs --cert-file and --key-file; give both or listen on http."
        )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    if cfg.client_cert_auth:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if cfg.trusted_ca_file:
            ctx.load_verify_locations(cfg.trusted_ca_file)
    return ctx


def _site(runner: web.BaseRunner, url: str, cfg: Config) -> web.BaseSite:
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname or u.port is None:
        raise ConfigError(
            f"cannot listen on client URL {url!r}; use http://IP:port or https://IP:port."
        )
    ctx = _ssl_context(cfg) if u.scheme == "https" else None
    return web.TCPSite(runner, u.hostname, u.port, ssl_context=ctx, backlog=4096)


async def run_member(cfg: Config) -> None:
    """Serve until cancelled (SIGTERM/SIGINT in the daemon) or until the member is removed
    from the cluster; stop cleanly either way."""
    # The one place the server layer meets the API above it: this is the composition root.
    from etcdpy.api.app import ClientAPI

    raise_open_files_limit()
    server = EtcdServer(cfg)
    await server.start()
    api = ClientAPI(server, cfg.cors)
    runner = web.ServerRunner(api.make_server(), shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    peer_runner = web.AppRunner(peer_app(server), access_log=None, shutdown_timeout=1.0)
    await peer_runner.setup()
    try:
        for url in cfg.listen_peer_urls:
            site = _site(peer_runner, url, cfg)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen for peers on {url}: {exc.strerror or exc}; "
                    "is another member or program using that port?"
                ) from None
        for url in cfg.listen_client_urls:
            site = _site(runner, url, cfg)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen for clients on {url}: {exc.strerror or exc}; "
                    "is another member or program using that port?"
                ) from None
        log.info(
            "ready to serve client requests on %s (member %s, cluster %s)",
            ", ".join(cfg.listen_client_urls),
            id_str(server.id),
            id_str(server.cluster_id),
        )
        await server.wait_stopped()
    finally:
        await asyncio.shield(_shutdown(runner, peer_runner, api, server))


def peer_app(server: EtcdServer) -> web.Application:
    """The peer listener: Raft messages, snapshots and the member list for joiners."""
    # A batch of appends can carry several 1 MiB values; snapshots are streamed.
    app = web.Application(client_max_size=64 << 20)
    app.add_routes(server.transport.routes())
    return app


async def _shutdown(
    runner: web.BaseRunner, peer_runner: web.BaseRunner, api: ClientAPI, server: EtcdServer
) -> None:
    try:
        api.shutdown()
        await runner.cleanup()
        await peer_runner.cleanup()
    finally:
        await server.stop()
