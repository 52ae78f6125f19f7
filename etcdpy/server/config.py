"""The member's configuration: etcd's flags, parsed and validated (etcd ``ServerConfig``).

The command line (``etcdpy.cli.daemon``) builds a :class:`Config` from flags and
``ETCD_*`` variables; everything below the CLI reads only this record.

Checking is split in two, as etcd does: :meth:`Config.validate` holds for every start,
:meth:`Config.validate_bootstrap` only when the member bootstraps (no WAL yet), because a
restarted member ignores the ``--initial-*`` flags. The syntax of single values (URLs,
numbers) is checked where strings come in, in ``etcdpy.cli.flags``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_NAME = "default"
DEFAULT_CLUSTER_TOKEN = "etcd-cluster"
DEFAULT_CLIENT_URL = "http://localhost:2379"
DEFAULT_PEER_URL = "http://localhost:2380"
# etcd 2.x's DefaultSnapCount; --snapshot-count=0 means this too, as in every etcd
# (etcd 3.4 maps 0 to its own default, 100000).
DEFAULT_SNAPSHOT_COUNT = 10_000

# etcdmain/config.go maxElectionMs; etcd also wants at least 5 heartbeats per election.
MAX_ELECTION_TIMEOUT_MS = 50_000
MIN_HEARTBEATS_PER_ELECTION = 5


class ConfigError(ValueError):
    """A configuration etcd would refuse; ``str()`` is one sentence for the operator."""


@dataclass(slots=True)
class Config:
    name: str = DEFAULT_NAME
    # Empty means "<name>.etcd" in the working directory, as etcd does.
    data_dir: str = ""
    listen_client_urls: list[str] = field(default_factory=lambda: [DEFAULT_CLIENT_URL])
    # Empty when --listen-client-urls was given without it, which validate() refuses.
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
    snapshot_count: int = DEFAULT_SNAPSHOT_COUNT
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

    def validate(self) -> None:
        """Raise :class:`ConfigError` if this member cannot start with these values."""
        if self.initial_cluster_state not in ("new", "existing"):
            raise ConfigError(
                f"--initial-cluster-state={self.initial_cluster_state!r} is not valid; "
                "use new or existing."
            )
        if self.heartbeat_interval_ms <= 0:
            raise ConfigError(
                f"--heartbeat-interval must be >0 (set to {self.heartbeat_interval_ms}ms); "
                "the default is 100."
            )
        if self.election_timeout_ms < MIN_HEARTBEATS_PER_ELECTION * self.heartbeat_interval_ms:
            raise ConfigError(
                f"--election-timeout[{self.election_timeout_ms}ms] should be at least as "
                f"{MIN_HEARTBEATS_PER_ELECTION} times as "
                f"--heartbeat-interval[{self.heartbeat_interval_ms}ms]; raise the election "
                "timeout or lower the heartbeat interval."
            )
        if self.election_timeout_ms > MAX_ELECTION_TIMEOUT_MS:
            raise ConfigError(
                f"--election-timeout[{self.election_timeout_ms}ms] is too long, and should be "
                f"set less than {MAX_ELECTION_TIMEOUT_MS}ms."
            )
        if self.snapshot_count <= 0:
            # The command line turns --snapshot-count=0 into the default before this.
            raise ConfigError(
                f"--snapshot-count must be >0 (set to {self.snapshot_count}); "
                f"the default is {DEFAULT_SNAPSHOT_COUNT}."
            )
        if not self.name:
            raise ConfigError("--name must not be empty; give this member a name.")
        # Last, as in etcd's embed.Config.Validate.
        if self.listen_client_urls and not self.advertise_client_urls:
            raise ConfigError(
                "--advertise-client-urls is required when --listen-client-urls is set "
                "explicitly: when listening on specific address(es), this etcd process must "
                "advertise accessible url(s) to each connected client, so set "
                "--advertise-client-urls to the URLs clients reach this member at."
            )

    def validate_bootstrap(self) -> None:
        """Raise :class:`ConfigError` if a member with no WAL cannot bootstrap from these
        ``--initial-*`` values (etcd ``ServerConfig.VerifyBootstrap``/``VerifyJoinExisting``).
        """
        cluster = self.initial_cluster
        if self.name not in cluster:
            raise ConfigError(
                f'couldn\'t find local name "{self.name}" in the initial cluster configuration '
                f"(--initial-cluster={format_initial_cluster(cluster)}); "
                f"add {self.name}=<peer URL> to it or fix --name."
            )
        seen: set[str] = set()
        for url in (u for urls in cluster.values() for u in urls):
            key = _comparable_url(url)
            if key in seen:
                raise ConfigError(
                    f"initial cluster {format_initial_cluster(cluster)} has duplicate url "
                    f"{url}; every member needs its own peer URLs."
                )
            seen.add(key)
        if self.initial_cluster_state != "new":
            return
        mine = sorted(_comparable_url(u) for u in cluster[self.name])
        advertised = sorted(_comparable_url(u) for u in self.initial_advertise_peer_urls)
        if mine != advertised:
            raise ConfigError(
                f"--initial-cluster has {self.name}={','.join(cluster[self.name])} but "
                "--initial-advertise-peer-urls="
                f"{','.join(self.initial_advertise_peer_urls)}; a new member must advertise "
                "exactly the peer URLs the initial cluster gives it."
            )


def format_initial_cluster(cluster: dict[str, list[str]]) -> str:
    """The ``--initial-cluster`` spelling of ``cluster``: ``name=url,...``."""
    return ",".join(f"{name}={url}" for name, urls in cluster.items() for url in urls)


def _comparable_url(url: str) -> str:
    # etcd resolves host names before comparing peer URLs; the only name etcdpy accepts
    # in a listen URL is localhost, so that is the one resolution that matters here.
    return url.replace("://localhost:", "://127.0.0.1:", 1).rstrip("/")
