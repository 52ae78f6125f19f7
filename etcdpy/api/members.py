"""``/v2/members``: list, leader, add, remove and update members (etcd ``membersHandler``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from etcdpy.api import gojson
from etcdpy.api.auth import no_auth
from etcdpy.api.auth_access import AccessGuard
from etcdpy.api.goform import MAX_FORM_BYTES
from etcdpy.api.http import Request, StreamResponse
from etcdpy.api.memberrequest import MemberRequestError, content_type_error, parse_peer_urls
from etcdpy.api.responses import (
    JSON,
    Response,
    continue_body,
    http_error,
    message_error,
    method_not_allowed,
)
from etcdpy.server.errors import ServerError
from etcdpy.server.member import id_str, parse_id
from etcdpy.server.membership import (
    MemberIDExists,
    MemberNotFound,
    MemberRemoved,
    MembershipError,
    PeerURLExists,
)

if TYPE_CHECKING:
    from etcdpy.server.etcdserver import EtcdServer

log = logging.getLogger(__name__)

PREFIX = "/v2/members"
ALLOWED = "GET,POST,DELETE,PUT"


class MembersHandler:
    def __init__(self, server: EtcdServer, guard: AccessGuard) -> None:
        self.server = server
        self.guard = guard
        self._cid = id_str(server.cluster_id)

    async def serve(self, request: Request, path: str) -> Response | StreamResponse:
        method = request.method
        if method not in ("GET", "POST", "DELETE", "PUT"):
            return method_not_allowed(ALLOWED)
        if not await self.guard.write_root_access(request):
            return no_auth()
        h = {"X-Etcd-Cluster-Id": self._cid}
        sub = path[len(PREFIX) :]
        if sub.startswith("/"):
            sub = sub[1:]
        if method == "GET":
            return self._get(sub, h)
        if method == "POST":
            return await self._add(request, h)
        if not sub:
            return http_error(405, "Method Not Allowed", h)
        try:
            mid = parse_id(sub)
        except ValueError:
            return message_error(404, f"No such member: {sub}", h)
        if method == "DELETE":
            return await self._remove(mid, h)
        return await self._update(request, mid, h)

    def _get(self, sub: str, h: dict[str, str]) -> Response:
        if sub == "":
            body = {"members": [m.to_dict() for m in self.server.members()]}
        elif sub == "leader":
            lid = self.server.leader_id()
            m = self.server.member(lid) if lid is not None else None
            if m is None:
                return message_error(503, "During election", h)
            body = m.to_dict()
        else:
            return message_error(404, "Not found", h)
        return Response(
            status=200, body=gojson.dumps_line(body), headers={"Content-Type": JSON, **h}
        )

    async def _peer_urls(self, request: Request, h: dict[str, str]) -> list[str] | Response:
        bad_type = content_type_error(request.headers.get("Content-Type"))
        if bad_type is not None:
            return message_error(415, bad_type, h)
        n = request.content_length
        if n is not None and n > MAX_FORM_BYTES:
            resp = message_error(400, "http: request body too large", h)
            resp.force_close()
            return resp
        await continue_body(request)
        body = await request.content.read(MAX_FORM_BYTES + 1)
        while len(body) <= MAX_FORM_BYTES:
            more = await request.content.read(MAX_FORM_BYTES + 1 - len(body))
            if not more:
                break
            body += more
        if len(body) > MAX_FORM_BYTES:
            resp = message_error(400, "http: request body too large", h)
            resp.force_close()
            return resp
        try:
            return parse_peer_urls(body)
        except MemberRequestError as exc:
            return message_error(400, str(exc), h)

    async def _add(self, request: Request, h: dict[str, str]) -> Response:
        urls = await self._peer_urls(request, h)
        if isinstance(urls, Response):
            return urls
        try:
            m = await self.server.add_member(urls)
        except (MemberIDExists, PeerURLExists) as exc:
            return message_error(409, str(exc), h)
        except (MembershipError, ServerError) as exc:
            log.error("error adding member with peer URLs %s (%s)", urls, exc)
            return message_error(500, "Internal Server Error", h)
        return Response(
            status=201, body=gojson.dumps_line(m.to_dict()), headers={"Content-Type": JSON, **h}
        )

    async def _remove(self, mid: int, h: dict[str, str]) -> Response:
        try:
            await self.server.remove_member(mid)
        except MemberRemoved:
            return message_error(410, f"Member permanently removed: {id_str(mid)}", h)
        except MemberNotFound:
            return message_error(404, f"No such member: {id_str(mid)}", h)
        except (MembershipError, ServerError) as exc:
            log.error("error removing member %s (%s)", id_str(mid), exc)
            return message_error(500, "Internal Server Error", h)
        return Response(status=204, headers=h)

    async def _update(self, request: Request, mid: int, h: dict[str, str]) -> Response:
        urls = await self._peer_urls(request, h)
        if isinstance(urls, Response):
            return urls
        try:
            await self.server.update_member(mid, urls)
        except PeerURLExists as exc:
            return message_error(409, str(exc), h)
        except MemberNotFound:
            return message_error(404, f"No such member: {id_str(mid)}", h)
        except (MembershipError, ServerError) as exc:
            log.error("error updating member %s (%s)", id_str(mid), exc)
            return message_error(500, "Internal Server Error", h)
        return Response(status=204, headers=h)
