"""main(): what reaches stdout, stderr and the exit status, before any server starts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdpy.cli import daemon
from etcdpy.server.config import Config
from etcdpy.version import ETCD_SERVER_VERSION, __version__

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def run_main(
    args: list[str], capsys: pytest.CaptureFixture[str], env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    try:
        daemon.main(args, env or {})
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_help_prints_every_flag_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["--help"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("Usage:")
    for name in ("--name", "--data-dir", "--initial-cluster", "--force-new-cluster", "--cors"):
        assert f"  {name} '" in out


def test_version_names_etcdpy_and_emulated_etcd(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["-version"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[:2] == [
        f"etcdpy Version: {__version__}",
        f"etcd Version: {ETCD_SERVER_VERSION}",
    ]


@pytest.mark.parametrize(
    ("args", "code", "sentence"),
    [
        (["-bogus"], 2, "etcdpy: flag provided but not defined: -bogus;"),
        (["-snapshot-count", "-1"], 1, 'etcdpy: invalid value "-1" for flag -snapshot-count'),
        (["-election-timeout", "400"], 1, "etcdpy: --election-timeout[400ms] should be at"),
        (["-election-timeout", "60000"], 1, "etcdpy: --election-timeout[60000ms] is too long"),
        (
            [
                "-listen-client-urls",
                "https://127.0.0.1:1",
                "-advertise-client-urls",
                "https://127.0.0.1:1",
                "-cert-file",
                "/nonexistent/c.pem",
                "-key-file",
                "/nonexistent/k.pem",
            ],
            1,
            "etcdpy: cannot read --cert-file=/nonexistent/c.pem: No such file or directory;",
        ),
        (
            ["-listen-client-urls", "http://127.0.0.1:1"],
            1,
            "etcdpy: --advertise-client-urls is required when --listen-client-urls is set "
            "explicitly: when listening on specific address(es), this etcd process must "
            "advertise accessible url(s) to each connected client, so set "
            "--advertise-client-urls to the URLs clients reach this member at.\n",
        ),
        (
            # etcd checks the election timeout first.
            ["-listen-client-urls", "http://127.0.0.1:1", "-election-timeout", "400"],
            1,
            "etcdpy: --election-timeout[400ms] should be at",
        ),
        (
            ["-name", "n1", "-initial-cluster", "n2=http://127.0.0.1:2380"],
            1,
            'etcdpy: couldn\'t find local name "n1" in the initial cluster configuration',
        ),
        (
            [
                "-initial-advertise-peer-urls",
                "http://127.0.0.1:2390",
                "-initial-cluster",
                "default=http://127.0.0.1:2380",
            ],
            1,
            "etcdpy: --initial-cluster has default=http://127.0.0.1:2380 but "
            "--initial-advertise-peer-urls=http://127.0.0.1:2390;",
        ),
    ],
)
def test_refused_start_is_one_sentence_and_an_exit_code(
    args: list[str],
    code: int,
    sentence: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    got, out, err = run_main([*args, "-data-dir", str(tmp_path / "d")], capsys)
    assert got == code
    assert out == ""
    assert err.startswith(sentence)
    assert err.count("\n") == 1


def test_version_is_printed_even_with_inconsistent_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As etcd: --version wins over checks that relate flags, but not over a bad value.
    assert run_main(["-version", "-election-timeout", "1"], capsys)[0] == 0
    assert run_main(["-version", "-election-timeout", "x"], capsys)[0] == 1


def test_restarted_member_skips_bootstrap_checks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a WAL on disk etcd ignores --initial-*; only the server may judge the data dir.
    wal_dir = tmp_path / "d" / "wal"
    wal_dir.mkdir(parents=True)
    (wal_dir / "0000000000000000-0000000000000000.wal").write_bytes(b"")
    started: list[Config] = []
    monkeypatch.setattr(daemon, "_run", lambda cfg: started.append(cfg) or 0)
    args = ["-name", "n1", "-initial-cluster", "n2=http://127.0.0.1:2380"]
    code, _, err = run_main([*args, "-data-dir", str(tmp_path / "d")], capsys)
    assert (code, err) == (0, "")
    assert [c.name for c in started] == ["n1"]


def test_env_notes_are_logged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon, "_run", lambda cfg: 0)
    env = {"ETCD_NAME": "envname", "ETCD_DEBUG": "1", "ETCD_TYPO": "x"}
    code, _, err = run_main(["-name", "n1", "-data-dir", str(tmp_path / "d")], capsys, env)
    assert code == 0
    lines = err.splitlines()
    assert any(
        " | n1 | etcdpy.cli: recognized and used environment variable ETCD_DEBUG=1" in line
        for line in lines
    )
    assert any(
        " W | n1 | etcdpy.cli: recognized environment variable ETCD_NAME, but unused: shadowed"
        in line
        for line in lines
    )
    assert any(
        " W | n1 | etcdpy.cli: unrecognized environment variable ETCD_TYPO=x" in line
        for line in lines
    )


def test_has_wal_reads_etcdpy_layout_only(tmp_path: Path) -> None:
    assert not daemon.has_wal(str(tmp_path / "missing"))
    (tmp_path / "a" / "wal").mkdir(parents=True)
    assert not daemon.has_wal(str(tmp_path / "a"))
    (tmp_path / "a" / "wal" / "0-0.wal").write_bytes(b"")
    assert daemon.has_wal(str(tmp_path / "a"))
    # Go etcd's member/wal is not a WAL etcdpy can restart from.
    (tmp_path / "b" / "member" / "wal").mkdir(parents=True)
    (tmp_path / "b" / "member" / "wal" / "0-0.wal").write_bytes(b"")
    assert not daemon.has_wal(str(tmp_path / "b"))


@pytest.mark.parametrize(
    ("files", "found"),
    [
        (["member/wal/0000000000000000-0000000000000000.wal"], "member/wal"),
        (["member/snap/db"], "member/snap"),
        (["member/snap/0000000000000002-0000000000000005.snap"], "member/snap"),
    ],
)
def test_go_etcd_data_dir_is_refused(
    files: list[str],
    found: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "d"
    for name in files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(b"go etcd")
    started: list[Config] = []
    monkeypatch.setattr(daemon, "_run", lambda cfg: started.append(cfg) or 0)
    code, out, err = run_main(["-data-dir", str(data)], capsys)
    assert (code, out, started) == (1, "", [])
    assert err == (
        f"etcdpy: the data dir {data} holds a Go etcd data dir ({data / found}) that etcdpy "
        f"cannot read, since etcdpy keeps its own data in {data / 'wal'} and {data / 'snap'} "
        "in its own format: start etcdpy with an empty --data-dir and copy the keys over "
        "through the v2 API.\n"
    )
    # Next to etcdpy's own data (a start before this check existed), it says how to keep that.
    (data / "wal").mkdir()
    (data / "wal" / "0000000000000000-0000000000000000.wal").write_bytes(b"")
    code, _, err = run_main(["-data-dir", str(data)], capsys)
    assert code == 1
    assert err.endswith(
        f", or move {data / 'member'} away to start from the etcdpy data beside it.\n"
    )
    assert err.count("\n") == 1


def test_empty_go_etcd_dirs_are_not_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d" / "member" / "wal").mkdir(parents=True)
    monkeypatch.setattr(daemon, "_run", lambda cfg: 0)
    assert run_main(["-data-dir", str(tmp_path / "d")], capsys)[:2] == (0, "")


def test_version_from_the_environment_does_not_stop_the_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Config] = []
    monkeypatch.setattr(daemon, "_run", lambda cfg: started.append(cfg) or 0)
    code, out, _ = run_main(["-data-dir", str(tmp_path / "d")], capsys, {"ETCD_VERSION": "true"})
    assert (code, out, len(started)) == (0, "", 1)


def test_snapshot_count_zero_is_logged_as_the_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Config] = []
    monkeypatch.setattr(daemon, "_run", lambda cfg: started.append(cfg) or 0)
    args = ["-snapshot-count=0", "-data-dir", str(tmp_path / "d")]
    code, _, err = run_main(args, capsys)
    assert (code, [c.snapshot_count for c in started]) == (0, [10_000])
    assert "etcdpy.cli: set snapshot count to default 10000" in err


def test_command_line_error_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "etcdpy", "-listen-client-urls", "http://example.com:2379"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith('etcdpy: invalid value "http://example.com:2379"')
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
