"""cluster-health: ask every member's /health, like etcdctl's cluster_health.go."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

import click

from etcdpy.ctl.clickgo import GoCommand
from etcdpy.ctl.client import Client, Endpoint, parse_endpoint
from etcdpy.ctl.cmd_keys import ARGS
from etcdpy.ctl.errors import (
    EXIT_CLUSTER_NOT_HEALTHY,
    EXIT_SERVER_ERROR,
    EXIT_SUCCESS,
    ClientError,
    CtlExit,
    handle_error,
)
from etcdpy.ctl.members import Member, MembersAPI
from etcdpy.ctl.output import write_out
from etcdpy.ctl.response import go_json_error
from etcdpy.ctl.session import GlobalOptions, new_client

RECHECK_SECONDS = 10.0
# etcdctl dials for at most 30 s, or --total-timeout when that is shorter.
MAX_DIAL_SECONDS = 30.0


class HealthCheckError(Exception):
    pass


def fetch_health(client: Client, url: str, timeout: float) -> bytes:
    """GET <url>/health; str() of a failure reads like Go's ``Get "...": ...``."""
    target = url + "/health"
    try:
        endpoint: Endpoint = parse_endpoint(target)
    except ClientError as exc:
        raise HealthCheckError(str(exc)) from None
    if endpoint.scheme not in ("http", "https") or not endpoint.host:
        raise HealthCheckError(f'Get "{target}": unsupported protocol scheme "{endpoint.scheme}"')
    conn: http.client.HTTPConnection
    if endpoint.scheme == "https":
        try:
            context = client.ssl_context()
        except ClientError as exc:
            raise HealthCheckError(f'Get "{target}": {exc}') from None
        conn = http.client.HTTPSConnection(
            endpoint.host, endpoint.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    try:
        conn.request("GET", endpoint.path or "/", headers={"User-Agent": "Go-http-client/1.1"})
        return conn.getresponse().read()
    except ConnectionRefusedError:
        raise HealthCheckError(
            f'Get "{target}": dial tcp {endpoint.address}: connect: connection refused'
        ) from None
    except TimeoutError:
        raise HealthCheckError(
            f'Get "{target}": dial tcp {endpoint.address}: i/o timeout'
        ) from None
    except socket.gaierror:
        raise HealthCheckError(
            f'Get "{target}": dial tcp: lookup {endpoint.host}: no such host'
        ) from None
    except ssl.SSLError as exc:
        raise HealthCheckError(f'Get "{target}": {exc}') from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise HealthCheckError(f'Get "{target}": {reason[:1].lower()}{reason[1:]}') from None
    finally:
        conn.close()


def is_healthy(body: bytes) -> bool:
    """``{"health": "true"}`` (or a JSON bool) is healthy; bad JSON is an error."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        raise HealthCheckError(go_json_error(text) or "unexpected end of JSON input") from None
    if not isinstance(data, dict):
        raise HealthCheckError("json: cannot unmarshal the health response: object expected")
    lowered = {str(k).lower(): v for k, v in data.items()}
    health = lowered.get("health")
    return health == "true" or health is True


def check_once(client: Client, members: list[Member], timeout: float) -> bool:
    healthy = 0
    for m in members:
        if not m.client_urls:
            write_out(f"member {m.id} is unreachable: no available published client urls\n")
            continue
        checked = False
        for url in m.client_urls:
            try:
                ok = is_healthy(fetch_health(client, url, timeout))
            except HealthCheckError as exc:
                write_out(f"failed to check the health of member {m.id} on {url}: {exc}\n")
                continue
            checked = True
            if ok:
                healthy += 1
                write_out(f"member {m.id} is healthy: got healthy result from {url}\n")
            else:
                write_out(f"member {m.id} is unhealthy: got unhealthy result from {url}\n")
            break
        if not checked:
            urls = " ".join(m.client_urls)
            write_out(f"member {m.id} is unreachable: [{urls}] are all unreachable\n")
    if healthy == len(members):
        write_out("cluster is healthy\n")
    elif healthy == 0:
        write_out("cluster is unavailable\n")
    else:
        write_out("cluster is degraded\n")
    return healthy == len(members)


@click.command(
    "cluster-health",
    cls=GoCommand,
    short_help="check the health of the etcd cluster",
    help="Check the health of every member; exit status 5 unless all are healthy.",
)
@click.option(
    "--forever", "-f", is_flag=True, help="forever check the health every 10 second until CTRL+C"
)
@ARGS
@click.pass_context
def cluster_health_command(ctx: click.Context, forever: bool, args: tuple[str, ...]) -> None:
    opts: GlobalOptions = ctx.find_object(GlobalOptions) or GlobalOptions()
    timeout = MAX_DIAL_SECONDS
    if opts.total_timeout and opts.total_timeout < timeout:
        timeout = opts.total_timeout
    client = new_client(opts, sync=False)
    try:
        members = MembersAPI(client).list(None)
    except ClientError as exc:
        write_out("cluster may be unhealthy: failed to list members\n")
        raise handle_error(exc, EXIT_SERVER_ERROR) from None
    try:
        while True:
            healthy = check_once(client, members, timeout)
            if not forever:
                raise CtlExit(EXIT_SUCCESS if healthy else EXIT_CLUSTER_NOT_HEALTHY)
            write_out(f"\nnext check after {int(RECHECK_SECONDS)} second...\n\n")
            time.sleep(RECHECK_SECONDS)
    except KeyboardInterrupt:
        if forever:
            raise CtlExit(0) from None
        raise
