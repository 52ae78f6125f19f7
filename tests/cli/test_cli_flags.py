"""The flag parser: Go's flag syntax, ETCD_* variables, and the values etcd refuses."""

from __future__ import annotations

import pytest

from etcdpy.cli import flags
from etcdpy.cli.flags import EXIT_BAD_VALUE, EXIT_USAGE, FlagError, parse
from etcdpy.server.config import Config, ConfigError


def cfg_of(*args: str, env: dict[str, str] | None = None) -> Config:
    return parse(list(args), env or {}).config


def refused(*args: str, env: dict[str, str] | None = None) -> FlagError:
    with pytest.raises(FlagError) as info:
        parse(list(args), env or {})
    return info.value


# --- spellings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-name", "n1"],
        ["--name", "n1"],
        ["-name=n1"],
        ["--name=n1"],
    ],
)
def test_every_go_spelling_of_a_value_flag(args: list[str]) -> None:
    assert cfg_of(*args).name == "n1"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-force-new-cluster"], True),
        (["--force-new-cluster"], True),
        (["-force-new-cluster=true"], True),
        (["--force-new-cluster=false"], False),
        (["-force-new-cluster=1"], True),
        (["-force-new-cluster=F"], False),
        (["-force-new-cluster=TRUE"], True),
        ([], False),
    ],
)
def test_boolean_spellings(args: list[str], expected: bool) -> None:
    assert cfg_of(*args).force_new_cluster is expected


def test_boolean_does_not_take_the_next_argument() -> None:
    # Go stops at "true": it is not a flag, so etcd refuses it.
    err = refused("-force-new-cluster", "true")
    assert str(err).startswith("'true' is not a valid flag")
    assert err.exit_code == EXIT_BAD_VALUE


def test_value_flag_takes_next_argument_even_if_it_looks_like_a_flag() -> None:
    assert cfg_of("-name", "-debug").name == "-debug"


def test_value_may_contain_equals_sign() -> None:
    assert cfg_of("-initial-cluster-token=a=b").initial_cluster_token == "a=b"


def test_all_member_flags_reach_the_config() -> None:
    cfg = cfg_of(
        "-name",
        "n1",
        "-data-dir",
        "/tmp/x",
        "-listen-client-urls",
        "http://127.0.0.1:12379,http://10.0.0.1:12379",
        "-advertise-client-urls",
        "http://c.example:12379",
        "-listen-peer-urls",
        "http://127.0.0.1:12380",
        "-initial-advertise-peer-urls",
        "http://127.0.0.1:12380",
        "-initial-cluster",
        "n1=http://127.0.0.1:12380,n2=http://127.0.0.2:12380",
        "-initial-cluster-state",
        "existing",
        "-initial-cluster-token",
        "tok",
        "-force-new-cluster",
        "-snapshot-count",
        "42",
        "-heartbeat-interval",
        "50",
        "-election-timeout",
        "500",
        "-max-snapshots",
        "0",
        "-max-wals",
        "7",
        "-cors",
        "http://a.example, http://b.example",
        "-strict-reconfig-check",
        "-debug",
        "-enable-v2=true",
    )
    assert cfg == Config(
        name="n1",
        data_dir="/tmp/x",
        listen_client_urls=["http://127.0.0.1:12379", "http://10.0.0.1:12379"],
        advertise_client_urls=["http://c.example:12379"],
        listen_peer_urls=["http://127.0.0.1:12380"],
        initial_advertise_peer_urls=["http://127.0.0.1:12380"],
        initial_cluster={"n1": ["http://127.0.0.1:12380"], "n2": ["http://127.0.0.2:12380"]},
        initial_cluster_state="existing",
        initial_cluster_token="tok",
        force_new_cluster=True,
        snapshot_count=42,
        heartbeat_interval_ms=50,
        election_timeout_ms=500,
        max_snapshots=0,
        max_wals=7,
        cors=["http://a.example", "http://b.example"],
        strict_reconfig_check=True,
        debug=True,
    )


