"""The auth pieces on their own: permission patterns, merges, Go-style body decoding,
basic-auth parsing, password hashes and the check cache."""

from __future__ import annotations

import asyncio
import base64

import pytest

from etcdpy.api.auth_access import basic_credentials
from etcdpy.api.auth_json import InvalidJSON, decode_role, decode_user
from etcdpy.server.auth_password import PasswordChecker, hash_password, verify_password
from etcdpy.server.auth_records import (
    AuthError,
    Permissions,
    Role,
    RWPermission,
    User,
    dump_record,
    load_role,
    load_user,
    root_role,
)

# --- permissions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "key", "exact", "tree"),
    [
        ("/a/*", "/a/b", True, True),
        ("/a/*", "/a/", True, True),
        ("/a/*", "/a", False, False),
        ("/a*", "/ab/c", True, True),
        ("/a/b", "/a/b", True, False),
        ("/a/b", "/a/b/c", False, False),
        ("/*", "", False, False),
        ("/*", "/", True, True),
        ("*", "", True, True),
        ("", "", False, False),
    ],
)
def test_patterns(pattern: str, key: str, exact: bool, tree: bool) -> None:
    rw = RWPermission([pattern], [])
    assert rw.has_access(key, write=False) is exact
    assert rw.has_recursive_access(key, write=False) is tree
    assert rw.has_access(key, write=True) is False


def test_root_role_has_everything_and_others_only_what_they_hold() -> None:
    assert root_role().has_key_access("", write=True)
    assert root_role().has_recursive_access("/x", write=True)
    r = Role("r", Permissions(RWPermission(["/a/*"], None)))
    assert r.has_key_access("/a/x", write=False) and not r.has_key_access("/a/x", write=True)


def test_role_grant_sorts_and_refuses_duplicates() -> None:
    r = Role("r", Permissions(RWPermission(["/b", "/a"], None)))
    merged = r.merge(Role("r", grant=Permissions(RWPermission(["/c"], None))))
    # Go's sets come back non-nil and sorted, even where nothing was granted.
    assert merged.permissions.kv == RWPermission(["/a", "/b", "/c"], [])
    with pytest.raises(AuthError, match="Granting duplicate read permission /a") as info:
        r.merge(Role("r", grant=Permissions(RWPermission(["/a"], None))))
    assert info.value.status == 409


def test_role_revoke_of_what_was_never_granted_is_no_change() -> None:
    r = Role("r", Permissions(RWPermission(["/a"], ["/w"])))
    once = r.merge(Role("r", revoke=Permissions(RWPermission(["/zz"], None))))
    # Equal lists compare equal; etcd then answers "Role not updated".
    assert once.merge(Role("r", revoke=Permissions(RWPermission(["/zz"], None)))) == once


def test_user_merge_keeps_nil_and_empty_apart() -> None:
    old = User("u", "hash", None)
    new = old.merge(User("u"), lambda: "unused")
    # etcd's first no-op update turns "roles":null into "roles":[] (and so is an update).
    assert new.roles == [] and new != old
    assert new.merge(User("u"), lambda: "unused") == new


def test_user_merge_grants_revokes_and_hashes_only_a_new_password() -> None:
    calls: list[int] = []

    def hashed() -> str:
        calls.append(1)
        return "new-hash"

    u = User("u", "old-hash", ["b", "a"])
    assert u.merge(User("u", grant=["c"], revoke=["a"]), hashed) == User(
        "u", "old-hash", ["b", "c"]
    )
    assert calls == []
    assert u.merge(User("u", password="pw"), hashed).password == "new-hash"
    with pytest.raises(AuthError, match="Granting duplicate role a for user u"):
        u.merge(User("u", grant=["a"]), hashed)
    with pytest.raises(AuthError, match="Revoking ungranted role z for user u"):
        u.merge(User("u", revoke=["z"]), hashed)


def test_root_user_always_holds_the_root_role() -> None:
    assert User("root", roles=None).with_root_role().roles == ["root"]
    assert User("root", roles=["x"]).with_root_role().roles == ["x", "root"]


def test_records_round_trip_through_the_store_form() -> None:
    u = User("u", "h", None)
    assert load_user(dump_record(u)) == u
    r = Role("r", Permissions(RWPermission(None, ["/w"])), grant=Permissions())
    assert load_role(dump_record(r)) == r
    assert '"password"' not in dump_record(User("u", "", ["a"]))


