"""With ``--client-cert-auth``, a request without an ``Authorization`` header is made by
the user its client certificate's common name names: side by side with the reference."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.procs import ProcGroup, reference_binary
from tests.security.certs import Pair
from tests.security.tlskit import PKI, Answer, client_ctx, https, make_pki, start_tls_member


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcGroup]:
    g = ProcGroup(tmp_path_factory.mktemp("cn"))
    try:
        yield g
    finally:
        g.close()


def test_certificate_common_name_is_the_user(group: ProcGroup, pki: PKI) -> None:
    if reference_binary() is None:
        pytest.skip("the reference etcd is not installed (apt-get install etcd-server)")
    flags = [
        "--cert-file",
        str(pki.server.cert),
        "--key-file",
        str(pki.server.key),
        "--trusted-ca-file",
        str(pki.ca),
        "--client-cert-auth",
    ]
    ready = client_ctx(pki.ca, pki.alice_client)
    members = [start_tls_member(group, k, "cn", flags, ready) for k in ("reference", "etcdpy")]

    def ask(port: int, cert: Pair, method: str, path: str, **kw: object) -> Answer:
        return https(port, method, path, client_ctx(pki.ca, cert), **kw)  # type: ignore[arg-type]

    root, alice = pki.root_client, pki.alice_client
    steps: list[tuple[str, int, Pair, str, str, dict[str, object]]] = [
        (
            "create root",
            201,
            alice,
            "PUT",
            "/v2/auth/users/root",
            {"body": b'{"user":"root","password":"pw"}'},
        ),
        (
            "create alice",
            201,
            alice,
            "PUT",
            "/v2/auth/users/alice",
            {"body": b'{"user":"alice","password":"a"}'},
        ),
        ("enable", 200, alice, "PUT", "/v2/auth/enable", {}),
        ("users as alice's cert", 401, alice, "GET", "/v2/auth/users", {}),
        ("users as root's cert", 200, root, "GET", "/v2/auth/users", {}),
        (
            "users as alice with root's password",
            200,
            alice,
            "GET",
            "/v2/auth/users",
            {"headers": basic("root", "pw")},
        ),
        (
            "root's cert with a wrong password",
            401,
            root,
            "GET",
            "/v2/auth/users",
            {"headers": basic("root", "no")},
        ),
        (
            "revoke guest",
            200,
            root,
            "PUT",
            "/v2/auth/roles/guest",
            {"body": b'{"role":"guest","revoke":{"kv":{"write":["/*"],"read":["/*"]}}}'},
        ),
        ("key as alice's cert (no roles)", 401, alice, "GET", "/v2/keys/x", {}),
        ("key as root's cert", 201, root, "PUT", "/v2/keys/x", {"body": b"value=1"}),
        ("members change as alice's cert", 401, alice, "DELETE", "/v2/members/1234", {}),
        ("delete alice as root's cert", 200, root, "DELETE", "/v2/auth/users/alice", {}),
        ("key as a cert whose user is gone", 401, alice, "GET", "/v2/keys/x", {}),
        ("disable as root's cert", 200, root, "DELETE", "/v2/auth/enable", {}),
    ]
    for label, status, cert, method, path, kw in steps:
        answers = [ask(m.client_port, cert, method, path, **kw) for m in members]
        ref, ours = ((a.status, _shape(a.body)) for a in answers)
        assert ours == ref, f"{label}: reference {ref} != etcdpy {ours}"
        assert ours[0] == status, f"{label}: {ours}"


def _shape(body: bytes) -> object:
    """The body with store indexes dropped (each server counts its own)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if isinstance(doc, dict):
        doc.pop("index", None)
        node = doc.get("node")
        if isinstance(node, dict):
            node.pop("modifiedIndex", None)
            node.pop("createdIndex", None)
    return doc
