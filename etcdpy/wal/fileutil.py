"""The few file-system calls durability depends on, in one place.

The WAL and the snapshotter call these through the module (``fileutil.fdatasync(fd)``),
never through a local alias, so a test can replace one of them with a function that
raises ENOSPC or EIO and watch how the caller copes.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Sequence

# Private files: a WAL holds every key and value of the cluster (etcd: PrivateFileMode).
FILE_MODE = 0o600
DIR_MODE = 0o700

_ZERO_CHUNK = bytes(1 << 20)


def pwritev(fd: int, buffers: Sequence[bytes], offset: int) -> int:
    return os.pwritev(fd, buffers, offset)


def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
    return os.pwrite(fd, data, offset)


def fdatasync(fd: int) -> None:
    os.fdatasync(fd)


def fsync(fd: int) -> None:
    os.fsync(fd)


def ftruncate(fd: int, length: int) -> None:
    os.ftruncate(fd, length)


def write_all(fd: int, buffers: Sequence[bytes], offset: int) -> int:
    """Write ``buffers`` at ``offset`` with one ``pwritev``; finish a short write.

    A regular file only writes short when the disk fills up mid-way; the next call then
    raises ENOSPC, which is what the caller must see. Returns the bytes written.
    """
    total = sum(len(b) for b in buffers)
    done = pwritev(fd, buffers, offset)
    if done < total:
        rest = memoryview(b"".join(buffers))
        # Bounded: every round writes at least one byte or raises.
        while done < total:
            n = pwrite(fd, rest[done:], offset + done)
            if n <= 0:
                raise OSError(errno.EIO, "write made no progress")
            done += n
    return total


def preallocate(fd: int, size: int) -> None:
    """Reserve ``size`` bytes of zeros for a segment (the file size becomes ``size``).

    posix_fallocate, not written zeros: the space is reserved at once (a full disk shows
    at the segment roll instead of in the middle of a record), the file size no longer
    changes on each append (fdatasync need not update it), and it costs no write I/O,
    where writing 64 MB of zeros would double the WAL's disk traffic. Unwritten extents
    read as zeros, which the decoder takes as the end of the records. glibc itself falls
    back to writing zeros on a file system without fallocate.
    """
    if os.fstat(fd).st_size >= size:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        _extend_with_zeros(fd, size)


def _extend_with_zeros(fd: int, size: int) -> None:
    off = os.fstat(fd).st_size
    while off < size:
        off += pwrite(fd, _ZERO_CHUNK[: min(len(_ZERO_CHUNK), size - off)], off)


def fsync_dir(dirpath: str) -> None:
    """Make a rename or a new file in ``dirpath`` durable."""
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def try_lock(fd: int) -> bool:
    """Take an exclusive flock without waiting; False if another open file holds it.

    flock belongs to the open file description, so a second ``open`` of a segment in the
    same process conflicts too: that is how the purge sees what the WAL still uses.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def copy_aside(path: str, data: bytes) -> str:
    """Keep the damaged bytes next to the file as ``<path>.broken`` before repairing it."""
    broken = path + ".broken"
    fd = os.open(broken, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        write_all(fd, [data], 0)
        fsync(fd)
    finally:
        os.close(fd)
    return broken
