"""Run one member: the server facade plus the client API on every ``--listen-client-urls``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from etcdpy.server.config import Config, ConfigError
from etcdpy.server.etcdserver import EtcdServer
from etcdpy.server.member import id_str
from etcdpy.server.tls import member_tls

if TYPE_CHECKING:
    import ssl

    from etcdpy.api.app import ClientAPI
    from etcdpy.api.http import HTTPServer

log = logging.getLogger(__name__)

# Allocations between young-generation collections (Python's default is 700).
GC_THRESHOLD = 20_000
# How long a stopping member waits for requests in flight (watches are ended first).
SHUTDOWN_GRACE_S = 2.0
# Idle peer connections are closed after this long (aiohttp's default is an hour).
PEER_IDLE_S = 75.0


def raise_open_files_limit() -> None:
    """Lift the soft limit on open files to the hard one, as Go's runtime does for etcd:
    every long-poll watch holds a connection."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _address(url: str) -> tuple[str, int, bool]:
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname or u.port is None:
        raise ConfigError(
            f"cannot listen on client URL {url!r}; use http://IP:port or https://IP:port."
        )
    return u.hostname, u.port, u.scheme == "https"


def _site(runner: web.BaseRunner, url: str, ctx: ssl.SSLContext | None) -> web.BaseSite:
    host, port, tls = _address(url)
    return web.TCPSite(runner, host, port, ssl_context=ctx if tls else None, backlog=4096)


def _busy(kind: str, url: str, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot listen for {kind} on {url}: {exc.strerror or exc}; "
        "is another member or program using that port?"
    )


async def run_member(cfg: Config) -> None:
    """Serve until cancelled (SIGTERM/SIGINT in the daemon) or until the member is removed
    from the cluster; stop cleanly either way."""
    # The one place the server layer meets the API above it: this is the composition root.
    from etcdpy.api.app import ClientAPI

    raise_open_files_limit()
    # The WAL's fsync thread hands each result back through the GIL; with Python's
    # default 5 ms switch interval a busy event loop can keep it waiting that long per
    # batch. A shorter interval bounds that wait (two threads: the switching is cheap).
    sys.setswitchinterval(float(os.environ.get("ETCDPY_SWITCH_INTERVAL", "0.0005")))
    # Every certificate and key is read before the data dir is touched: a bad one ends
    # the start with one sentence and leaves nothing behind.
    tls = member_tls(cfg)
    server = EtcdServer(cfg)
    await server.start()
    # Everything built so far (modules, the recovered store) lives as long as the
    # process: keep it out of the collector's full passes, which otherwise stall every
    # request for tens of milliseconds; and collect the young generation less often.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    api = ClientAPI(server, cfg.cors)
    http = api.make_server()
    # Peers keep their connections 60 s idle (transport.py); a connection that sends
    # nothing for longer is not a peer's, and must not hold a descriptor for an hour.
    peer_runner = web.AppRunner(
        peer_app(server), access_log=None, shutdown_timeout=1.0, keepalive_timeout=PEER_IDLE_S
    )
    await peer_runner.setup()
    try:
        for url in cfg.listen_peer_urls:
            site = _site(peer_runner, url, tls.peer_server)
            try:
                await site.start()
            except OSError as exc:
                raise _busy("peers", url, exc) from None
        for url in cfg.listen_client_urls:
            host, port, https = _address(url)
            try:
                await http.listen(host, port, ssl=tls.client_server if https else None)
            except OSError as exc:
                raise _busy("clients", url, exc) from None
        if not server.stopping:
            log.info(
                "ready to serve client requests on %s (member %s, cluster %s)",
                ", ".join(cfg.listen_client_urls),
                id_str(server.id),
                id_str(server.cluster_id),
            )
        await server.wait_stopped()
    finally:
        await asyncio.shield(_shutdown(http, peer_runner, api, server))


def peer_app(server: EtcdServer) -> web.Application:
    """The peer listener: Raft messages, snapshots and the member list for joiners."""
    # A batch of appends can carry several 1 MiB values; snapshots are streamed.
    app = web.Application(client_max_size=64 << 20)
    app.add_routes(server.transport.routes())
    return app


async def _shutdown(
    http: HTTPServer, peer_runner: web.BaseRunner, api: ClientAPI, server: EtcdServer
) -> None:
    try:
        api.shutdown()
        await http.close(SHUTDOWN_GRACE_S)
        await peer_runner.cleanup()
    finally:
        await server.stop()
