"""etcd's member flags, read the way Go's ``flag`` package and etcd's ``pkg/flags`` read them.

Scripts written for etcd must start etcdpy unchanged, so the syntax is Go's, not POSIX's:
long names take one or two dashes (``-data-dir`` and ``--data-dir``), a value follows as
``=v`` or as the next argument, a boolean never takes the next argument (``-debug`` or
``-debug=false``), a repeated flag overrides the earlier one, and parsing stops at the first
argument that is not a flag. Every flag may also come from ``ETCD_<FLAG>`` in the
environment; the command line wins. Click cannot express half of this (single-dash long
names, ``--flag=false``, last-wins for list values), and a table-driven parser of this size
keeps the daemon's start-up imports small.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from etcdpy.server.config import DEFAULT_SNAPSHOT_COUNT, Config, format_initial_cluster

# Exit codes: 2 for what Go's flag package refuses (the shape of the command line), 1 for
# values etcd refuses once they are read (etcd prints "error verifying flags" and exits 1).
EXIT_USAGE = 2
EXIT_BAD_VALUE = 1

ENV_PREFIX = "ETCD_"

# What the server cannot honour yet, by flag name, plus URL schemes; each is refused with
# a sentence naming the reason. Lift an entry when the server learns it.
NOT_YET_SUPPORTED: dict[str, str] = {}

# URL schemes a member URL may use.
URL_SCHEMES = ("http", "https")


class FlagError(Exception):
    """A command line or ``ETCD_*`` variable etcdpy refuses; ``str()`` is one sentence."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_VALUE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- value parsers: each returns the typed value or raises ValueError(reason) ----------


def parse_string(raw: str) -> str:
    return raw


def parse_bool(raw: str) -> bool:
    # strconv.ParseBool's spellings exactly.
    if raw in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if raw in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError("expected true or false")


UINT64_MAX = (1 << 64) - 1


def parse_uint(raw: str) -> int:
    """Read ``raw`` as Go's ``flag.Uint``/``Uint64`` do: ``strconv.ParseUint(raw, 0, 64)``.

    So ``0x10``, ``0o20``, ``0b10000`` and ``020`` (a leading 0 is octal) are all 16, and
    ``1_000`` is 1000: a script written for etcd means the same number to etcdpy.
    """
    base, digits, octal_by_zero = 10, raw, False
    if raw[:1] == "0" and len(raw) > 1:
        prefix = raw[1].lower()
        if len(raw) >= 3 and prefix in "box":
            base, digits = {"b": 2, "o": 8, "x": 16}[prefix], raw[2:]
        else:
            base, digits, octal_by_zero = 8, raw[1:], True
    value = 0
    for char in digits:
        if char == "_":
            continue
        digit = int(char, 36) if char.isascii() and char.isalnum() else 36
        if digit >= base:
            if octal_by_zero and char in "89":
                raise ValueError("a leading 0 makes it octal, and 8 and 9 are not octal digits")
            raise ValueError("expected a non-negative whole number")
        value = value * base + digit
        if value > UINT64_MAX:
            raise ValueError(f"value out of range, the largest is {UINT64_MAX}")
    if not raw or ("_" in raw and not _underscores_ok(raw)):
        raise ValueError("expected a non-negative whole number")
    return value


def _underscores_ok(raw: str) -> bool:
    # strconv's underscoreOK: "_" only between digits, a base prefix counting as a digit.
    saw = "^"  # ^ start, 0 digit or prefix, _ underscore, ! anything else
    i = 0
    hex_digits = False
    if len(raw) >= 2 and raw[0] == "0" and raw[1].lower() in "box":
        i, saw, hex_digits = 2, "0", raw[1].lower() == "x"
    for char in raw[i:]:
        if char.isdigit() or (hex_digits and char.lower() in "abcdef"):
            saw = "0"
        elif char == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def parse_cluster_state(raw: str) -> str:
    if raw not in ("new", "existing"):
        raise ValueError("expected new or existing")
    return raw


