"""HTTP form -> v2 Request, with etcd's checks in etcd's order."""

from __future__ import annotations

import pytest

from etcdpy.api.keyrequest import expiration_ns, parse_key_request
from etcdpy.store.errors import EtcdError

NOW = 1_800_000_000 * 10**9


def parse(form: dict[str, list[str]], method: str = "PUT", path: str = "/v2/keys/a"):
    return parse_key_request(method, path, form, NOW)


def err(form: dict[str, list[str]], method: str = "PUT") -> tuple[int, str]:
    with pytest.raises(EtcdError) as exc:
        parse(form, method)
    assert exc.value.index == 0
    return exc.value.code, exc.value.cause


def test_path_is_joined_under_the_keys_prefix() -> None:
    assert parse({}, path="/v2/keys")[0].path == "/1"
    assert parse({}, path="/v2/keys/")[0].path == "/1"
    assert parse({}, path="/v2/keys/a/b/")[0].path == "/1/a/b"


def test_plain_fields() -> None:
    req, nv = parse(
        {
            "value": ["v", "ignored"],
            "dir": ["true"],
            "prevValue": ["p"],
            "prevIndex": ["7"],
            "recursive": ["1"],
            "sorted": ["t"],
            "quorum": ["True"],
            "noValueOnSuccess": ["true"],
        }
    )
    assert (req.val, req.dir, req.prev_value, req.prev_index) == ("v", True, "p", 7)
    assert (req.recursive, req.sorted, req.quorum, nv) == (True, True, True, True)
    assert req.prev_exist is None and req.refresh is None and req.expiration == 0
    assert req.time == NOW


def test_wait_fields_on_get() -> None:
    req, _ = parse({"wait": ["true"], "waitIndex": ["12"], "stream": ["true"]}, "GET")
    assert (req.wait, req.since, req.stream) == (True, 12, True)


@pytest.mark.parametrize(
    ("form", "method", "want"),
    [
        ({"prevIndex": ["x"]}, "PUT", (203, 'invalid value for "prevIndex"')),
        ({"waitIndex": ["-1"]}, "GET", (203, 'invalid value for "waitIndex"')),
        ({"recursive": ["2"]}, "GET", (209, 'invalid value for "recursive"')),
        ({"sorted": ["no"]}, "GET", (209, 'invalid value for "sorted"')),
        ({"wait": ["y"]}, "GET", (209, 'invalid value for "wait"')),
        ({"dir": [""]}, "PUT", (209, 'invalid value for "dir"')),
        ({"quorum": ["x"]}, "GET", (209, 'invalid value for "quorum"')),
        ({"stream": ["x"]}, "GET", (209, 'invalid value for "stream"')),
        ({"wait": ["true"]}, "PUT", (209, '"wait" can only be used with GET requests')),
        ({"wait": ["true"]}, "HEAD", (209, '"wait" can only be used with GET requests')),
        ({"prevValue": [""]}, "PUT", (201, '"prevValue" cannot be empty')),
        ({"noValueOnSuccess": ["x"]}, "PUT", (209, 'invalid value for "noValueOnSuccess"')),
        ({"ttl": ["-1"]}, "PUT", (202, 'invalid value for "ttl"')),
        ({"prevExist": ["x"]}, "PUT", (209, "invalid value for prevExist")),
        ({"refresh": ["x"]}, "PUT", (209, "invalid value for refresh")),
        (
            {"refresh": ["true"], "ttl": ["5"], "value": ["v"]},
            "PUT",
            (211, "A value was provided on a refresh"),
        ),
        ({"refresh": ["true"]}, "PUT", (212, "No TTL value set")),
        ({"refresh": ["true"], "ttl": [""]}, "PUT", (212, "No TTL value set")),
        # etcd's order: prevIndex is checked before the booleans, ttl after prevValue.
        ({"prevIndex": ["x"], "dir": ["x"]}, "PUT", (203, 'invalid value for "prevIndex"')),
        ({"ttl": ["x"], "prevValue": [""]}, "PUT", (201, '"prevValue" cannot be empty')),
        (
            {"wait": ["true"], "prevValue": [""]},
            "PUT",
            (209, '"wait" can only be used with GET requests'),
        ),
    ],
)
def test_errors(form: dict[str, list[str]], method: str, want: tuple[int, str]) -> None:
    assert err(form, method) == want


def test_refresh_with_empty_value_is_allowed() -> None:
    req, _ = parse({"refresh": ["true"], "ttl": ["5"], "value": [""]})
    assert req.refresh is True and req.expiration == NOW + 5 * 10**9


def test_empty_ttl_means_none() -> None:
    assert parse({"ttl": [""]})[0].expiration == 0


def test_prev_exist_false_is_kept() -> None:
    assert parse({"prevExist": ["false"]})[0].prev_exist is False


@pytest.mark.parametrize(
    ("ttl", "want"),
    [
        (0, NOW),
        (10, NOW + 10 * 10**9),
        # Go's int64 arithmetic wraps; etcd stores what results.
        (2**64 - 1, NOW - 10**9),
        (2**63 - 1, NOW - 10**9),
    ],
)
def test_expiration_wraps_like_go(ttl: int, want: int) -> None:
    assert expiration_ns(ttl, NOW) == want


def test_expiration_overflow_lands_before_2000() -> None:
    # About 292 years: past what int64 nanoseconds can hold, so negative (permanent).
    assert expiration_ns(9223372036, NOW) < 946_684_800 * 10**9
