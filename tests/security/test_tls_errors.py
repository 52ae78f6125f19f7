"""A bad certificate, key or CA file ends the start with one sentence that names the flag
and the file, before the data dir is created."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from etcdpy.server.config import Config, ConfigError
from etcdpy.server.tls import member_tls
from tests.procs import REPO, free_port
from tests.security.certs import write_encrypted_key
from tests.security.tlskit import PKI, make_pki, member_flags

START_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def https_config(**tls: object) -> Config:
    cfg = Config(listen_client_urls=["https://127.0.0.1:2379"])
    for k, v in tls.items():
        setattr(cfg, k, v)
    return cfg


# Each case: how to make the config from the PKI and a scratch dir, and what the one
# sentence must contain.
Case = Callable[[PKI, Path], Config]
CASES: dict[str, tuple[Case, list[str]]] = {
    "no-cert-flags": (lambda p, d: https_config(), ["--cert-file is not set", "--key-file"]),
    "no-key-flag": (
        lambda p, d: https_config(cert_file=str(p.server.cert)),
        ["--key-file is not set"],
    ),
    "missing-key": (
        lambda p, d: https_config(cert_file=str(p.server.cert), key_file=str(d / "nope.pem")),
        ["cannot read --key-file=", "nope.pem", "No such file or directory"],
    ),
    "missing-cert": (
        lambda p, d: https_config(cert_file=str(d / "gone.pem"), key_file=str(p.server.key)),
        ["cannot read --cert-file=", "gone.pem"],
    ),
    "key-is-a-directory": (
        lambda p, d: https_config(cert_file=str(p.server.cert), key_file=str(d)),
        ["cannot read --key-file="],
    ),
    "encrypted-key": (
        lambda p, d: https_config(
            cert_file=str(p.server.cert), key_file=str(write_encrypted_key(d, "enc", b"pw"))
        ),
        ["--key-file=", "is encrypted"],
    ),
    "key-of-another-cert": (
        lambda p, d: https_config(cert_file=str(p.server.cert), key_file=str(p.peers[0].key)),
        ["are not a usable certificate and private key", "KEY_VALUES_MISMATCH"],
    ),
    "key-given-as-cert": (
        lambda p, d: https_config(cert_file=str(p.server.key), key_file=str(p.server.key)),
        ["are not a usable certificate and private key"],
    ),
    "ca-is-not-a-certificate": (
        lambda p, d: https_config(
            cert_file=str(p.server.cert),
            key_file=str(p.server.key),
            trusted_ca_file=str(p.server.key),
        ),
        ["--trusted-ca-file=", "holds no usable CA certificate"],
    ),
    "peer-https-without-peer-cert": (
        lambda p, d: Config(listen_peer_urls=["https://127.0.0.1:2380"]),
        ["--peer-cert-file is not set", "--peer-key-file", "TLS for peers"],
    ),
    "peer-ca-missing": (
        lambda p, d: Config(peer_trusted_ca_file=str(d / "none.pem")),
        ["cannot read --peer-trusted-ca-file="],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_tls_file_is_one_sentence(case: str, pki: PKI, tmp_path: Path) -> None:
    make, parts = CASES[case]
    with pytest.raises(ConfigError) as info:
        member_tls(make(pki, tmp_path))
    msg = str(info.value)
    assert "\n" not in msg and msg.endswith(".")
    for part in parts:
        assert part in msg, msg


def test_unreadable_key_names_the_file(pki: PKI, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    key = tmp_path / "key.pem"
    key.write_bytes(pki.server.key.read_bytes())
    key.chmod(0)
    with pytest.raises(ConfigError, match=r"cannot read --key-file=.*Permission denied"):
        member_tls(https_config(cert_file=str(pki.server.cert), key_file=str(key)))


def test_tls_files_over_http_urls_are_not_read(tmp_path: Path) -> None:
    # etcd reads the client certificate only for https URLs; so does etcdpy.
    cfg = Config(cert_file=str(tmp_path / "nope.pem"), key_file=str(tmp_path / "nope.pem"))
    tls = member_tls(cfg)
    assert tls.client_server is None and tls.peer_server is None


@pytest.mark.parametrize("case", ["missing-key", "encrypted-key"])
def test_daemon_exits_1_before_creating_the_data_dir(case: str, pki: PKI, tmp_path: Path) -> None:
    cfg = CASES[case][0](pki, tmp_path)
    data_dir = tmp_path / "member.etcd"
    cp, pp = free_port(), free_port()
    tls = ["--cert-file", cfg.cert_file, "--key-file", cfg.key_file]
    args = [*member_flags("m", cp, pp, data_dir), *tls]
    proc = subprocess.run(
        [sys.executable, "-m", "etcdpy", *args],
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.startswith("etcdpy: ") and err.count("\n") == 1, err
    assert "--key-file=" in err
    assert "Traceback" not in err
    assert not data_dir.exists()
