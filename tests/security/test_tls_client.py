"""Client TLS: https listeners, client certificates, and the outcome of every wrong way to
connect, on etcdpy and on the reference side by side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.procs import ProcGroup, reference_binary
from tests.security.tlskit import (
    PKI,
    client_ctx,
    https,
    make_pki,
    plain_http_on_tls_port,
    start_tls_member,
    tls_outcome,
)

KINDS = ["etcdpy", "reference"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _skip_without_reference(kind: str) -> None:
    if kind == "reference" and reference_binary() is None:
        pytest.skip("the reference etcd is not installed (apt-get install etcd-server)")


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcGroup]:
    g = ProcGroup(tmp_path_factory.mktemp("tls-members"))
    try:
        yield g
    finally:
        g.close()


def _server_flags(pki: PKI) -> list[str]:
    return ["--cert-file", str(pki.server.cert), "--key-file", str(pki.server.key)]


@pytest.mark.parametrize("kind", KINDS)
def test_https_serves_and_plain_http_is_dropped(kind: str, pki: PKI, group: ProcGroup) -> None:
    _skip_without_reference(kind)
    m = start_tls_member(group, kind, f"plain-{kind}", _server_flags(pki), client_ctx(pki.ca))
    a = https(m.client_port, "PUT", "/v2/keys/t", client_ctx(pki.ca), b"value=1")
    assert a.status == 201
    # No CA: the server's certificate is not trusted, so the client gives up.
    assert tls_outcome(m.client_port, client_ctx(pki.other_ca)) == "refused"
    # Plain HTTP on the TLS port: etcd 3.4 closes the connection without a word (its TLS
    # listener rejects the first record); so does etcdpy, and it keeps serving.
    assert plain_http_on_tls_port(m.client_port) == b""
    assert tls_outcome(m.client_port, client_ctx(pki.ca)) == "ok"
    assert m.alive()


CERT_AUTH_CASES = {
    # --client-cert-auth with a CA to verify against.
    "client-cert-auth": lambda p: ["--client-cert-auth", "--trusted-ca-file", str(p.ca)],
    # etcd 3.4 demands client certificates as soon as a trusted CA is given.
    "trusted-ca-only": lambda p: ["--trusted-ca-file", str(p.ca)],
}


@pytest.mark.parametrize("case", sorted(CERT_AUTH_CASES))
@pytest.mark.parametrize("kind", KINDS)
def test_client_certificates_are_verified(kind: str, case: str, pki: PKI, group: ProcGroup) -> None:
    _skip_without_reference(kind)
    flags = _server_flags(pki) + CERT_AUTH_CASES[case](pki)
    good = client_ctx(pki.ca, pki.root_client)
    m = start_tls_member(group, kind, f"{case}-{kind}", flags, good)
    outcomes = {
        "no certificate": tls_outcome(m.client_port, client_ctx(pki.ca)),
        "certificate of another CA": tls_outcome(
            m.client_port, client_ctx(pki.ca, pki.rogue_client)
        ),
        "certificate of the CA": tls_outcome(m.client_port, good),
    }
    assert outcomes == {
        "no certificate": "refused",
        "certificate of another CA": "refused",
        "certificate of the CA": "ok",
    }
    assert m.alive()


def test_ca_file_is_the_2x_spelling_of_trusted_ca_with_client_cert_auth(
    pki: PKI, group: ProcGroup
) -> None:
    flags = [*_server_flags(pki), "--ca-file", str(pki.ca)]
    good = client_ctx(pki.ca, pki.alice_client)
    m = start_tls_member(group, "etcdpy", "ca-file", flags, good)
    assert tls_outcome(m.client_port, client_ctx(pki.ca)) == "refused"
    assert tls_outcome(m.client_port, good) == "ok"
