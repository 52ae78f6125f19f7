"""run_member: listening, TLS, and the one-sentence errors an operator can cause."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

import pytest

from etcdpy.server.config import Config, ConfigError
from etcdpy.server.run import run_member
from tests.compat import wire
from tests.procs import free_port

DEADLINE_S = 10.0


def cfg_for(urls: list[str], **kw: object) -> Config:
    peer = f"http://127.0.0.1:{free_port()}"
    return Config(
        name="run",
        listen_client_urls=urls,
        advertise_client_urls=urls,
        initial_advertise_peer_urls=[peer],
        initial_cluster={"run": [peer]},
        **kw,  # type: ignore[arg-type]
    )


def test_busy_port_is_one_clear_sentence() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError) as exc:
            asyncio.run(
                asyncio.wait_for(run_member(cfg_for([f"http://127.0.0.1:{port}"])), DEADLINE_S)
            )
    msg = str(exc.value)
    assert f"127.0.0.1:{port}" in msg and msg.endswith("?") and "\n" not in msg


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "http://127.0.0.1", "127.0.0.1:2379"])
def test_bad_listen_url(url: str) -> None:
    with pytest.raises(ConfigError, match="cannot listen on client URL"):
        asyncio.run(asyncio.wait_for(run_member(cfg_for([url])), DEADLINE_S))


def test_https_without_cert_is_refused() -> None:
    with pytest.raises(ConfigError, match="--cert-file and --key-file"):
        asyncio.run(run_member(cfg_for([f"https://127.0.0.1:{free_port()}"])))


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serves_https_and_plain_side_by_side(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    tls_port, plain_port = free_port(), free_port()
    cfg = cfg_for(
        [f"https://127.0.0.1:{tls_port}", f"http://127.0.0.1:{plain_port}"],
        cert_file=str(cert),
        key_file=str(key),
    )

    async def scenario() -> None:
        task = asyncio.create_task(run_member(cfg))
        try:
            ctx = ssl.create_default_context(cafile=str(cert))
            end = asyncio.get_running_loop().time() + DEADLINE_S
            while True:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", tls_port, ssl=ctx)
                    break
                except OSError:
                    assert asyncio.get_running_loop().time() < end, "TLS listener never came up"
                    await asyncio.sleep(0.05)
            writer.write(wire.build_request("GET", "/version"))
            data = await asyncio.wait_for(reader.read(), DEADLINE_S)
            writer.close()
            assert data.startswith(b"HTTP/1.1 200") and b'"etcdserver":"2.3.8"' in data
            plain = await asyncio.to_thread(wire.request, plain_port, "GET", "/version")
            assert plain.status == 200
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
