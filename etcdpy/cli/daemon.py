"""``etcdpy``: start one member from etcd's flags (the ``etcd`` binary's role).

Start-up cost matters (a member answers ``/version`` within a second of its start, and
``--help``/``--version`` should be instant), so this module imports only the flag parser;
asyncio, uvloop and the server come in once the flags are known to be good.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NoReturn

from etcdpy.cli import flags
from etcdpy.cli.logsetup import setup_logging
from etcdpy.server.config import Config, ConfigError
from etcdpy.version import ETCD_SERVER_VERSION, __version__

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger("etcdpy.cli")

EXIT_OK = 0
EXIT_FAILED = 1


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Run the member until SIGTERM or SIGINT; exits 0 then, 1 or 2 on a refused start."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        parsed = flags.parse(args, os.environ if environ is None else environ)
    except flags.FlagError as exc:
        _fail(str(exc), exc.exit_code)
    if parsed.show_help:
        sys.stdout.write(flags.usage())
        return
    if parsed.show_version:
        sys.stdout.write(version_text())
        return

    cfg = parsed.config
    setup_logging(cfg.name, cfg.debug)
    for used in parsed.env_used:
        log.info("recognized and used environment variable %s", used)
    for shadowed in parsed.env_shadowed:
        log.warning(
            "recognized environment variable %s, but unused: shadowed by corresponding flag",
            shadowed,
        )
    for unknown in parsed.env_unknown:
        log.warning("unrecognized environment variable %s", unknown)
    for note in parsed.defaulted:
        log.info("%s", note)

    try:
        cfg.validate()
        refuse_go_etcd_data_dir(cfg.member_dir)
        if not has_wal(cfg.member_dir):
            # A restarted member ignores --initial-*, as etcd does; only a new one needs them.
            cfg.validate_bootstrap()
    except ConfigError as exc:
        _fail(str(exc), EXIT_FAILED)
    code = _run(cfg)
    if code != EXIT_OK:
        raise SystemExit(code)


def version_text() -> str:
    import platform

    return (
        f"etcdpy Version: {__version__}\n"
        f"etcd Version: {ETCD_SERVER_VERSION}\n"
        f"Python Version: {platform.python_version()}\n"
        f"OS/Arch: {sys.platform}/{platform.machine()}\n"
    )


def has_wal(data_dir: str) -> bool:
    """Whether ``data_dir`` holds etcdpy's WAL: ``data_dir/wal``, the administration
    guide's layout (etcd >= 2.0.2 moved it to ``member/wal``, see :func:`go_etcd_dir`)."""
    try:
        with os.scandir(os.path.join(data_dir, "wal")) as entries:
            return any(e.name.endswith(".wal") for e in entries)
    except OSError:
        return False  # Missing, or unreadable: the server says which when it opens it.


def go_etcd_dir(data_dir: str) -> str | None:
    """``data_dir/member/wal`` or ``member/snap`` if Go etcd has written there, else None."""
    for name in ("wal", "snap"):
        path = os.path.join(data_dir, "member", name)
        try:
            with os.scandir(path) as entries:
                if any(True for _ in entries):
                    return path
        except OSError:
            continue
    return None


def refuse_go_etcd_data_dir(data_dir: str) -> None:
    """Raise :class:`ConfigError` if ``data_dir`` is laid out by Go etcd (``member/``).

    Without this, etcdpy would find no WAL of its own there and bootstrap a new, empty
    cluster beside the old data.
    """
    found = go_etcd_dir(data_dir)
    if found is None:
        return
    member = os.path.join(data_dir, "member")
    beside = (
        f", or move {member} away to start from the etcdpy data beside it"
        if has_wal(data_dir)
        else ""
    )
    raise ConfigError(
        f"the data dir {data_dir} holds a Go etcd data dir ({found}) that etcdpy cannot "
        f"read, since etcdpy keeps its own data in {os.path.join(data_dir, 'wal')} and "
        f"{os.path.join(data_dir, 'snap')} in its own format: start etcdpy with an empty "
        f"--data-dir and copy the keys over through the v2 API{beside}."
    )


def _fail(message: str, code: int) -> NoReturn:
    print(f"etcdpy: {message}", file=sys.stderr)
    raise SystemExit(code)


def _run(cfg: Config) -> int:
    import asyncio

    try:
        from etcdpy.server.run import run_member
    except ModuleNotFoundError as exc:
        if exc.name != "etcdpy.server.run":
            raise
        _fail("this build has no server yet (etcdpy.server.run is missing).", EXIT_FAILED)

    loop_factory = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve(cfg, run_member))
    except (ConfigError, OSError) as exc:
        # What the operator can fix (a busy port, an unreadable data dir): one sentence.
        print(f"etcdpy: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception:
        log.critical("member stopped on an unexpected error", exc_info=True)
        return EXIT_FAILED
    return EXIT_OK


async def _serve(cfg: Config, run_member: Callable[[Config], Awaitable[None]]) -> None:
    """Run the member; SIGTERM or SIGINT cancels it, and run_member cleans up on the way out."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopping: list[str] = []

    def stop(sig: signal.Signals) -> None:
        if not stopping:
            log.info("received %s, shutting down", sig.name)
        stopping.append(sig.name)
        task.cancel()

    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop, sig)
    try:
        await run_member(cfg)
    except asyncio.CancelledError:
        if not stopping:
            raise
        log.info("stopped")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
