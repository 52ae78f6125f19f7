"""--username (basic auth, password prompt) and --ca-file/--cert-file/--key-file (TLS),
each against its own server, side by side with etcdctl."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ctl.ctl_harness import REF, TARGET, assert_same, both, normalize, run
from tests.procs import ProcGroup, free_port, member_args

READY_S = 20.0


def same(args: list[str], **kw: object) -> None:
    ref, ours = both(args, **kw)
    assert_same(
        f"[exit {ours.rc}]\n{ours.out}[stderr]\n{ours.err}",
        f"[exit {ref.rc}]\n{ref.out}[stderr]\n{ref.err}",
    )


def test_basic_auth_and_password_prompt(tmp_path: Path) -> None:
    group = ProcGroup(tmp_path)
    try:
        try:
            member = group.start(TARGET, "auth")
        except RuntimeError as exc:
            pytest.skip(f"{TARGET} did not start: {str(exc).splitlines()[0]}")
        ep = ["--endpoints", member.client_url]
        assert run(REF, [*ep, "set", "/secret", "s3"]).rc == 0
        setup = [
            ["user", "add", "root:pw"],
            ["auth", "enable"],
            ["-u", "root:pw", "role", "revoke", "guest", "--path", "/*", "--readwrite"],
        ]
        for args in setup:
            r = run(REF, [*ep, *args])
            if r.rc != 0:
                pytest.skip(f"{TARGET} has no v2 auth: {r.err.strip() or r.out.strip()}")
        same([*ep, "get", "/secret"])
        same([*ep, "-u", "root:pw", "get", "/secret"])
        same([*ep, "-u", "root:wrong", "get", "/secret"])
        same([*ep, "--username", "root:pw", "-o", "extended", "get", "/secret"])
        # Without ":password" the password is read (from stdin when it is not a terminal);
        # etcdctl's stty complaints on stderr are not part of the contract.
        for password, code in ((b"pw\n", 0), (b"nope\n", 4)):
            ref, ours = both([*ep, "-u", "root", "get", "/secret"], stdin=password)
            assert (ours.rc, ours.out) == (ref.rc, ref.out)
            assert ours.rc == code
        same([*ep, "get", "/secret"], env={"ETCDCTL_USERNAME": "root:pw"})
        same([*ep, "-u", "root:pw", "member", "list"])
    finally:
        group.close()


def make_certs(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def write(label: str, cert: x509.Certificate, private: ec.EllipticCurvePrivateKey) -> None:
        (directory / f"{label}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{label}-key.pem").write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("ctl test CA"))
        .issuer_name(name("ctl test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    write("ca", ca, ca_key)
    for label, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        leaf_key = key()
        leaf = (
            x509.CertificateBuilder()
            .subject_name(name(label))
            .issuer_name(ca.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write(label, leaf, leaf_key)
    return {p.stem: p for p in directory.glob("*.pem")}


def wait_https(url: str, certs: dict[str, Path], proc_alive: object) -> None:
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    context.load_cert_chain(str(certs["client"]), str(certs["client-key"]))
    end = time.monotonic() + READY_S
    last: Exception | None = None
    while time.monotonic() < end:
        if not proc_alive():  # type: ignore[operator]
            raise RuntimeError("the TLS member exited")
        try:
            with urllib.request.urlopen(f"{url}/health", context=context, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"the TLS member did not answer /health: {last!r}")


def test_tls_with_client_certificates(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    client_port, peer_port = free_port(), free_port()
    args = member_args("tls", client_port, peer_port, tmp_path / "tls.etcd")
    url = f"https://127.0.0.1:{client_port}"
    args[args.index("--listen-client-urls") + 1] = url
    args[args.index("--advertise-client-urls") + 1] = url
    args += [
        "--cert-file",
        str(certs["server"]),
        "--key-file",
        str(certs["server-key"]),
        "--trusted-ca-file",
        str(certs["ca"]),
        "--client-cert-auth",
    ]
    group = ProcGroup(tmp_path)
    try:
        member = group.start(
            TARGET, "tls", args, client_port=client_port, peer_port=peer_port, ready=False
        )
        try:
            wait_https(url, certs, member.alive)
        except RuntimeError as exc:
            if TARGET == "etcdpy":
                pytest.skip(f"etcdpy does not serve TLS yet: {exc}")
            raise
        tls = [
            "--endpoints",
            url,
            "--ca-file",
            str(certs["ca"]),
            "--cert-file",
            str(certs["client"]),
            "--key-file",
            str(certs["client-key"]),
        ]
        assert run(REF, [*tls, "set", "/tls/k", "v"]).rc == 0
        same([*tls, "-o", "json", "get", "/tls/k"])
        same([*tls, "get", "/tls/k"])
        same([*tls, "member", "list"])
        same([*tls, "cluster-health"])
        env = {
            "ETCDCTL_CA_FILE": str(certs["ca"]),
            "ETCDCTL_CERT_FILE": str(certs["client"]),
            "ETCDCTL_KEY_FILE": str(certs["client-key"]),
        }
        same(["--endpoints", url, "get", "/tls/k"], env=env)
        # No CA: the server's certificate is not trusted.
        same(["--no-sync", "--endpoints", url, "get", "/tls/k"])
        # A certificate without its key, and a missing file, are refused up front.
        same([*tls[:4], "--cert-file", str(certs["client"]), "get", "/tls/k"])
        ref, ours = both([*tls[:2], "--ca-file", str(tmp_path / "missing.pem"), "get", "/k"])
        assert ref.rc == ours.rc == 1
        assert "missing.pem: no such file or directory" in ours.err
        # No client certificate: the server refuses the handshake; both fail the same way.
        ref, ours = both(["--no-sync", *tls[:4], "get", "/tls/k"])
        assert ref.rc == ours.rc == 4
        assert normalize(ours.err, "/").startswith("Error:  client: etcd cluster is unavailable")
    finally:
        group.close()
