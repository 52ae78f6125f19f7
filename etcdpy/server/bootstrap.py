"""How a member comes up (etcd ``NewServer``): a new cluster, joining a running one,
restarting from its data dir, or restarting as a lone member (``--force-new-cluster``).

| WAL in data dir? | --initial-cluster-state | what happens                                  |
|------------------|-------------------------|-----------------------------------------------|
| no               | new                     | ids from --initial-cluster and the token; the |
|                  |                         | first log entries add every initial member    |
| no               | existing                | the members and cluster id are fetched from   |
|                  |                         | a running peer; this member must be added     |
|                  |                         | there first (member add); Raft starts empty   |
| yes              | (ignored)               | newest snapshot + the WAL after it; the       |
|                  |                         | --initial-* flags are ignored                 |
| yes + --force-new-cluster | (ignored)      | as above, then uncommitted entries dropped and|
|                  |                         | every other member removed through entries    |
|                  |                         | written to the log                            |
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from dataclasses import dataclass, field

import aiohttp

from etcdpy.raft import Config as RaftConfig
from etcdpy.raft import MemoryStorage, Peer, RawNode
from etcdpy.raft.types import (
    ConfChange,
    ConfChangeType,
    Entry,
    EntryType,
    HardState,
    Snapshot,
)
from etcdpy.server.config import DEFAULT_PEER_URL, Config, ConfigError
from etcdpy.server.member import Member, cluster_id, id_str, member_id, parse_id
from etcdpy.server.membership import (
    Membership,
    attributes_key,
    decode_conf_context,
    encode_conf_context,
    membership_from_store,
)
from etcdpy.server.request import STORE_CLUSTER_PREFIX, STORE_KEYS_PREFIX, Request
from etcdpy.server.storage import (
    DataDirError,
    MemberStorage,
    Metadata,
    snap_dir,
    wal_dir,
)
from etcdpy.server.tls import client_context, peer_files
from etcdpy.snap import SnapError, Snapshotter
from etcdpy.store import Store, StoreSnapshotError
from etcdpy.wal import (
    WAL,
    WalEntryGapError,
    WalError,
    WalNotFoundError,
    WalSnapshot,
    list_wal_snapshots,
    wal_exists,
)

log = logging.getLogger(__name__)

# etcd keeps this many entries in memory behind a snapshot for slow followers.
CATCH_UP_ENTRIES = 5000
# etcd's MaxInflightMsgs (4096 / 8) and MaxSizePerMsg.
MAX_INFLIGHT_MSGS = 512
MAX_SIZE_PER_MSG = 1 << 20
JOIN_FETCH_TIMEOUT_S = 2.0


@dataclass(slots=True)
class Boot:
    """Everything the server needs to run, built from the flags and the data dir."""

    member_id: int
    cluster_id: int
    store: Store
    node: RawNode
    raft_storage: MemoryStorage
    disk: MemberStorage
    membership: Membership
    snapshot_index: int = 0
    snapshot_term: int = 0
    # Peers to talk to before the log has told us the membership (joining members).
    initial_peers: dict[int, list[str]] = field(default_factory=dict)
    restarted: bool = False


def new_store() -> Store:
    return Store((STORE_CLUSTER_PREFIX, STORE_KEYS_PREFIX))


def raft_config(cfg: Config, mid: int, storage: MemoryStorage, applied: int) -> RaftConfig:
    return RaftConfig(
        id=mid,
        election_tick=cfg.election_ticks,
        heartbeat_tick=1,
        storage=storage,
        applied=applied,
        max_size_per_msg=MAX_SIZE_PER_MSG,
        max_inflight_msgs=MAX_INFLIGHT_MSGS,
        check_quorum=True,
        pre_vote=True,
        rng=random.Random(),
    )


async def bootstrap(cfg: Config) -> Boot:
    data_dir = cfg.member_dir
    if wal_exists(wal_dir(data_dir)):
        if cfg.initial_cluster_state == "existing" or cfg.initial_cluster:
            log.info(
                "the data dir %s holds a WAL; the --initial-cluster flags are ignored", data_dir
            )
        return await asyncio.to_thread(restart, cfg)
    if cfg.force_new_cluster:
        log.warning("--force-new-cluster is ignored: %s holds no WAL to restart from", data_dir)
    if cfg.initial_cluster_state == "existing":
        return await join(cfg)
    return await asyncio.to_thread(start_new, cfg)


def _initial_members(cfg: Config) -> dict[int, Member]:
    members: dict[int, Member] = {}
    for name, urls in cfg.initial_cluster.items():
        m = Member(member_id(urls, cfg.initial_cluster_token), name, sorted(urls), [])
        if m.id in members:
            raise ConfigError(
                f"members {members[m.id].name!r} and {name!r} of --initial-cluster have the "
                "same peer URLs; give every member its own peer URLs."
            )
        members[m.id] = m
    return members


def _prepare_data_dir(data_dir: str) -> None:
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
    except OSError as e:
        raise DataDirError(
            f"cannot create the data dir {data_dir}: {e.strerror}; "
            "check --data-dir and its permissions"
        ) from None


def start_new(cfg: Config) -> Boot:
    """A member of a brand-new cluster: every initial member writes the same first
    entries (one AddNode each), so their logs agree from index 1."""
    members = _initial_members(cfg)
    self_id = member_id(cfg.initial_cluster[cfg.name], cfg.initial_cluster_token)
    cid = cluster_id(members)
    data_dir = cfg.member_dir
    _prepare_data_dir(data_dir)
    wal = _create_wal(data_dir, Metadata(self_id, cid))
    storage = MemoryStorage()
    peers = [Peer(mid, encode_conf_context(0, members[mid])) for mid in sorted(members)]
    node = RawNode(raft_config(cfg, self_id, storage, 0), peers=peers)
    log.info(
        "starting member %s in a new cluster %s of %d member(s)",
        id_str(self_id),
        id_str(cid),
        len(members),
    )
    return Boot(
        self_id,
        cid,
        new_store(),
        node,
        storage,
        MemberStorage(data_dir, wal, Snapshotter(snap_dir(data_dir))),
        Membership(cid),
    )


def _create_wal(data_dir: str, meta: Metadata) -> WAL:
    try:
        return WAL.create(wal_dir(data_dir), meta.encode())
    except WalError as e:
        raise DataDirError(str(e)) from None
    except OSError as e:
        raise DataDirError(
            f"cannot create the WAL in {wal_dir(data_dir)}: {e.strerror}; "
            "check that the data dir is writable"
        ) from None


async def fetch_cluster(cfg: Config) -> tuple[int, list[Member]]:
    """The cluster id and members of a running cluster, from the first peer of
    ``--initial-cluster`` (other than this member) that answers ``GET /members``."""
    own = set(cfg.initial_advertise_peer_urls)
    urls = [u for name, us in cfg.initial_cluster.items() if name != cfg.name for u in us]
    urls = [u for u in urls if u not in own]
    tried: list[str] = []
    timeout = aiohttp.ClientTimeout(total=JOIN_FETCH_TIMEOUT_S)
    connector = aiohttp.TCPConnector(ssl=client_context(peer_files(cfg)) or True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        for url in urls:
            try:
                async with session.get(url.rstrip("/") + "/members") as resp:
                    if resp.status != 200:
                        tried.append(f"{url} (HTTP {resp.status})")
                        continue
                    cid_text = resp.headers.get("X-Etcd-Cluster-ID", "")
                    body = await resp.read()
                cid = parse_id(cid_text)
                members = [
                    Member(
                        parse_id(str(m["id"])),
                        str(m.get("name", "")),
                        sorted(str(u) for u in m.get("peerURLs") or []),
                        [str(u) for u in m.get("clientURLs") or []],
                    )
                    for m in json.loads(body)
                ]
                return cid, members
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError) as e:
                tried.append(f"{url} ({type(e).__name__}: {e})" if str(e) else url)
    raise ConfigError(
        "cannot join the cluster: no peer of --initial-cluster answered with its members "
        f"(tried {', '.join(tried) or 'none'}); start this member once the cluster runs, "
        "or use --initial-cluster-state new for a new cluster."
    )


async def join(cfg: Config) -> Boot:
    """A member added with ``member add`` joining a running cluster: it takes the
    cluster's id and its own id from the cluster and starts with an empty log."""
    cid, members = await fetch_cluster(cfg)
    mine = sorted(cfg.initial_advertise_peer_urls)
    me = next((m for m in members if m.peer_urls == mine), None)
    if me is None:
        raise ConfigError(
            f"cannot join the cluster {id_str(cid)}: no member there has the peer URLs "
            f"{','.join(mine)}; add this member first (etcdpyctl member add {cfg.name} "
            f"{','.join(mine)}) and start it with the same --initial-advertise-peer-urls."
        )
    data_dir = cfg.member_dir
    _prepare_data_dir(data_dir)
    wal = await asyncio.to_thread(_create_wal, data_dir, Metadata(me.id, cid))
    storage = MemoryStorage()
    node = RawNode(raft_config(cfg, me.id, storage, 0), peers=None)
    log.info("joining cluster %s as member %s", id_str(cid), id_str(me.id))
    membership = Membership(cid, {m.id: m for m in members})
    return Boot(
        me.id,
        cid,
        new_store(),
        node,
        storage,
        MemberStorage(data_dir, wal, Snapshotter(snap_dir(data_dir))),
        membership,
        initial_peers={m.id: m.peer_urls for m in members if m.id != me.id},
    )


