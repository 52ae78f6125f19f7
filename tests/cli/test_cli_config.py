"""Config.validate and Config.validate_bootstrap: the checks that relate several flags."""

from __future__ import annotations

import pytest

from etcdpy.server.config import Config, ConfigError


def invalid(cfg: Config, bootstrap: bool = False) -> str:
    with pytest.raises(ConfigError) as info:
        cfg.validate_bootstrap() if bootstrap else cfg.validate()
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")
    return text


def test_default_config_is_valid() -> None:
    cfg = Config()
    cfg.validate()
    cfg.validate_bootstrap()


def test_election_timeout_must_cover_five_heartbeats() -> None:
    Config(heartbeat_interval_ms=100, election_timeout_ms=500).validate()
    text = invalid(Config(heartbeat_interval_ms=100, election_timeout_ms=499))
    assert text.startswith(
        "--election-timeout[499ms] should be at least as 5 times as --heartbeat-interval[100ms]"
    )


def test_election_timeout_has_a_ceiling() -> None:
    Config(election_timeout_ms=50_000).validate()
    assert "is too long, and should be set less than 50000ms" in invalid(
        Config(election_timeout_ms=50_001)
    )


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (Config(heartbeat_interval_ms=0), "--heartbeat-interval must be >0"),
        (Config(snapshot_count=0), "--snapshot-count must be >0"),
        (Config(name=""), "--name must not be empty"),
        (Config(initial_cluster_state="old"), "--initial-cluster-state='old' is not valid"),
    ],
)
def test_other_invalid_values(cfg: Config, expected: str) -> None:
    assert expected in invalid(cfg)


def test_name_must_be_in_initial_cluster() -> None:
    for state in ("new", "existing"):
        cfg = Config(
            name="n1",
            initial_cluster={"n2": ["http://127.0.0.1:2380"]},
            initial_cluster_state=state,
        )
        assert invalid(cfg, bootstrap=True).startswith(
            'couldn\'t find local name "n1" in the initial cluster configuration'
        )


def test_new_member_must_advertise_its_initial_cluster_urls() -> None:
    cfg = Config(
        name="n1",
        initial_advertise_peer_urls=["http://127.0.0.1:2390"],
        initial_cluster={"n1": ["http://127.0.0.1:2380"]},
    )
    assert invalid(cfg, bootstrap=True).startswith(
        "--initial-cluster has n1=http://127.0.0.1:2380 but "
        "--initial-advertise-peer-urls=http://127.0.0.1:2390"
    )
    # A joining member is checked against the running cluster instead, as etcd does.
    cfg.initial_cluster_state = "existing"
    cfg.validate_bootstrap()


def test_advertised_peer_urls_compare_as_sets_and_localhost_resolves() -> None:
    Config(
        name="n1",
        initial_advertise_peer_urls=["http://localhost:2380", "http://10.0.0.1:2380"],
        initial_cluster={"n1": ["http://10.0.0.1:2380", "http://127.0.0.1:2380"]},
    ).validate_bootstrap()


def test_duplicate_peer_url_in_initial_cluster() -> None:
    cfg = Config(
        name="n1",
        initial_advertise_peer_urls=["http://127.0.0.1:2380"],
        initial_cluster={"n1": ["http://127.0.0.1:2380"], "n2": ["http://127.0.0.1:2380"]},
    )
    assert "has duplicate url http://127.0.0.1:2380" in invalid(cfg, bootstrap=True)
