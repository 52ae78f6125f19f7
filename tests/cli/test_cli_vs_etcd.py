"""Side by side with the reference etcd: the same command lines are accepted or refused.

Messages differ on purpose (etcdpy adds what to do), so the comparison is on the verdict
and, for what Go's flag package refuses, on the exit status. Skipped without ``etcd``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ETCD = shutil.which("etcd")

pytestmark = pytest.mark.skipif(ETCD is None, reason="the reference etcd is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


PROGRAMS = (("etcd", [ETCD or "etcd"]), ("etcdpy", [sys.executable, "-m", "etcdpy"]))


def run(command: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> int:
    """Exit status of ``command``; a start that is not refused within the bound counts as 0."""
    env = clean_env(extra_env)
    try:
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return 0  # subprocess.run has killed the child by its PID.
    return proc.returncode


def both(args: list[str], tmp_path: Path) -> tuple[int, int]:
    # Loopback on free ports so that a start nobody refuses stays harmless.
    client, peer = free_port(), free_port()
    base = [
        f"-listen-client-urls=http://127.0.0.1:{client}",
        f"-advertise-client-urls=http://127.0.0.1:{client}",
        f"-listen-peer-urls=http://127.0.0.1:{peer}",
    ]
    codes = []
    for name, program in PROGRAMS:
        work = tmp_path / name
        work.mkdir()
        codes.append(run([*program, *base, "-data-dir", str(work / "data"), *args], work))
    return codes[0], codes[1]


ACCEPTED = [
    ["-name", "n1", "-initial-advertise-peer-urls", "http://127.0.0.1:1"],
    ["--name=n1", "--initial-cluster=n1=http://localhost:2380"],
    ["-force-new-cluster", "-debug=false", "--strict-reconfig-check=true"],
    ["-snapshot-count", "5", "-snapshot-count=6", "-heartbeat-interval=50"],
    ["-enable-v2=true", "-initial-cluster-state=existing", "-initial-cluster-token", "t"],
    # etcd 3.4 wants host:port in CORS origins; 2.3 (which etcdpy follows) did not.
    ["-max-snapshots=0", "-max-wals", "3", "-cors", "http://a.example:8080"],
    ["-initial-cluster", "a=http://10.0.0.1:1,a=http://10.0.0.1:2,b=http://10.0.0.2:1"],
    # Numbers as Go's strconv.ParseUint(s, 0, 64) reads them.
    ["-snapshot-count=0x10", "-heartbeat-interval=0x64", "-election-timeout=1_000"],
    ["-snapshot-count=010", "-max-wals=0o7", "-max-snapshots=0b11", "-snapshot-count=0"],
    ["-snapshot-count=18446744073709551615"],
]


@pytest.mark.parametrize("args", ACCEPTED)
def test_accepted_by_both(args: list[str], tmp_path: Path) -> None:
    # --version stops both right after reading the flags.
    assert both([*args, "-version"], tmp_path) == (0, 0)


USAGE_ERRORS = [["-no-such-flag"], ["-name"], ["---name", "x"]]


@pytest.mark.parametrize("args", USAGE_ERRORS)
def test_usage_errors_exit_2_in_both(args: list[str], tmp_path: Path) -> None:
    assert both(args, tmp_path) == (2, 2)


REFUSED = [
    ["-snapshot-count", "abc"],
    ["-heartbeat-interval=-5"],
    ["-force-new-cluster=maybe"],
    ["-initial-cluster-state", "old"],
    ["-listen-client-urls", "http://127.0.0.1"],
    ["-listen-client-urls", "http://127.0.0.1:2379/v2"],
    ["-listen-client-urls", "ftp://127.0.0.1:2379"],
    ["-listen-peer-urls", "http://example.com:2380"],
    ["-election-timeout", "400"],
    ["-election-timeout", "50001"],
    ["stray"],
    ["-name", "n1", "-initial-cluster", "n2=http://127.0.0.1:2380"],
    [
        "-initial-advertise-peer-urls",
        "http://127.0.0.1:3",
        "-initial-cluster",
        "default=http://127.0.0.1:4",
    ],
    ["-initial-cluster", "default=http://127.0.0.1:5,x=http://127.0.0.1:5"],
    ["-snapshot-count=08"],
    ["-snapshot-count=99999999999999999999"],
    ["-snapshot-count=1__0"],
    ["-heartbeat-interval=+5"],
]


@pytest.mark.parametrize("args", REFUSED)
def test_refused_by_both(args: list[str], tmp_path: Path) -> None:
    etcd_code, etcdpy_code = both(args, tmp_path)
    assert etcd_code != 0
    assert etcdpy_code == 1


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["-listen-client-urls=http://127.0.0.1:{client}"], {}),
        (["-listen-client-urls=http://localhost:{client}"], {}),
        ([], {"ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:{client}"}),
    ],
)
def test_listening_without_advertising_is_refused_by_both(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    client, peer = free_port(), free_port()
    base = [f"-listen-peer-urls=http://127.0.0.1:{peer}"]
    args = [a.format(client=client) for a in args]
    env = {k: v.format(client=client) for k, v in env.items()}
    codes = []
    for name, program in PROGRAMS:
        work = tmp_path / name
        work.mkdir()
        codes.append(run([*program, *base, "-data-dir", str(work / "d"), *args], work, env))
    assert codes == [1, 1]


def serves(command: list[str], client: int, cwd: Path, env: dict[str, str]) -> tuple[bool, str]:
    """Whether ``command`` answers GET /version on ``client`` within a bound; and its stdout."""
    import time
    import urllib.request

    with subprocess.Popen(
        command, cwd=cwd, env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{client}/version", timeout=2):
                        return True, ""
                except OSError:
                    time.sleep(0.1)
            return False, proc.stdout.read().decode() if proc.poll() is not None else ""
        finally:
            proc.kill()  # This child, by its Popen handle.


@pytest.mark.parametrize(
    ("args", "env"),
    [
        # etcd answers -version before reading ETCD_*, so the variable does not stop it.
        ([], {"ETCD_VERSION": "true"}),
        # etcd takes 0 as "the default snapshot count".
        (["-snapshot-count=0"], {}),
        (["-heartbeat-interval=0x32", "-election-timeout=0x1f4"], {}),
    ],
)
def test_started_by_both(args: list[str], env: dict[str, str], tmp_path: Path) -> None:
    for name, program in PROGRAMS:
        client, peer = free_port(), free_port()
        command = [
            *program,
            f"-listen-client-urls=http://127.0.0.1:{client}",
            f"-advertise-client-urls=http://127.0.0.1:{client}",
            f"-listen-peer-urls=http://127.0.0.1:{peer}",
            f"-initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"-initial-cluster=default=http://127.0.0.1:{peer}",
            "-data-dir",
            str(tmp_path / name / "d"),
            *args,
        ]
        (tmp_path / name).mkdir()
        if name == "etcd":
            command.append("-enable-v2=true")
        assert serves(command, client, tmp_path / name, env) == (True, ""), name
