"""The member's configuration: etcd's flags, parsed and validated (etcd ``ServerConfig``).

The command line (``etcdpy.cli.daemon``) builds a :class:`Config` from flags and
``ETCD_*`` variables; everything below the CLI reads only this record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_NAME = "default"
DEFAULT_CLUSTER_TOKEN = "etcd-cluster"
DEFAULT_CLIENT_URL = "http://localhost:2379"
DEFAULT_PEER_URL = "http://localhost:2380"


@dataclass(slots=True)
class Config:
    name: str = DEFAULT_NAME
    # Empty means "<name>.etcd" in the working directory, as etcd does.
    data_dir: str = ""
    listen_client_urls: list[str] = field(default_factory=lambda: [DEFAULT_CLIENT_URL])
    advertise_client_urls: list[str] = field(default_factory=lambda: [DEFAULT_CLIENT_URL])
    listen_peer_urls: list[str] = field(default_factory=lambda: [DEFAULT_PEER_URL])
    initial_advertise_peer_urls: list[str] = field(default_factory=lambda: [DEFAULT_PEER_URL])
    # name -> peer URLs, in the order given on the command line.
    initial_cluster: dict[str, list[str]] = field(
        default_factory=lambda: {DEFAULT_NAME: [DEFAULT_PEER_URL]}
    )
    initial_cluster_state: str = "new"  # "new" or "existing"
    initial_cluster_token: str = DEFAULT_CLUSTER_TOKEN
    force_new_cluster: bool = False
    snapshot_count: int = 10_000
    heartbeat_interval_ms: int = 100
    election_timeout_ms: int = 1000
    max_snapshots: int = 5
    max_wals: int = 5
    cors: list[str] = field(default_factory=list)
    strict_reconfig_check: bool = False
    debug: bool = False
    # Client TLS.
    cert_file: str = ""
    key_file: str = ""
    trusted_ca_file: str = ""
    client_cert_auth: bool = False
    # Peer TLS.
    peer_cert_file: str = ""
    peer_key_file: str = ""
    peer_trusted_ca_file: str = ""
    peer_client_cert_auth: bool = False

    @property
    def member_dir(self) -> str:
        return self.data_dir or f"{self.name}.etcd"

    @property
    def election_ticks(self) -> int:
        return max(1, self.election_timeout_ms // self.heartbeat_interval_ms)