def test_defaults_are_etcds() -> None:
    cfg = cfg_of()
    assert cfg.name == "default"
    assert cfg.member_dir == "default.etcd"
    assert cfg.snapshot_count == 10_000
    assert (cfg.heartbeat_interval_ms, cfg.election_timeout_ms) == (100, 1000)
    assert (cfg.max_snapshots, cfg.max_wals) == (5, 5)
    assert cfg.initial_cluster_state == "new"
    assert cfg.initial_cluster_token == "etcd-cluster"
    # localhost is bound as 127.0.0.1; advertised URLs stay as written.
    assert cfg.listen_client_urls == ["http://127.0.0.1:2379"]
    assert cfg.listen_peer_urls == ["http://127.0.0.1:2380"]
    assert cfg.advertise_client_urls == ["http://localhost:2379"]
    assert cfg.initial_cluster == {"default": ["http://localhost:2380"]}


def test_default_initial_cluster_follows_name_and_advertised_peer_urls() -> None:
    cfg = cfg_of("-name", "n7", "-initial-advertise-peer-urls", "http://127.0.0.1:3380")
    assert cfg.initial_cluster == {"n7": ["http://127.0.0.1:3380"]}
    cfg.validate_bootstrap()


def test_repeated_name_in_initial_cluster_gives_several_urls() -> None:
    cfg = cfg_of("-initial-cluster", "a=http://1.2.3.4:1,b=http://1.2.3.5:1,a=http://1.2.3.4:2")
    assert cfg.initial_cluster == {
        "a": ["http://1.2.3.4:1", "http://1.2.3.4:2"],
        "b": ["http://1.2.3.5:1"],
    }


def test_ipv6_listen_url_is_accepted() -> None:
    assert cfg_of("-listen-client-urls", "http://[::1]:2379").listen_client_urls == [
        "http://[::1]:2379"
    ]


def test_double_dash_ends_the_flags() -> None:
    assert cfg_of("-name", "a", "--").name == "a"
    assert str(refused("-name", "a", "--", "x")).startswith("'x' is not a valid flag")


# --- repeats and the environment ------------------------------------------------------------


def test_repeated_flag_last_one_wins() -> None:
    assert cfg_of("-name", "a", "--name=b", "-name", "c").name == "c"
    assert cfg_of("-debug", "-debug=false").debug is False
    assert cfg_of(
        "-listen-client-urls", "http://127.0.0.1:1", "-listen-client-urls", "http://127.0.0.1:2"
    ).listen_client_urls == ["http://127.0.0.1:2"]


def test_every_repeat_is_checked_even_if_replaced() -> None:
    assert refused("-snapshot-count", "x", "-snapshot-count", "5").exit_code == EXIT_BAD_VALUE


def test_env_sets_flags() -> None:
    parsed = parse(
        [],
        {
            "ETCD_NAME": "envname",
            "ETCD_SNAPSHOT_COUNT": "77",
            "ETCD_FORCE_NEW_CLUSTER": "true",
            "ETCD_INITIAL_CLUSTER_TOKEN": "t2",
            "PATH": "/bin",
        },
    )
    cfg = parsed.config
    assert (cfg.name, cfg.snapshot_count, cfg.force_new_cluster) == ("envname", 77, True)
    assert cfg.initial_cluster_token == "t2"
    assert cfg.initial_cluster == {"envname": ["http://localhost:2380"]}
    assert sorted(parsed.env_used) == [
        "ETCD_FORCE_NEW_CLUSTER=true",
        "ETCD_INITIAL_CLUSTER_TOKEN=t2",
        "ETCD_NAME=envname",
        "ETCD_SNAPSHOT_COUNT=77",
    ]


def test_flag_wins_over_env_and_env_is_reported_shadowed() -> None:
    parsed = parse(["-name", "flagname"], {"ETCD_NAME": "envname"})
    assert parsed.config.name == "flagname"
    assert parsed.env_shadowed == ["ETCD_NAME"]
    assert parsed.env_used == []