# --- request bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"user":"a","password":"p"}', User("a", "p")),
        (b'{"USER":"a","Password":"p"}', User("a", "p")),
        (b'  {"user":"a"}  trailing garbage', User("a")),
        (b'{"user":"a","roles":null}', User("a")),
        (b'{"user":"a","roles":["x",null]}', User("a", roles=["x", ""])),
        (b'{"user":"a","unknown":{"deep":[1,2]}}', User("a")),
        (b'{"user":"a","user":"b"}', User("b")),
        (b'{"user":null}', User("")),
        (b"null", User("")),
    ],
)
def test_user_bodies(body: bytes, expected: User) -> None:
    assert decode_user(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"{",
        b"[1]",
        b'"user"',
        b'{"user":1}',
        b'{"user":"a","password":NaN}',
        b'{"user":"a","roles":"x"}',
        b'{"user":"a","roles":[1]}',
        b'{"user":"a","grant":{}}',
    ],
)
def test_bad_user_bodies(body: bytes) -> None:
    with pytest.raises(InvalidJSON):
        decode_user(body)


def test_role_bodies() -> None:
    r = decode_role(b'{"role":"r","permissions":{"kv":{"read":["/a"]}},"grant":{}}')
    assert r == Role("r", Permissions(RWPermission(["/a"], None)), grant=Permissions())
    assert decode_role(b'{"role":"r","revoke":null}').revoke is None
    assert decode_role(b'{"Role":"r","GRANT":{"KV":{"Write":["/w"]}}}').grant == Permissions(
        RWPermission(None, ["/w"])
    )
    for bad in (b'{"role":"r","permissions":[]}', b'{"role":"r","grant":{"kv":{"read":"/a"}}}'):
        with pytest.raises(InvalidJSON):
            decode_role(bad)


# --- basic auth ----------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + _b64(b"root:pw"), ("root", b"pw")),
        ("basic " + _b64(b"root:pw"), ("root", b"pw")),
        ("BASIC " + _b64(b"root:pw:more"), ("root", b"pw:more")),
        ("Basic " + _b64(b"root:"), ("root", b"")),
        ("Basic " + _b64(b":pw"), ("", b"pw")),
        ("Basic " + _b64(b"u:p")[:4] + "\r\n" + _b64(b"u:p")[4:], ("u", b"p")),
        ("Basic " + _b64(b"root"), None),
        ("Basic !!!", None),
        ("Basic " + _b64(b"root:pw").rstrip("="), None),
        ("Bearer " + _b64(b"root:pw"), None),
        ("Basic", None),
        ("Basic é", None),
    ],
)
def test_basic_credentials(header: str, expected: tuple[str, bytes] | None) -> None:
    assert basic_credentials(header) == expected


# --- passwords ------------------------------------------------------------------------------


def test_hash_is_salted_slow_form_and_verifies() -> None:
    h1, h2 = hash_password(b"secret"), hash_password(b"secret")
    assert h1 != h2 and h1.startswith("$scrypt$ln=14,r=8,p=1$")
    assert b"secret" not in h1.encode()
    assert verify_password(b"secret", h1)
    assert not verify_password(b"Secret", h1)
    assert not verify_password(b"secret", h1[:-2] + ("A" if h1[-2] != "A" else "B") + h1[-1])


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "$2a$10$bcrypthashbcrypthashbcrypthashbcrypthashbcrypthash12",
        "$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA",
        "$scrypt$ln=14,r=8$c2FsdA$aGFzaA",
        "$scrypt$ln=x,r=8,p=1$c2FsdA$aGFzaA",
        "$scrypt$ln=14,r=8,p=1$!!$aGFzaA",
        "$scrypt$ln=14,r=8,p=1$c2FsdA$",
    ],
)
def test_foreign_or_damaged_hashes_never_match(stored: str) -> None:
    assert not verify_password(b"anything", stored)


def test_checker_caches_successes_only() -> None:
    stored = hash_password(b"pw")

    async def scenario() -> None:
        c = PasswordChecker()
        assert await c.check("u", stored, b"pw")
        assert await c.check("u", stored, b"pw")
        assert c.slow_checks == 1
        assert not await c.check("u", stored, b"bad")
        assert not await c.check("u", stored, b"bad")
        assert c.slow_checks == 3
        # Another user, or the same user with a new hash, is checked again.
        assert await c.check("v", stored, b"pw")
        assert c.slow_checks == 4
        assert not await c.check("u", "", b"pw")
        assert c.slow_checks == 4

    asyncio.run(scenario())


def test_checker_cache_is_bounded() -> None:
    stored = hash_password(b"pw")

    async def scenario() -> None:
        c = PasswordChecker(cache_entries=2)
        for user in ("a", "b", "c"):
            assert await c.check(user, stored, b"pw")
        assert c.slow_checks == 3
        assert await c.check("c", stored, b"pw")
        assert c.slow_checks == 3
        assert await c.check("a", stored, b"pw")  # evicted: hashed again
        assert c.slow_checks == 4

    asyncio.run(scenario())