def restart(cfg: Config) -> Boot:
    """A member with a data dir: the newest snapshot the WAL knows, then the WAL."""
    data_dir = cfg.member_dir
    wd, sd = wal_dir(data_dir), snap_dir(data_dir)
    snapshotter = Snapshotter(sd)
    try:
        markers = list_wal_snapshots(wd)
        snap = snapshotter.load_newest_available(markers)
    except (WalError, SnapError) as e:
        raise DataDirError(str(e)) from None
    walsnap = WalSnapshot(snap.metadata.index, snap.metadata.term) if snap else WalSnapshot(0, 0)
    try:
        wal = WAL.open(wd, walsnap)
        raw_meta, hs, ents = wal.read_all()
    except (WalEntryGapError, WalNotFoundError) as e:
        if snap is None and any(m.index > 0 for m in markers):
            # Every snapshot was set aside and the WAL starts after index 0 (a backup,
            # or purged segments): there is nothing to rebuild the store from.
            raise DataDirError(
                f"no snapshot file in {sd} verifies (damaged ones were renamed *.broken) "
                f"and the WAL in {wd} does not reach back to the first entry, so the data "
                "dir cannot be restored: remove this member from the cluster and re-add it "
                "with an empty data dir, or restore another backup"
            ) from None
        raise DataDirError(str(e)) from None
    except WalError as e:
        raise DataDirError(str(e)) from None
    try:
        meta = Metadata.decode(raw_meta, wd)
        try:
            store = Store.recover(snap.data) if snap is not None else new_store()
        except StoreSnapshotError as e:
            raise DataDirError(
                f"the snapshot at index {walsnap.index} in {sd} cannot be read ({e}); remove "
                "this member from the cluster and re-add it with an empty data dir"
            ) from None
        if cfg.force_new_cluster:
            hs, ents = _force_new_cluster(cfg, wal, meta, snap, store, hs, ents)
        else:
            _check_identity(cfg, meta, snap, store, ents)
        storage = MemoryStorage()
        if snap is not None:
            storage.apply_snapshot(snap)
        storage.set_hard_state(hs)
        storage.append(ents)
        applied = snap.metadata.index if snap is not None else 0
        node = RawNode(raft_config(cfg, meta.member_id, storage, applied), peers=None)
    except BaseException:
        wal.close()
        raise
    log.info(
        "restarting member %s in cluster %s at commit index %d (snapshot at %d, %d entries)",
        id_str(meta.member_id),
        id_str(meta.cluster_id),
        hs.commit,
        walsnap.index,
        len(ents),
    )
    membership = membership_from_store(store, meta.cluster_id)
    return Boot(
        meta.member_id,
        meta.cluster_id,
        store,
        node,
        storage,
        MemberStorage(data_dir, wal, snapshotter),
        membership,
        snapshot_index=walsnap.index,
        snapshot_term=walsnap.term,
        initial_peers={m.id: m.peer_urls for m in membership.members.values()},
        restarted=True,
    )


