"""The ``.snap`` file format, written and read in chunks.

Layout (integers little-endian)::

    8 bytes   magic b"ETCDPYS1"
    u32       header length
    header    msgpack [index, term, conf_state, data_length]
    data      data_length bytes: the store's snapshot, opaque here
    u32       CRC32C of everything before it

The data is never copied into a second buffer: writing streams it from the caller's
bytes (or chunks), reading hands out chunks (:meth:`SnapshotFile.iter_data`, for the
peer transport) or reads it once into a single ``bytes``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator

import crc32c as _crc32c
import msgpack

from etcdpy.raft.types import ConfState, SnapshotMetadata
from etcdpy.snap.errors import SnapCorruptError, SnapReadError
from etcdpy.wal import fileutil

MAGIC = b"ETCDPYS1"
_U32 = struct.Struct("<I")
PREFIX_SIZE = len(MAGIC) + _U32.size
TRAILER_SIZE = _U32.size
# A header is a few numbers and the member list; anything bigger is damage.
MAX_HEADER = 1 << 20
DEFAULT_CHUNK = 1 << 20

crc32c = _crc32c.crc32c


def encode_head(metadata: SnapshotMetadata, data_len: int) -> bytes:
    header = msgpack.packb([metadata.index, metadata.term, metadata.conf_state.to_list(), data_len])
    return MAGIC + _U32.pack(len(header)) + header


def write_snapshot(fd: int, metadata: SnapshotMetadata, size: int, chunks: Iterable[bytes]) -> int:
    """Write a whole snapshot file to ``fd`` from its start; return the data bytes written.

    The caller checks the count against ``size`` (a short stream is an error).
    """
    head = encode_head(metadata, size)
    crc = crc32c(head)
    off = fileutil.write_all(fd, [head], 0)
    written = 0
    for chunk in chunks:
        if not chunk:
            continue
        if written + len(chunk) > size:
            return written + len(chunk)
        crc = crc32c(chunk, crc)
        off += fileutil.write_all(fd, [chunk], off)
        written += len(chunk)
    if written == size:
        fileutil.write_all(fd, [_U32.pack(crc)], off)
    return written


class SnapshotFile:
    """An open ``.snap`` file whose header has been read; the data is read on demand.

    ``open`` checks the structure (magic, header, total size); the CRC is checked when
    the data has been read, by :meth:`read_data` or at the end of :meth:`iter_data`.
    """

    def __init__(
        self,
        path: str,
        fd: int,
        metadata: SnapshotMetadata,
        data_off: int,
        data_size: int,
        crc: int,
    ) -> None:
        self.path = path
        self.metadata = metadata
        self.data_size = data_size
        self._fd = fd
        self._data_off = data_off
        self._head_crc = crc

    @classmethod
    def open(cls, path: str) -> SnapshotFile:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise SnapReadError(path, e) from None
        try:
            return cls._read_head(path, fd)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _read_head(cls, path: str, fd: int) -> SnapshotFile:
        try:
            size = os.fstat(fd).st_size
            prefix = os.pread(fd, PREFIX_SIZE, 0)
        except OSError as e:
            raise SnapReadError(path, e) from None
        if size == 0:
            raise SnapCorruptError(path, "the file is empty")
        if len(prefix) < PREFIX_SIZE or prefix[: len(MAGIC)] != MAGIC:
            raise SnapCorruptError(path, "it does not start with the snapshot magic")
        (hlen,) = _U32.unpack_from(prefix, len(MAGIC))
        if hlen > MAX_HEADER or PREFIX_SIZE + hlen + TRAILER_SIZE > size:
            raise SnapCorruptError(path, "the header length is invalid")
        try:
            header = os.pread(fd, hlen, PREFIX_SIZE)
        except OSError as e:
            raise SnapReadError(path, e) from None
        try:
            index, term, cs, data_len = msgpack.unpackb(header)
            metadata = SnapshotMetadata(int(index), int(term), ConfState.from_list(cs))
            data_len = int(data_len)
        except Exception as e:
            raise SnapCorruptError(path, f"the header does not decode: {e}") from None
        if PREFIX_SIZE + hlen + data_len + TRAILER_SIZE != size:
            raise SnapCorruptError(
                path, f"the file is {size} bytes, its header announces {data_len} data bytes"
            )
        return cls(path, fd, metadata, PREFIX_SIZE + hlen, data_len, crc32c(header, crc32c(prefix)))

    def iter_data(self, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
        """Yield the data in chunks; raise SnapCorruptError after the last one if the
        CRC does not match (a receiver must then drop what it got)."""
        crc = self._head_crc
        left = self.data_size
        off = self._data_off
        # Bounded: each round reads at least one byte or raises.
        while left > 0:
            chunk = self._pread(min(chunk_size, left), off)
            if not chunk:
                raise SnapCorruptError(self.path, "the file ends inside the data")
            crc = crc32c(chunk, crc)
            off += len(chunk)
            left -= len(chunk)
            yield chunk
        self._check_trailer(crc, off)

    def read_data(self) -> bytes:
        """The whole data, read once into one buffer, CRC checked."""
        data = self._pread(self.data_size, self._data_off)
        if 0 < len(data) < self.data_size:
            # One pread returns at most ~2 GiB on Linux; finish a bigger snapshot.
            parts = [data]
            got = len(data)
            # Bounded: each round reads at least one byte or stops.
            while got < self.data_size:
                more = self._pread(self.data_size - got, self._data_off + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        if len(data) != self.data_size:
            raise SnapCorruptError(self.path, "the file ends inside the data")
        self._check_trailer(crc32c(data, self._head_crc), self._data_off + self.data_size)
        return data

    def _check_trailer(self, crc: int, off: int) -> None:
        trailer = self._pread(TRAILER_SIZE, off)
        if len(trailer) != TRAILER_SIZE or _U32.unpack(trailer)[0] != crc:
            raise SnapCorruptError(self.path, "CRC mismatch")

    def _pread(self, n: int, off: int) -> bytes:
        try:
            return os.pread(self._fd, n, off)
        except OSError as e:
            raise SnapReadError(self.path, e) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SnapshotFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
