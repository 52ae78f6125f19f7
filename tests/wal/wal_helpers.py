"""Helpers shared by the WAL tests: entries, file surgery, a model of what was saved."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from etcdpy.raft.types import Entry, EntryType, HardState
from etcdpy.wal import WAL, WalSnapshot


def ents(first: int, last: int, term: int = 1, size: int = 16) -> list[Entry]:
    """Entries first..last whose data says who they are (so a mix-up shows)."""
    out = []
    for i in range(first, last + 1):
        tag = f"t{term}i{i}:".encode()
        out.append(Entry(term, i, EntryType.NORMAL, (tag * (size // len(tag) + 1))[:size]))
    return out


def segments(dirpath: str) -> list[str]:
    return sorted(os.path.join(dirpath, n) for n in os.listdir(dirpath) if n.endswith(".wal"))


def flip(path: str, offset: int, mask: int = 0xFF) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ mask]))


def cut(path: str, size: int) -> None:
    os.truncate(path, size)


def data_end(path: str) -> int:
    """Offset just past the last nonzero byte (segments are preallocated with zeros)."""
    with open(path, "rb") as f:
        data = f.read()
    return len(data.rstrip(b"\0"))


def read_back(
    dirpath: str, snap: WalSnapshot | None = None, segment_size: int = 4096
) -> tuple[HardState, list[Entry]]:
    """Open for writing (repairing a torn tail), read, close. A small segment size keeps
    the preallocation after a repair, and the next read of it, cheap."""
    w = WAL.open(dirpath, snap or WalSnapshot(), segment_size=segment_size)
    try:
        _, hs, es = w.read_all()
    finally:
        w.close()
    return hs, es


def copy_dir(src: str, dst: str) -> str:
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


@dataclass
class Model:
    """What a reader must see after each acknowledged save: the raft log semantics."""

    hs: HardState = field(default_factory=HardState)
    log: list[Entry] = field(default_factory=list)

    def save(self, hs: HardState, es: list[Entry]) -> None:
        if es:
            first = es[0].index
            del self.log[first - 1 :]
            self.log.extend(es)
        if not hs.is_empty():
            self.hs = HardState(hs.term, hs.vote, hs.commit)

    def snapshot(self) -> tuple[HardState, list[Entry]]:
        return HardState(self.hs.term, self.hs.vote, self.hs.commit), list(self.log)