def _force_new_cluster(
    cfg: Config,
    wal: WAL,
    meta: Metadata,
    snap: Snapshot | None,
    store: Store,
    hs: HardState,
    ents: list[Entry],
) -> tuple[HardState, list[Entry]]:
    """etcd's ``restartAsStandaloneNode``: keep what was committed, then remove every
    other member and (if missing) add this one, through entries written to the WAL.

    Unlike etcd, which gives an added member localhost URLs, the member gets
    ``--initial-advertise-peer-urls``; a member already in the log keeps its recorded
    URLs unless that flag is set to something other than its default."""
    kept = [e for e in ents if e.index <= hs.commit]
    if len(kept) < len(ents):
        log.warning("discarding %d uncommitted WAL entries", len(ents) - len(kept))
    ids = _log_member_ids(snap, kept)
    last = kept[-1].index if kept else (snap.metadata.index if snap is not None else 0)
    term = max(hs.term, 1)
    extra: list[Entry] = []
    for mid in sorted(ids):
        if mid == meta.member_id:
            continue
        last += 1
        cc = ConfChange(ConfChangeType.REMOVE_NODE, mid, encode_conf_context(0, Member(mid)))
        extra.append(Entry(term, last, EntryType.CONF_CHANGE, cc.encode()))
    wanted = sorted(cfg.initial_advertise_peer_urls)
    if meta.member_id not in ids:
        me = Member(meta.member_id, cfg.name, wanted, [])
        last += 1
        cc = ConfChange(ConfChangeType.ADD_NODE, me.id, encode_conf_context(0, me))
        extra.append(Entry(term, last, EntryType.CONF_CHANGE, cc.encode()))
    elif wanted != [DEFAULT_PEER_URL] and wanted != _recorded_peer_urls(
        store, kept, meta.member_id
    ):
        me = Member(meta.member_id, cfg.name, wanted, [])
        last += 1
        cc = ConfChange(ConfChangeType.UPDATE_NODE, me.id, encode_conf_context(0, me))
        extra.append(Entry(term, last, EntryType.CONF_CHANGE, cc.encode()))
        log.warning(
            "forcing a new cluster: peer URLs of member %s become %s", id_str(me.id), wanted
        )
    new_hs = HardState(term, hs.vote, last)
    try:
        wal.save(new_hs, extra)
    except WalError as e:
        raise DataDirError(str(e)) from None
    log.warning(
        "forcing a new cluster: member %s stays alone in cluster %s (%d member(s) removed)",
        id_str(meta.member_id),
        id_str(meta.cluster_id),
        len([e for e in extra if ConfChange.decode(e.data).type == ConfChangeType.REMOVE_NODE]),
    )
    return new_hs, kept + extra


