"""Global flags and how a command gets its client from them (etcdctl's util.go)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etcdpy.ctl.errors import (
    EXIT_BAD_ARGS,
    EXIT_BAD_CONNECTION,
    EXIT_SERVER_ERROR,
    NO_ENDPOINTS,
    ClientError,
    ClusterError,
    ConnectionFailure,
    CtlExit,
    DeadlineExceeded,
    handle_error,
)
from etcdpy.ctl.output import write_err, write_out

if TYPE_CHECKING:
    # The HTTP stack is imported by the commands that talk to a server, not by --help.
    from etcdpy.ctl.client import Client, TLSFiles

DEFAULT_ENDPOINTS = "http://127.0.0.1:2379,http://127.0.0.1:4001"

# Clients made by the running command, closed by :func:`close_clients` when it ends.
_open_clients: list[Client] = []


def close_clients() -> None:
    while _open_clients:
        _open_clients.pop().close()


@dataclass(slots=True)
class GlobalOptions:
    """etcdctl's global flags, as parsed (durations in seconds)."""

    debug: bool = False
    no_sync: bool = False
    output: str = "simple"
    discovery_srv: str = ""
    insecure_discovery: bool = False
    peers: str = ""
    endpoint: str = ""
    endpoints: str = ""
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    username: str = ""
    timeout: float = 2.0
    total_timeout: float = 5.0

    def deadline(self) -> float:
        """The end of the command's --total-timeout (0 means already expired, as in Go)."""
        return time.monotonic() + self.total_timeout

    def endpoint_list(self) -> list[str]:
        # getPeersFlagValue: each flag, then its environment variable, in this order.
        for value in (
            self.endpoints,
            os.environ.get("ETCDCTL_ENDPOINTS", ""),
            self.endpoint,
            os.environ.get("ETCDCTL_ENDPOINT", ""),
            self.peers,
            os.environ.get("ETCDCTL_PEERS", ""),
        ):
            if value:
                return value.split(",")
        return DEFAULT_ENDPOINTS.split(",")

    def tls_files(self) -> TLSFiles:
        from etcdpy.ctl.client import TLSFiles

        return TLSFiles(
            cert_file=self.cert_file or os.environ.get("ETCDCTL_CERT_FILE", ""),
            key_file=self.key_file or os.environ.get("ETCDCTL_KEY_FILE", ""),
            ca_file=self.ca_file or os.environ.get("ETCDCTL_CA_FILE", ""),
        )

    def credentials(self) -> tuple[str, str] | None:
        flag = self.username or os.environ.get("ETCDCTL_USERNAME", "")
        if not flag:
            return None
        user, colon, password = flag.partition(":")
        if not colon:
            password = ask_password("Password: ")
        return user, password

    def discovery_check(self) -> None:
        domain = self.discovery_srv or os.environ.get("ETCDCTL_DISCOVERY_SRV", "")
        if domain:
            raise ClientError(
                f"DNS SRV discovery (--discovery-srv {domain}) is not supported by etcdpyctl; "
                "list the members with --endpoints instead."
            )


def ask_password(prompt: str) -> str:
    """Prompt without echo on a terminal; otherwise read one line from stdin, showing
    the prompt on stdout as etcdctl does."""
    import sys

    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        try:
            return getpass.getpass(prompt)
        except EOFError:
            raise ClientError("EOF") from None
    write_out(prompt)
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    line = stream.readline() if stream is not None else b""
    write_out("\n")
    if isinstance(line, bytes):
        line = line.decode("utf-8", "surrogateescape")
    return line.rstrip("\r\n")


def is_connection_error(err: BaseException) -> bool:
    """etcdctl's isConnectionError: dial/read failures and timeouts, nothing else."""
    if isinstance(err, ClusterError):
        return err.only_connection_errors()
    return isinstance(err, ConnectionFailure | DeadlineExceeded)


def new_client(opts: GlobalOptions, *, sync: bool = True) -> Client:
    """mustNewClient (sync=True) / mustNewClientNoSync; raises CtlExit like os.Exit."""
    from etcdpy.ctl.client import Client, parse_endpoint

    try:
        opts.discovery_check()
        endpoints = [parse_endpoint(text) for text in opts.endpoint_list()]
        tls = opts.tls_files()
        if bool(tls.cert_file) != bool(tls.key_file):
            raise ClientError(
                "KeyFile and CertFile must both be present"
                f"[key: {tls.key_file}, cert: {tls.cert_file}]"
            )
        client = Client(
            endpoints,
            header_timeout=opts.timeout,
            credentials=opts.credentials(),
            tls=tls,
            debug=opts.debug,
        )
        _open_clients.append(client)
        if tls.cert_file or tls.ca_file:
            client.prepare_tls()
    except ClientError as exc:
        raise CtlExit(EXIT_BAD_ARGS, f"{exc}\n") from None
    if sync and not opts.no_sync:
        if opts.debug:
            shown = ",".join(client.endpoint_texts())
            write_err(f"start to sync cluster using endpoints({shown})\n")
        try:
            sync_endpoints(client, opts.deadline())
        except ClientError as exc:
            if str(exc) == NO_ENDPOINTS:
                write_err(
                    "etcd cluster has no published client endpoints.\n"
                    "Try '--no-sync' if you want to access non-published client "
                    f"endpoints({','.join(client.endpoint_texts())}).\n"
                )
                raise handle_error(exc, EXIT_SERVER_ERROR) from None
            if is_connection_error(exc):
                raise handle_error(exc, EXIT_BAD_CONNECTION) from None
            # Any other sync failure is ignored: the command runs on the given endpoints.
        if opts.debug:
            write_err(f"got endpoints({','.join(client.endpoint_texts())}) after sync\n")
    if opts.debug:
        write_err(f"Cluster-Endpoints: {', '.join(client.endpoint_texts())}\n")
    return client


def sync_endpoints(client: Client, deadline: float) -> None:
    """Client.Sync: replace the endpoints by the members' client URLs when they differ."""
    from etcdpy.ctl.client import parse_endpoint
    from etcdpy.ctl.members import MembersAPI

    members = MembersAPI(client).list(deadline)
    urls = [url for member in members for url in member.client_urls]
    if not urls:
        raise ClientError(NO_ENDPOINTS)
    endpoints = [parse_endpoint(url) for url in urls]
    if sorted(ep.text for ep in endpoints) == sorted(client.endpoint_texts()):
        return
    client.set_endpoints(endpoints)