def test_unknown_env_is_reported_not_refused() -> None:
    parsed = parse([], {"ETCD_NO_SUCH_FLAG": "1", "ETCDCTL_API": "2"})
    assert parsed.env_unknown == ["ETCD_NO_SUCH_FLAG=1"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ETCD_WAL_DIR", "/var/lib/etcd-wal"),
        ("ETCD_DISCOVERY", "https://discovery.etcd.io/abc"),
        ("ETCD_DISCOVERY_SRV", "example.com"),
        ("ETCD_PROXY", "on"),
    ],
)
def test_env_for_an_etcd_setting_etcdpy_cannot_honour_is_refused(key: str, value: str) -> None:
    """etcd would act on these (the WAL elsewhere, a discovered cluster, a proxy):
    ignoring them would start something other than what the operator set up."""
    err = refused(env={key: value})
    assert err.exit_code == EXIT_BAD_VALUE
    assert str(err).startswith(f"{key}={value} names an etcd setting etcdpy does not take (")
    assert str(err).endswith("; unset it.")


def test_harmless_untaken_env_values_are_only_reported() -> None:
    env = {"ETCD_PROXY": "off", "ETCD_WAL_DIR": "", "ETCD_LOG_PACKAGE_LEVELS": "etcdserver=INFO"}
    parsed = parse([], env)
    assert parsed.env_unknown == [
        "ETCD_LOG_PACKAGE_LEVELS=etcdserver=INFO",
        "ETCD_PROXY=off",
        "ETCD_WAL_DIR=",
    ]


def test_empty_env_value_is_ignored() -> None:
    parsed = parse([], {"ETCD_SNAPSHOT_COUNT": "", "ETCD_NAME": ""})
    assert parsed.config.snapshot_count == 10_000
    assert parsed.config.name == "default"
    assert parsed.env_used == parsed.env_unknown == []


def test_bad_env_value_names_the_variable() -> None:
    err = refused(env={"ETCD_HEARTBEAT_INTERVAL": "fast"})
    assert err.exit_code == EXIT_BAD_VALUE
    assert str(err) == (
        'invalid value "fast" for ETCD_HEARTBEAT_INTERVAL (flag -heartbeat-interval): '
        "expected a non-negative whole number."
    )


def test_help_and_version_requests() -> None:
    for spelling in ("-h", "--h", "-help", "--help"):
        assert parse([spelling], {}).show_help
    for spelling in ("-version", "--version", "--version=true"):
        assert parse([spelling], {}).show_version
    assert not parse(["--version=false"], {}).show_version


def test_version_from_the_environment_does_not_stop_the_start() -> None:
    # etcd answers -version before it reads ETCD_*: the variable is read, used, ignored.
    parsed = parse([], {"ETCD_VERSION": "true"})
    assert not parsed.show_version
    assert parsed.env_used == ["ETCD_VERSION=true"]
    assert parse(["-version"], {"ETCD_VERSION": "false"}).show_version
    err = refused(env={"ETCD_VERSION": "bogus"})
    assert (str(err), err.exit_code) == (
        'invalid value "bogus" for ETCD_VERSION (flag -version): expected true or false.',
        EXIT_BAD_VALUE,
    )


# --- numbers: Go's strconv.ParseUint(s, 0, 64) ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("16", 16),
        ("0x10", 16),
        ("0X10", 16),
        ("0x_10", 16),
        ("0o20", 16),
        ("0O20", 16),
        ("020", 16),  # a leading 0 is octal
        ("0_20", 16),
        ("0b10000", 16),
        ("0B1_0000", 16),
        ("1_000", 1000),
        ("010", 8),
        ("0", 0),
        ("00", 0),
        ("18446744073709551615", 2**64 - 1),
    ],
)
def test_numbers_are_read_as_go_reads_them(raw: str, value: int) -> None:
    assert flags.parse_uint(raw) == value
    assert cfg_of(f"-snapshot-count={raw}").snapshot_count == (value or 10_000)
    assert cfg_of("-max-wals", raw).max_wals == value
    assert cfg_of(env={"ETCD_MAX_SNAPSHOTS": raw}).max_snapshots == value


