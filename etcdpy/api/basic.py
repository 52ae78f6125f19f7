"""The small endpoints: ``/version``, ``/health``, ``/v2/machines`` and ``/v2/stats/*``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdpy.api import gojson
from etcdpy.api.http import Request
from etcdpy.api.responses import (
    JSON,
    TEXT,
    Response,
    http_error,
    message_error,
    method_not_allowed,
)
from etcdpy.version import ETCD_SERVER_VERSION

if TYPE_CHECKING:
    from etcdpy.server.etcdserver import EtcdServer


class BasicHandlers:
    def __init__(self, server: EtcdServer) -> None:
        self.server = server

    async def version(self, request: Request) -> Response:
        if request.method != "GET":
            return method_not_allowed("GET")
        body = {
            "etcdserver": ETCD_SERVER_VERSION,
            "etcdcluster": self.server.cluster_version or "not_decided",
        }
        return Response(body=gojson.dumps(body), headers={"Content-Type": JSON})

    async def health(self, request: Request) -> Response:
        if request.method != "GET":
            return method_not_allowed("GET")
        if await self.server.health():
            return Response(body=b'{"health":"true"}', headers={"Content-Type": TEXT})
        return http_error(503, '{"health":"false"}')

    async def machines(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed("GET,HEAD")
        body = ", ".join(self.server.client_urls()).encode()
        return Response(body=body, headers={"Content-Type": TEXT} if body else {})

    async def stats(self, request: Request, which: str) -> Response:
        if request.method != "GET":
            return method_not_allowed("GET")
        if which == "store":
            data: object = self.server.store_stats()
        elif which == "self":
            data = self.server.self_stats()
        else:
            data = self.server.leader_stats()
            if data is None:
                return message_error(403, "not current leader")
        return Response(body=gojson.dumps(data), headers={"Content-Type": JSON})
