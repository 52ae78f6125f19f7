"""Exit codes, error wording, endpoint selection and failover, against etcdctl."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.ctl.ctl_harness import OURS, REF, assert_same, both, compare, normalize, run, step
from tests.procs import free_port


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback URL that accepts connections but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def same(args: list[str], **kw: object) -> None:
    ref, ours = both(args, **kw)
    assert (ours.rc, ours.out, ours.err) == (ref.rc, ref.out, ref.err)


def test_usage_errors_exit_1(endpoint: str) -> None:
    compare(
        endpoint,
        [
            step("get"),
            step("rm"),
            step("rmdir"),
            step("mk"),
            step("mkdir"),
            step("setdir"),
            step("update"),
            step("update", "{p}/k"),
            step("updatedir"),
            step("watch"),
            step("exec-watch", "{p}/k"),
            step("mkdir", "{p}/dir"),
            step("get", "{p}/dir"),
        ],
        tag="usage",
    )


@pytest.mark.parametrize(
    ("args", "go_message"),
    [
        (["set", "--bogus", "/k", "v"], "flag provided but not defined: -bogus"),
        (["set", "--ttl", "abc", "/k", "v"], 'invalid value "abc" for flag -ttl: parse error'),
        # urfave moves the flag in front, so it swallows the key as its value.
        (["set", "/k", "v", "--ttl"], 'invalid value "/k" for flag -ttl: parse error'),
        (["set", "--ttl"], "flag needs an argument: -ttl"),
        (["rm", "--dir=maybe", "/k"], 'invalid boolean value "maybe" for -dir: parse error'),
        (["--bogus", "get", "/k"], "flag provided but not defined: -bogus"),
    ],
)
def test_bad_flags_exit_1(endpoint: str, args: list[str], go_message: str) -> None:
    ref, ours = both(["--endpoints", endpoint, *args])
    assert ref.rc == ours.rc == 1
    assert go_message in ref.err + ref.out
    assert go_message in ours.err
    assert "Traceback" not in ours.err


def test_unknown_command_exit_3(endpoint: str) -> None:
    same(["--endpoints", endpoint, "nosuch"])
    ref, ours = both(["--endpoints", endpoint, "member", "nosuch"])
    assert ours.rc == ref.rc
    assert "No help topic for 'nosuch'" in ours.err


def test_all_endpoints_dead(dead_url: str) -> None:
    # With sync: a connection error while syncing is exit 2; without: a cluster error, 4.
    same(["--endpoints", dead_url, "get", "/k"])
    same(["--no-sync", "--endpoints", dead_url, "get", "/k"])
    same(["--no-sync", "--endpoints", dead_url, "set", "/k", "v"])
    same(["--no-sync", "--endpoints", dead_url, "mk", "/k", "v"])
    same(["--endpoints", dead_url, "member", "list"])
    same(["--no-sync", "--endpoints", dead_url, "member", "list"])
    same(["--endpoints", dead_url, "cluster-health"])


def test_timeouts(silent_url: str) -> None:
    same(["--no-sync", "--timeout", "300ms", "--endpoints", silent_url, "get", "/k"])
    same(["--timeout", "300ms", "--endpoints", silent_url, "get", "/k"])
    same(["--no-sync", "--total-timeout", "400ms", "--endpoints", silent_url, "get", "/k"])
    same(["--total-timeout", "0.4s", "--endpoints", silent_url, "get", "/k"])


def test_malformed_endpoints(endpoint: str) -> None:
    port = endpoint.rsplit(":", 1)[1]
    same(["--endpoints", f"127.0.0.1:{port}", "get", "/k"])
    same(["--no-sync", "--endpoints", f"localhost:{port}", "get", "/k"])
    same(["--endpoints", f"{endpoint}, {endpoint}", "get", "/k"])
    same(["--no-sync", "--endpoints", "http://127.0.0.1:70000", "get", "/k"])
    same(["--no-sync", "--endpoints", "ftp://127.0.0.1:1", "get", "/k"])


def test_failover_past_a_dead_first_endpoint(endpoint: str, dead_url: str) -> None:
    run(REF, ["--endpoints", endpoint, "set", "/failover/k", "alive"])
    for sync in ([], ["--no-sync"]):
        args = [*sync, "--endpoints", f"{dead_url},{endpoint}", "get", "/failover/k"]
        ref, ours = both(args)
        assert (ours.rc, ours.out, ours.err) == (ref.rc, ref.out, ref.err) == (0, "alive\n", "")
    # A write too (not one-shot: tries the next endpoint).
    ours = run(
        OURS, ["--no-sync", "--endpoints", f"{dead_url},{endpoint}", "set", "/failover/k", "w"]
    )
    assert (ours.rc, ours.out) == (0, "w\n")


def test_endpoint_flags_and_environment(endpoint: str, dead_url: str) -> None:
    run(REF, ["--endpoints", endpoint, "set", "/envsel/k", "v"])
    cases: list[tuple[list[str], dict[str, str]]] = [
        (["--peers", endpoint], {}),
        (["-C", endpoint], {}),
        (["--endpoint", endpoint], {}),
        ([], {"ETCDCTL_ENDPOINTS": endpoint}),
        ([], {"ETCDCTL_ENDPOINT": endpoint}),
        ([], {"ETCDCTL_PEERS": endpoint}),
        # The flag wins over the environment, --endpoints over --peers.
        (["--endpoints", dead_url], {"ETCDCTL_ENDPOINTS": endpoint}),
        (["--endpoints", endpoint, "--peers", dead_url], {}),
        (["--peers", dead_url], {"ETCDCTL_ENDPOINTS": endpoint}),
    ]
    for flags, env in cases:
        args = ["--no-sync", *flags, "get", "/envsel/k"]
        ref, ours = both(args, env=env)
        assert (ours.rc, ours.out, ours.err) == (ref.rc, ref.out, ref.err), (flags, env)


def test_debug_prints_the_same_curl_commands(endpoint: str) -> None:
    steps = [
        step("--debug", "set", "--ttl", "1000", "{p}/a b/c?d", "x y&z"),
        step("--debug", "--no-sync", "get", "--quorum", "{p}/a b/c?d"),
        step("--debug", "--no-sync", "mkdir", "{p}/dir"),
        step("--debug", "--no-sync", "mk", "--in-order", "{p}/q", "v"),
        step("--debug", "--no-sync", "rm", "--with-value", "x y&z", "{p}/a b/c?d"),
        step("--debug", "--no-sync", "ls", "-r", "{p}/dir"),
        step("--debug", "member", "list"),
    ]
    compare(endpoint, steps, tag="debug")


def test_one_dead_endpoint_is_reported_like_etcdctl(dead_url: str) -> None:
    ref, ours = both(["--no-sync", "--endpoints", dead_url, "rm", "/k"])
    assert_same(normalize(ours.err, "/"), normalize(ref.err, "/"))
    assert ours.rc == ref.rc == 4