def test_heartbeat_interval_in_hex() -> None:
    cfg = cfg_of("-heartbeat-interval=0x64", env={"ETCD_ELECTION_TIMEOUT": "0x3e8"})
    assert (cfg.heartbeat_interval_ms, cfg.election_timeout_ms) == (100, 1000)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("08", "a leading 0 makes it octal, and 8 and 9 are not octal digits."),
        ("0_9", "a leading 0 makes it octal, and 8 and 9 are not octal digits."),
        ("99999999999999999999", "value out of range, the largest is 18446744073709551615."),
        ("18446744073709551616", "value out of range, the largest is 18446744073709551615."),
        ("0x1_0000_0000_0000_0000", "value out of range, the largest is 18446744073709551615."),
        ("1__0", "expected a non-negative whole number."),
        ("_1", "expected a non-negative whole number."),
        ("1_", "expected a non-negative whole number."),
        ("0_", "expected a non-negative whole number."),
        ("0x", "expected a non-negative whole number."),
        ("0b2", "expected a non-negative whole number."),
        ("0o8", "expected a non-negative whole number."),
        ("0x1p4", "expected a non-negative whole number."),
        ("+5", "expected a non-negative whole number."),
        ("-1", "expected a non-negative whole number."),
        ("", "expected a non-negative whole number."),
        ("\uff15", "expected a non-negative whole number."),  # a full-width 5
    ],
)
def test_numbers_go_refuses_are_refused(raw: str, reason: str) -> None:
    err = refused(f"-snapshot-count={raw}")
    assert (str(err), err.exit_code) == (
        f'invalid value "{raw}" for flag -snapshot-count: {reason}',
        EXIT_BAD_VALUE,
    )
    err = refused(env={"ETCD_SNAPSHOT_COUNT": raw} if raw else {"ETCD_SNAPSHOT_COUNT": "x"})
    assert err.exit_code == EXIT_BAD_VALUE


def test_snapshot_count_zero_means_the_default() -> None:
    # etcd keeps 0 and its server start turns it into the default snapshot count.
    parsed = parse(["-snapshot-count=0"], {})
    assert parsed.config.snapshot_count == 10_000
    assert parsed.defaulted == ["set snapshot count to default 10000"]
    parsed.config.validate()
    assert parse([], {"ETCD_SNAPSHOT_COUNT": "0"}).config.snapshot_count == 10_000


# --- listening on chosen addresses needs advertised client URLs -----------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["-listen-client-urls", "http://127.0.0.1:2379"], {}),
        # Explicitly the default is still explicit, as in etcd.
        (["-listen-client-urls", "http://localhost:2379"], {}),
        ([], {"ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:2379"}),
        (["-listen-client-urls", "http://127.0.0.1:2379"], {"ETCD_ADVERTISE_CLIENT_URLS": ""}),
    ],
)
def test_listen_client_urls_without_advertised_ones_is_refused(
    args: list[str], env: dict[str, str]
) -> None:
    cfg = cfg_of(*args, env=env)
    assert cfg.advertise_client_urls == []
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert str(info.value).startswith(
        "--advertise-client-urls is required when --listen-client-urls is set explicitly: "
        "when listening on specific address(es), this etcd process must advertise accessible "
        "url(s) to each connected client"
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ([], {}),
        (["-advertise-client-urls", "http://10.0.0.1:2379"], {}),
        (
            [
                "-listen-client-urls=http://0.0.0.0:2379",
                "-advertise-client-urls=http://localhost:2379",
            ],
            {},
        ),
        (["-listen-client-urls=http://0.0.0.0:2379"], {"ETCD_ADVERTISE_CLIENT_URLS": "http://h:1"}),
        (
            [],
            {
                "ETCD_LISTEN_CLIENT_URLS": "http://0.0.0.0:2379",
                "ETCD_ADVERTISE_CLIENT_URLS": "http://h:1",
            },
        ),
    ],
)
def test_advertised_client_urls_given_or_default_listen(
    args: list[str], env: dict[str, str]
) -> None:
    cfg = cfg_of(*args, env=env)
    assert cfg.advertise_client_urls
    cfg.validate()