def _recorded_peer_urls(store: Store, ents: list[Entry], mid: int) -> list[str]:
    """Member ``mid``'s peer URLs per the snapshot and the conf changes after it."""
    members = membership_from_store(store, 0).members
    urls = sorted(members[mid].peer_urls) if mid in members else []
    for e in ents:
        if e.type != EntryType.CONF_CHANGE:
            continue
        cc = ConfChange.decode(e.data)
        if cc.node_id == mid and cc.type in (ConfChangeType.ADD_NODE, ConfChangeType.UPDATE_NODE):
            _, m = decode_conf_context(cc.context)
            if m is not None:
                urls = sorted(m.peer_urls)
    return urls


def _log_member_ids(snap: Snapshot | None, ents: list[Entry]) -> set[int]:
    """The voters the log describes: the snapshot's, then its conf changes in order
    (etcd ``getIDs``)."""
    ids: set[int] = set(snap.metadata.conf_state.voters) if snap is not None else set()
    for e in ents:
        if e.type == EntryType.CONF_CHANGE:
            cc = ConfChange.decode(e.data)
            if cc.type == ConfChangeType.ADD_NODE:
                ids.add(cc.node_id)
            elif cc.type == ConfChangeType.REMOVE_NODE:
                ids.discard(cc.node_id)
    return ids


def _check_identity(
    cfg: Config, meta: Metadata, snap: Snapshot | None, store: Store, ents: list[Entry]
) -> None:
    """Refuse a data dir that is not this member's to restart from as it is.

    - A copy made by ``etcdpyctl backup`` and not yet started with --force-new-cluster:
      its member is in no membership, so it would wait for ever for an election.
    - The data dir of another member of the same ``--initial-cluster`` (swapped dirs):
      the member it records under its id has published another name of that cluster.
      A renamed member is not refused: its old name is no longer in --initial-cluster.
    """
    data_dir = cfg.member_dir
    mid = id_str(meta.member_id)
    if meta.from_backup and meta.member_id not in _log_member_ids(snap, ents):
        raise DataDirError(
            f"the data dir {data_dir} is a backup made by etcdpyctl backup (member {mid} of "
            f"cluster {id_str(meta.cluster_id)} belongs to no cluster yet); start it once "
            "with --force-new-cluster to restore it as a one-member cluster."
        )
    if cfg.name not in cfg.initial_cluster or len(cfg.initial_cluster) < 2:
        return
    recorded = _recorded_name(store, ents, meta.member_id)
    if recorded and recorded != cfg.name and recorded in cfg.initial_cluster:
        raise DataDirError(
            f"the data dir {data_dir} belongs to member {recorded} ({mid}), not to "
            f"{cfg.name}: start {cfg.name} with its own --data-dir, or start this data dir "
            f"with --name {recorded}."
        )


def _recorded_name(store: Store, ents: list[Entry], mid: int) -> str:
    """The name member ``mid`` last published, per the snapshot and the WAL after it."""
    members = membership_from_store(store, 0).members
    name = members[mid].name if mid in members else ""
    key = attributes_key(mid)
    raw_key = key.encode()
    for e in ents:
        # msgpack keeps the path's bytes as they are: skip the rest without decoding.
        if e.type != EntryType.NORMAL or raw_key not in e.data:
            continue
        try:
            req = Request.decode(e.data)
        except Exception:
            continue
        if req.method == "PUT" and req.path == key:
            try:
                name = str(json.loads(req.val).get("name", ""))
            except (ValueError, AttributeError):
                continue
    return name