def parse_csv(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _check_url(url: str) -> tuple[str, int]:
    """Check one member URL as etcd's ``types.NewURLs`` does; return (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f'URL "{url}" has an invalid host or port') from None
    if parts.scheme in NOT_YET_SUPPORTED:
        raise ValueError(
            f'{NOT_YET_SUPPORTED[parts.scheme]}, so "{url}" cannot be used; use http://'
        )
    if parts.scheme not in URL_SCHEMES:
        raise ValueError(
            f'URL scheme must be http or https in "{url}"; write URLs as http://127.0.0.1:2379'
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f'URL "{url}" must not contain a user name or password')
    host = parts.hostname or ""
    if not host:
        raise ValueError(f'URL "{url}" has no host; write it as http://host:port')
    if port is None:
        raise ValueError(
            f'URL address does not have the form "host:port": "{url}"; add a port, '
            "e.g. http://127.0.0.1:2379"
        )
    if port == 0:
        raise ValueError(f'URL "{url}" has port 0; give a port from 1 to 65535')
    if parts.path or parts.query or parts.fragment:
        raise ValueError(f'URL must not contain a path: "{url}"; remove everything after the port')
    return host, port


def parse_urls(raw: str) -> list[str]:
    urls = raw.split(",")
    for url in urls:
        _check_url(url)
    return urls


def parse_listen_urls(raw: str) -> list[str]:
    import ipaddress

    urls = raw.split(",")
    for url in urls:
        host, _ = _check_url(url)
        if host == "localhost":
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f'expected IP in URL for binding ("{url}"); listen on an IP address '
                "such as 127.0.0.1 or 0.0.0.0 (localhost is accepted as 127.0.0.1)"
            ) from None
    return urls


def parse_initial_cluster(raw: str) -> dict[str, list[str]]:
    cluster: dict[str, list[str]] = {}
    for pair in raw.split(","):
        name, sep, url = pair.partition("=")
        if not sep or not name:
            raise ValueError(
                f'"{pair}" is not a name=URL pair; write the cluster as '
                "n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380"
            )
        _check_url(url)
        cluster.setdefault(name, []).append(url)
    return cluster


def bind_url(url: str) -> str:
    """``url`` with the host ``localhost`` replaced by 127.0.0.1, the address to bind."""
    parts = urlsplit(url)
    if parts.hostname != "localhost":
        return url
    return parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl()


# --- the flag table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    section: str
    help: str
    parse: Callable[[str], object]
    # The Config attribute this flag sets; None for flags that are not configuration.
    attr: str | None
    # What --help shows as the default when it is not simply the Config default.
    shown_default: str | None = None

    @property
    def is_bool(self) -> bool:
        return self.parse is parse_bool

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.name.upper().replace("-", "_")


_MEMBER, _CLUSTER, _SECURITY, _MISC = "Member", "Clustering", "Security", "Other"

FLAGS: tuple[Flag, ...] = (
    Flag("name", _MEMBER, "Human-readable name for this member.", parse_string, "name"),
    Flag(
        "data-dir",
        _MEMBER,
        "Path to the data directory.",
        parse_string,
        "data_dir",
        shown_default="${name}.etcd",
    ),
    Flag(
        "snapshot-count",
        _MEMBER,
        "Number of committed transactions to trigger a snapshot to disk "
        f"(0 means the default, {DEFAULT_SNAPSHOT_COUNT}).",
        parse_uint,
        "snapshot_count",
    ),
    Flag(
        "heartbeat-interval",
        _MEMBER,
        "Time (in milliseconds) of a heartbeat interval.",
        parse_uint,
        "heartbeat_interval_ms",
    ),
    Flag(
        "election-timeout",
        _MEMBER,
        "Time (in milliseconds) for an election to timeout (5 to 50000 heartbeats' worth).",
        parse_uint,
        "election_timeout_ms",
    ),
    Flag(
        "listen-peer-urls",
        _MEMBER,
        "List of URLs to listen on for peer traffic (IP addresses or localhost).",
        parse_listen_urls,
        "listen_peer_urls",
    ),
    Flag(
        "listen-client-urls",
        _MEMBER,
        "List of URLs to listen on for client traffic (IP addresses or localhost); "
        "when given, --advertise-client-urls must be given too.",
        parse_listen_urls,
        "listen_client_urls",
    ),
    Flag(
        "max-snapshots",
        _MEMBER,
        "Maximum number of snapshot files to retain (0 is unlimited).",
        parse_uint,
        "max_snapshots",
    ),
    Flag(
        "max-wals",
        _MEMBER,
        "Maximum number of wal files to retain (0 is unlimited).",
        parse_uint,
        "max_wals",
    ),
    Flag(
        "cors",
        _MEMBER,
        "Comma-separated white list of origins for CORS (cross-origin resource sharing).",
        parse_csv,
        "cors",
    ),
    Flag(
        "initial-advertise-peer-urls",
        _CLUSTER,
        "List of this member's peer URLs to advertise to the rest of the cluster.",
        parse_urls,
        "initial_advertise_peer_urls",
    ),
    Flag(
        "initial-cluster",
        _CLUSTER,
        "Initial cluster configuration for bootstrapping (name=URL pairs; "
        "a name may repeat to give several URLs).",
        parse_initial_cluster,
        "initial_cluster",
        shown_default="${name}=${initial-advertise-peer-urls}",
    ),
    Flag(
        "initial-cluster-state",
        _CLUSTER,
        "Initial cluster state ('new' or 'existing').",
        parse_cluster_state,
        "initial_cluster_state",
    ),
    Flag(
        "initial-cluster-token",
        _CLUSTER,
        "Initial cluster token for the etcd cluster during bootstrap.",
        parse_string,
        "initial_cluster_token",
    ),
    Flag(
        "advertise-client-urls",
        _CLUSTER,
        "List of this member's client URLs to advertise to the public.",
        parse_urls,
        "advertise_client_urls",
    ),
    Flag(
        "strict-reconfig-check",
        _CLUSTER,
        "Reject reconfiguration requests that would cause quorum loss.",
        parse_bool,
        "strict_reconfig_check",
    ),
    Flag(
        "force-new-cluster",
        _CLUSTER,
        "Force to create a new one-member cluster from this member's data.",
        parse_bool,
        "force_new_cluster",
    ),
    Flag(
        "enable-v2",
        _CLUSTER,
        "Accepted for etcd 3.4 scripts and ignored: etcdpy always serves the v2 API.",
        parse_bool,
        None,
        shown_default="true",
    ),
    Flag(
        "cert-file",
        _SECURITY,
        "Path to the client server TLS cert file.",
        parse_string,
        "cert_file",
    ),
    Flag(
        "key-file", _SECURITY, "Path to the client server TLS key file.", parse_string, "key_file"
    ),
    Flag(
        "client-cert-auth",
        _SECURITY,
        "Enable client cert authentication.",
        parse_bool,
        "client_cert_auth",
    ),
    Flag(
        "trusted-ca-file",
        _SECURITY,
        "Path to the client server TLS trusted CA file.",
        parse_string,
        "trusted_ca_file",
    ),
    Flag(
        "ca-file",
        _SECURITY,
        "DEPRECATED (etcd 2.x): path to the client server TLS CA file; the same as "
        "--trusted-ca-file with --client-cert-auth.",
        parse_string,
        "trusted_ca_file",
    ),
    Flag(
        "peer-cert-file",
        _SECURITY,
        "Path to the peer server TLS cert file.",
        parse_string,
        "peer_cert_file",
    ),
    Flag(
        "peer-key-file",
        _SECURITY,
        "Path to the peer server TLS key file.",
        parse_string,
        "peer_key_file",
    ),
    Flag(
        "peer-client-cert-auth",
        _SECURITY,
        "Enable peer client cert authentication.",
        parse_bool,
        "peer_client_cert_auth",
    ),
    Flag(
        "peer-trusted-ca-file",
        _SECURITY,
        "Path to the peer server TLS trusted CA file.",
        parse_string,
        "peer_trusted_ca_file",
    ),
    Flag("debug", _MISC, "Enable debug-level logging.", parse_bool, "debug"),
    Flag(
        "version",
        _MISC,
        "Print the version and exit (on the command line only: ETCD_VERSION does not stop "
        "the start, as in etcd).",
        parse_bool,
        None,
        shown_default="false",
    ),
)

FLAGS_BY_NAME: dict[str, Flag] = {f.name: f for f in FLAGS}

_HELP_NAMES = ("h", "help")


@dataclass(slots=True)
class ParsedFlags:
    """The command line and environment, read: the member's Config and what to report."""

    config: Config
    show_help: bool = False
    show_version: bool = False
    # Notes for the log, written once logging is set up (etcd logs them the same way).
    env_used: list[str] = field(default_factory=list)
    env_shadowed: list[str] = field(default_factory=list)
    env_unknown: list[str] = field(default_factory=list)
    # Values replaced by their default, as etcd logs them ("set snapshot count to ...").
    defaulted: list[str] = field(default_factory=list)


def _read_command_line(args: Sequence[str]) -> tuple[list[tuple[Flag, str]], bool]:
    """Split ``args`` into (flag, raw value) pairs in order, as Go's ``FlagSet.Parse``."""
    given: list[tuple[Flag, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if len(arg) < 2 or arg[0] != "-":
            # Go stops at the first non-flag; etcd then refuses what is left.
            raise FlagError(
                f"'{arg}' is not a valid flag; flags are written -name value or --name=value, "
                "see 'etcdpy --help'.",
                EXIT_BAD_VALUE,
            )
        i += 1
        if arg == "--":
            if i < len(args):
                raise FlagError(
                    f"'{args[i]}' is not a valid flag; etcdpy takes no arguments besides "
                    "flags, see 'etcdpy --help'.",
                    EXIT_BAD_VALUE,
                )
            break
        body = arg[2:] if arg[1] == "-" else arg[1:]
        if not body or body[0] in "-=":
            raise FlagError(
                f"bad flag syntax: {arg}; write flags as -name value or --name=value.",
                EXIT_USAGE,
            )
        name, has_value, value = body.partition("=")
        flag = FLAGS_BY_NAME.get(name)
        if flag is None:
            if name in _HELP_NAMES:
                return given, True
            raise FlagError(
                f"flag provided but not defined: -{name}; run 'etcdpy --help' for the "
                "list of flags.",
                EXIT_USAGE,
            )
        if not has_value:
            if flag.is_bool:
                value = "true"
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                raise FlagError(
                    f"flag needs an argument: -{name}; give it as -{name}=value.", EXIT_USAGE
                )
        given.append((flag, value))
    return given, False


def _convert(flag: Flag, raw: str, source: str) -> object:
    try:
        return flag.parse(raw)
    except ValueError as exc:
        raise FlagError(f'invalid value "{raw}" for {source}: {exc}.', EXIT_BAD_VALUE) from None


def parse(args: Sequence[str], environ: Mapping[str, str]) -> ParsedFlags:
    """Read the command line ``args`` (without the program name) and ``ETCD_*`` variables.

    Raises :class:`FlagError` for anything etcd would refuse while reading flags; the
    checks that relate several flags are :meth:`Config.validate` and
    :meth:`Config.validate_bootstrap`.
    """
    given, show_help = _read_command_line(args)
    result = ParsedFlags(config=Config(), show_help=show_help)
    if show_help:
        return result
    values: dict[str, object] = {}  # Flag name -> typed value, the last one given.
    for flag, raw in given:
        # Each value is checked when it appears, as Go does, even if a later one replaces it.
        values[flag.name] = _convert(flag, raw, f"flag -{flag.name}")
    # etcd answers -version before it reads ETCD_* variables, so ETCD_VERSION=true is read
    # (and refused if it is not a boolean) but never stops the start.
    result.show_version = bool(values.get("version", False))

    known_env = {f.env_name: f for f in FLAGS}
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX):
            continue
        raw = environ[key]
        flag = known_env.get(key)
        if flag is None:
            _refuse_untaken_env(key, raw)
            result.env_unknown.append(f"{key}={raw}")
        elif not raw:
            continue
        elif flag.name in values:
            result.env_shadowed.append(key)
        else:
            values[flag.name] = _convert(flag, raw, f"{key} (flag -{flag.name})")
            result.env_used.append(f"{key}={raw}")

    _refuse_not_yet_supported(values)
    result.config = _build_config(values)
    if result.config.snapshot_count == 0:
        # etcd's server start: "set snapshot count to default".
        result.config.snapshot_count = DEFAULT_SNAPSHOT_COUNT
        result.defaulted.append(f"set snapshot count to default {DEFAULT_SNAPSHOT_COUNT}")
    return result


# etcd 2.x flags etcdpy does not take whose ETCD_* variable, if honoured by etcd, would
# change where data lives or how the member finds its cluster: refused rather than ignored
# (the harmless ones, e.g. ETCD_LOG_PACKAGE_LEVELS, are only warned about as unknown).
_UNTAKEN_ENV = {
    "ETCD_WAL_DIR": "etcdpy keeps its WAL in <data-dir>/wal",
    "ETCD_DISCOVERY": "etcdpy has no discovery; list the members in --initial-cluster",
    "ETCD_DISCOVERY_SRV": "etcdpy has no discovery; list the members in --initial-cluster",
    "ETCD_PROXY": "etcdpy runs only as a member, never as a proxy",
}


def _refuse_untaken_env(key: str, raw: str) -> None:
    why = _UNTAKEN_ENV.get(key)
    if why is None or not raw or (key == "ETCD_PROXY" and raw == "off"):
        return
    raise FlagError(
        f"{key}={raw} names an etcd setting etcdpy does not take ({why}); unset it.",
        EXIT_BAD_VALUE,
    )


def _refuse_not_yet_supported(values: Mapping[str, object]) -> None:
    for name, value in values.items():
        if name in NOT_YET_SUPPORTED and value:
            raise FlagError(
                f"-{name} cannot be honoured: {NOT_YET_SUPPORTED[name]}; remove it and "
                "use http:// URLs.",
                EXIT_BAD_VALUE,
            )


def _build_config(values: Mapping[str, object]) -> Config:
    changes = {FLAGS_BY_NAME[n].attr: v for n, v in values.items() if FLAGS_BY_NAME[n].attr}
    cfg = dataclasses.replace(Config(), **changes)
    if values.get("ca-file"):
        # etcd 2.x: "-ca-file ca.crt could be replaced by -trusted-ca-file ca.crt
        # -client-cert-auth and etcd will perform the same".
        cfg.client_cert_auth = True
    if "initial-cluster" not in values:
        # etcd 3.4: a member started with only --name bootstraps a cluster of itself.
        cfg.initial_cluster = {cfg.name: list(cfg.initial_advertise_peer_urls)}
    if "listen-client-urls" in values and "advertise-client-urls" not in values:
        # etcd drops the default advertised URL then, and Config.validate refuses the
        # start: a member listening on chosen addresses must say where clients reach it.
        cfg.advertise_client_urls = []
    cfg.listen_client_urls = [bind_url(u) for u in cfg.listen_client_urls]
    cfg.listen_peer_urls = [bind_url(u) for u in cfg.listen_peer_urls]
    return cfg


def _shown_default(flag: Flag, defaults: Config) -> str:
    if flag.shown_default is not None:
        return flag.shown_default
    value = getattr(defaults, flag.attr) if flag.attr else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return format_initial_cluster(value)
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def usage() -> str:
    """The text of ``etcdpy --help``: every flag with its default and meaning."""
    defaults = Config()
    lines = [
        "Usage:",
        "",
        "  etcdpy [flags]",
        "    Start an etcdpy member: an etcd 2.x compatible server (v2 API).",
        "",
        "  etcdpy --version",
        "    Show the version of etcdpy and of the etcd release it emulates.",
        "",
        "  etcdpy -h | --help",
        "    Show this help.",
        "",
        "Flags are written as etcd's: -name value, --name value, -name=value or",
        "--name=value; booleans as -name or -name=true|false. A repeated flag overrides",
        "the earlier one. Every flag can also be set as an environment variable",
        "ETCD_<FLAG> (e.g. ETCD_DATA_DIR); the command line wins. Numbers are read as",
        "Go reads them: 0x64, 0o144, 0144 (a leading 0 is octal) and 1_000 are accepted.",
    ]
    section = ""
    for flag in FLAGS:
        if flag.section != section:
            section = flag.section
            lines += ["", f"{section}:"]
        note = " (not supported yet: refused)" if flag.name in NOT_YET_SUPPORTED else ""
        lines.append(f"  --{flag.name} '{_shown_default(flag, defaults)}'")
        lines.append(f"    {flag.help}{note}")
    lines += [
        "",
        "Errors in flags print one sentence on stderr and exit with status 2 for an",
        "unknown flag or bad flag syntax, 1 for a bad value.",
    ]
    return "\n".join(lines) + "\n"