# --- refusals: one sentence and an exit code -------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["-xyz"], "flag provided but not defined: -xyz;", EXIT_USAGE),
        (["--no-such=1"], "flag provided but not defined: -no-such;", EXIT_USAGE),
        (["-name"], "flag needs an argument: -name;", EXIT_USAGE),
        (["---name", "x"], "bad flag syntax: ---name;", EXIT_USAGE),
        (["-=x"], "bad flag syntax: -=x;", EXIT_USAGE),
        (["stray"], "'stray' is not a valid flag;", EXIT_BAD_VALUE),
        (
            ["-snapshot-count", "abc"],
            'invalid value "abc" for flag -snapshot-count: expected a non-negative whole number.',
            EXIT_BAD_VALUE,
        ),
        (
            ["-heartbeat-interval=-5"],
            'invalid value "-5" for flag -heartbeat-interval: expected a non-negative',
            EXIT_BAD_VALUE,
        ),
        (["-election-timeout", "1.5"], 'invalid value "1.5" for flag -election-timeout', 1),
        (["-max-wals", " 3"], 'invalid value " 3" for flag -max-wals', EXIT_BAD_VALUE),
        (
            ["-force-new-cluster=maybe"],
            'invalid value "maybe" for flag -force-new-cluster: expected true or false.',
            EXIT_BAD_VALUE,
        ),
        (
            ["-initial-cluster-state", "old"],
            'invalid value "old" for flag -initial-cluster-state: expected new or existing.',
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "http://127.0.0.1"],
            'URL address does not have the form "host:port": "http://127.0.0.1"; add a port',
            EXIT_BAD_VALUE,
        ),
        (
            ["-advertise-client-urls", "http://127.0.0.1:2379/v2"],
            'URL must not contain a path: "http://127.0.0.1:2379/v2"',
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-peer-urls", "http://127.0.0.1:2380/"],
            "URL must not contain a path",
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-peer-urls", "http://127.0.0.1:2380?x=1"],
            "URL must not contain a path",
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "ftp://127.0.0.1:2379"],
            'URL scheme must be http or https in "ftp://127.0.0.1:2379"',
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "127.0.0.1:2379"],
            "URL scheme must be http",
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "http://127.0.0.1:99999"],
            'URL "http://127.0.0.1:99999" has an invalid host or port',
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "http://127.0.0.1:0"],
            "has port 0",
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "http://:2379"],
            'URL "http://:2379" has no host',
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-client-urls", "http://etcd.example.com:2379"],
            'expected IP in URL for binding ("http://etcd.example.com:2379")',
            EXIT_BAD_VALUE,
        ),
        (
            ["-listen-peer-urls", "http://127.0.0.1:2380,http://host:2380"],
            'expected IP in URL for binding ("http://host:2380")',
            EXIT_BAD_VALUE,
        ),
        (
            ["-initial-cluster", "n1"],
            '"n1" is not a name=URL pair',
            EXIT_BAD_VALUE,
        ),
        (
            ["-initial-cluster", "=http://127.0.0.1:2380"],
            '"=http://127.0.0.1:2380" is not a name=URL pair',
            EXIT_BAD_VALUE,
        ),
        (
            ["-initial-cluster", "n1=http://127.0.0.1:2380,"],
            '"" is not a name=URL pair',
            EXIT_BAD_VALUE,
        ),
        (
            ["-initial-cluster", "n1=127.0.0.1:2380"],
            "URL scheme must be http",
            EXIT_BAD_VALUE,
        ),
    ],
)
def test_refusals(args: list[str], message: str, code: int) -> None:
    err = refused(*args)
    assert message in str(err)
    assert err.exit_code == code
    text = str(err)
    # One sentence on one line, ending as a sentence does.
    assert "\n" not in text
    assert text.endswith(".")


