"""How a member restarted from an out-of-date copy of its data dir is told to stop, in
one process: the leader's rule, the follower's rule, and the 409 on the peer transport.
(The whole story on real processes is in test_migrate.py.)"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiohttp import web

from etcdpy.raft import Role
from etcdpy.raft.types import Message, MessageType
from etcdpy.server.config import Config
from etcdpy.server.etcdserver import LOST_ACK_REJECTIONS, EtcdServer
from etcdpy.server.transport import STATUS_LOST_DATA, Transport, TransportHooks
from tests.procs import LOOPBACK, free_port

LEADER, FOLLOWER = 0xA1, 0xB2


def leader_view(match: int, term: int = 3) -> EtcdServer:
    """A server object whose Raft state says: leader at ``term``, follower acked ``match``."""
    s = EtcdServer(Config(name="lead", data_dir="/nonexistent"))
    s.id = LEADER
    s._role = Role.LEADER
    progress = {FOLLOWER: SimpleNamespace(match=match)}
    s.node = SimpleNamespace(
        raft=SimpleNamespace(term=term, trk=SimpleNamespace(progress=progress))
    )  # type: ignore[assignment]
    return s


def rejection(hint: int, term: int = 3) -> Message:
    return Message(
        MessageType.APP_RESP,
        to=LEADER,
        frm=FOLLOWER,
        term=term,
        index=50,
        reject=True,
        reject_hint=hint,
    )


def test_the_leader_names_a_follower_whose_rejections_stay_below_its_match() -> None:
    s = leader_view(match=50)
    verdicts = [s._lost_acks_check(rejection(hint=20)) for _ in range(LOST_ACK_REJECTIONS)]
    assert verdicts[:-1] == [None] * (LOST_ACK_REJECTIONS - 1)
    assert verdicts[-1] is not None
    assert "ends at index 20" in verdicts[-1] and "up to index 50" in verdicts[-1]


def test_the_leader_ignores_ordinary_rejections_and_resets_on_an_ack() -> None:
    s = leader_view(match=50)
    # A follower with a divergent tail hints at or above what it acknowledged.
    for _ in range(2 * LOST_ACK_REJECTIONS):
        assert s._lost_acks_check(rejection(hint=50)) is None
    # One stale rejection, then an ack: the count starts over.
    for _ in range(LOST_ACK_REJECTIONS - 1):
        assert s._lost_acks_check(rejection(hint=20)) is None
    ack = Message(MessageType.APP_RESP, to=LEADER, frm=FOLLOWER, term=3, index=51)
    assert s._lost_acks_check(ack) is None
    assert s._lost_acks_check(rejection(hint=20)) is None
    # A rejection from another term says nothing about this term's match.
    for _ in range(2 * LOST_ACK_REJECTIONS):
        assert s._lost_acks_check(rejection(hint=20, term=2)) is None


def test_the_follower_stops_when_a_heartbeat_commits_past_its_log() -> None:
    async def scenario() -> tuple[bool, bool, str | None]:
        s = EtcdServer(Config(name="f", data_dir="/data/f.etcd"))
        s.id = FOLLOWER
        log = SimpleNamespace(last_index=lambda: 28)
        s.node = SimpleNamespace(raft=SimpleNamespace(term=3, log=log))  # type: ignore[assignment]
        stopped: list[str] = []
        s._stop_fatally = stopped.append  # type: ignore[method-assign]
        ok = Message(MessageType.HEARTBEAT, to=FOLLOWER, frm=LEADER, term=3, commit=28)
        bad = Message(MessageType.HEARTBEAT, to=FOLLOWER, frm=LEADER, term=3, commit=79)
        old_term = Message(MessageType.HEARTBEAT, to=FOLLOWER, frm=LEADER, term=2, commit=79)
        first = s._heartbeat_beyond_log(ok) or s._heartbeat_beyond_log(old_term)
        second = s._heartbeat_beyond_log(bad)
        return first, second, stopped[0] if stopped else None

    first, second, message = asyncio.run(scenario())
    assert (first, second) == (False, True)
    assert message is not None
    assert "/data/f.etcd" in message and "out of date" in message
    assert "ends at index 28" in message and "index 79" in message
    assert "member remove" in message and "--initial-cluster-state existing" in message


def test_the_transport_answers_409_and_the_sender_hears_the_reason() -> None:
    async def scenario() -> tuple[int, str]:
        heard: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        port = free_port()
        receiver = Transport(
            LEADER,
            7,
            TransportHooks(
                deliver=lambda msgs: "its log ends at index 3",
                unreachable=lambda _p: None,
                snapshot_status=lambda _p, _f: None,
                removed=lambda: None,
                is_removed=lambda _m: False,
                members_json=lambda: [],
            ),
        )
        app = web.Application()
        app.add_routes(receiver.routes())
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, LOOPBACK, port).start()
        sender = Transport(
            FOLLOWER,
            7,
            TransportHooks(
                deliver=lambda msgs: None,
                unreachable=lambda _p: None,
                snapshot_status=lambda _p, _f: None,
                removed=lambda: None,
                is_removed=lambda _m: False,
                members_json=lambda: [],
                lost_data=lambda p, r: heard.done() or heard.set_result((p, r)),
            ),
        )
        try:
            sender.add_peer(LEADER, [f"http://{LOOPBACK}:{port}"])
            sender.send([Message(MessageType.APP_RESP, to=LEADER, frm=FOLLOWER, reject=True)])
            return await asyncio.wait_for(heard, 10.0)
        finally:
            await sender.stop()
            await runner.cleanup()

    assert STATUS_LOST_DATA == 409
    assert asyncio.run(scenario()) == (LEADER, "its log ends at index 3")