def test_advertised_urls_may_use_host_names() -> None:
    cfg = cfg_of("-advertise-client-urls", "http://etcd.example.com:2379")
    assert cfg.advertise_client_urls == ["http://etcd.example.com:2379"]


# --- TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "attr", "value"),
    [
        (["-cert-file", "c.pem"], "cert_file", "c.pem"),
        (["--key-file=k.pem"], "key_file", "k.pem"),
        (["-trusted-ca-file", "ca.pem"], "trusted_ca_file", "ca.pem"),
        (["-client-cert-auth"], "client_cert_auth", True),
        (["-peer-cert-file", "c.pem"], "peer_cert_file", "c.pem"),
        (["-peer-key-file", "k.pem"], "peer_key_file", "k.pem"),
        (["-peer-trusted-ca-file", "ca.pem"], "peer_trusted_ca_file", "ca.pem"),
        (["--peer-client-cert-auth=true"], "peer_client_cert_auth", True),
    ],
)
def test_tls_flags_are_read(args: list[str], attr: str, value: object) -> None:
    assert getattr(cfg_of(*args), attr) == value


def test_ca_file_is_trusted_ca_with_client_cert_auth() -> None:
    # etcd 2.x: "-ca-file ca.crt could be replaced by -trusted-ca-file ca.crt -client-cert-auth".
    cfg = cfg_of("-ca-file", "ca.pem")
    assert (cfg.trusted_ca_file, cfg.client_cert_auth) == ("ca.pem", True)
    assert cfg_of("-trusted-ca-file", "ca.pem").client_cert_auth is False


def test_tls_flag_from_env_is_read() -> None:
    assert cfg_of(env={"ETCD_CERT_FILE": "c.pem"}).cert_file == "c.pem"


def test_tls_flags_at_their_defaults_are_harmless() -> None:
    assert cfg_of("-client-cert-auth=false", "-cert-file=").cert_file == ""


@pytest.mark.parametrize(
    "flag",
    ["-listen-client-urls", "-advertise-client-urls", "-initial-advertise-peer-urls"],
)
def test_https_urls_are_accepted(flag: str) -> None:
    cfg = cfg_of(flag, "https://127.0.0.1:2379")
    attr = flag.lstrip("-").replace("-", "_")
    assert getattr(cfg, attr) == ["https://127.0.0.1:2379"]


def test_https_in_initial_cluster_is_accepted() -> None:
    cfg = cfg_of("-initial-cluster", "d=https://127.0.0.1:2380")
    assert cfg.initial_cluster == {"d": ["https://127.0.0.1:2380"]}


def test_other_schemes_are_refused() -> None:
    err = refused("-listen-client-urls", "unix://127.0.0.1:2379")
    assert "URL scheme must be http or https" in str(err)
    assert err.exit_code == EXIT_BAD_VALUE


def test_an_entry_in_not_yet_supported_refuses_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    # The single list is the only gate: an entry refuses its flag with the reason given.
    monkeypatch.setitem(flags.NOT_YET_SUPPORTED, "cert-file", "not today")
    err = refused("-cert-file", "c.pem")
    assert "-cert-file cannot be honoured: not today" in str(err)
    assert err.exit_code == EXIT_BAD_VALUE


# --- help --------------------------------------------------------------------------------------


def test_help_lists_every_flag_with_default_and_meaning() -> None:
    text = flags.usage()
    for flag in flags.FLAGS:
        assert f"  --{flag.name} '" in text
    assert "  --name 'default'\n    Human-readable name for this member." in text
    assert "  --snapshot-count '10000'\n" in text
    assert "  --election-timeout '1000'\n" in text
    assert "  --data-dir '${name}.etcd'\n" in text
    assert "  --listen-client-urls 'http://localhost:2379'\n" in text
    assert "  --initial-cluster-state 'new'\n" in text
    assert "  --force-new-cluster 'false'\n" in text
    assert "(not supported yet: refused)" not in text.split("--cert-file", 1)[1].split("\n")[1]
