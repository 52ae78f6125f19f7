"""Password hashing for v2 auth: scrypt from the standard library, and a check cache.

etcd stores bcrypt hashes (cost 10, about 70 ms each). etcdpy uses ``hashlib.scrypt``
with N=2^14, r=8, p=1 (16 MiB, about 70 ms here: the same order of cost), which needs no
new dependency and is memory-hard as well. The stored form names its parameters
(``$scrypt$ln=14,r=8,p=1$<salt>$<hash>``), so they can be raised later without breaking
existing users.

A slow hash on every request would cap a member at a dozen authenticated requests per
second per core, so successful checks are remembered, keyed by an HMAC (under a random
per-process key) of the user, the stored hash and the password: a password change
changes the stored hash and so forgets the old entry, and the cache never holds anything
a memory dump could turn back into a password cheaply. Failed checks are never cached
(a wrong password always costs a full hash), and hashing runs in worker threads,
at most :data:`MAX_PARALLEL_HASHES` at a time, so a flood of wrong passwords costs CPU
but neither blocks the event loop nor grows memory without bound.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict

SCHEME = "scrypt"
LOG2_N = 14
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
KEY_BYTES = 32
# Stored hashes may name other parameters; refuse ones that would take seconds or
# gigabytes to check (they can only come from a damaged store).
MAX_LOG2_N = 20
MAX_BLOCK_SIZE = 32
MAX_PARALLELISM = 16
MAX_MEMORY = 1 << 30

CACHE_ENTRIES = 4096
MAX_PARALLEL_HASHES = 2


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: bytes, salt: bytes, log2_n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        password, salt=salt, n=1 << log2_n, r=r, p=p, maxmem=MAX_MEMORY, dklen=dklen
    )


def hash_password(password: bytes) -> str:
    """A new salted hash of ``password`` in the stored form (slow: call off the loop)."""
    salt = secrets.token_bytes(SALT_BYTES)
    dk = _scrypt(password, salt, LOG2_N, BLOCK_SIZE, PARALLELISM, KEY_BYTES)
    params = f"ln={LOG2_N},r={BLOCK_SIZE},p={PARALLELISM}"
    return f"${SCHEME}${params}${_b64(salt)}${_b64(dk)}"


def verify_password(password: bytes, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (slow: call off the loop). A stored value
    that is not a hash this module wrote never matches."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != SCHEME:
        return False
    try:
        params = dict(kv.split("=", 1) for kv in parts[2].split(","))
        log2_n, r, p = int(params["ln"]), int(params["r"]), int(params["p"])
        salt, want = _unb64(parts[3]), _unb64(parts[4])
    except (ValueError, KeyError):
        return False
    if not (1 <= log2_n <= MAX_LOG2_N and 1 <= r <= MAX_BLOCK_SIZE and 1 <= p <= MAX_PARALLELISM):
        return False
    if not want:
        return False
    try:
        got = _scrypt(password, salt, log2_n, r, p, len(want))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, want)


class PasswordChecker:
    """Hashes and checks passwords off the event loop, remembering successes."""

    def __init__(self, cache_entries: int = CACHE_ENTRIES) -> None:
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[bytes, None] = OrderedDict()
        self._cache_entries = cache_entries
        self._slots: asyncio.Semaphore | None = None
        # Counters for tests and the debug log: how many slow hashes actually ran.
        self.slow_checks = 0

    def _semaphore(self) -> asyncio.Semaphore:
        # Created on first use so that it binds to the running loop.
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_PARALLEL_HASHES)
        return self._slots

    def _cache_key(self, user: str, stored: str, password: bytes) -> bytes:
        msg = b"\0".join(
            (user.encode("utf-8", "surrogateescape"), stored.encode("utf-8", "replace"), password)
        )
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    async def hash(self, password: bytes) -> str:
        async with self._semaphore():
            return await asyncio.to_thread(hash_password, password)

    async def check(self, user: str, stored: str, password: bytes) -> bool:
        """Whether ``password`` is ``user``'s, given the stored hash."""
        if not stored:
            return False
        key = self._cache_key(user, stored, password)
        if key in self._ok:
            self._ok.move_to_end(key)
            return True
        async with self._semaphore():
            self.slow_checks += 1
            ok = await asyncio.to_thread(verify_password, password, stored)
        if ok:
            self._ok[key] = None
            if len(self._ok) > self._cache_entries:
                self._ok.popitem(last=False)
        return ok
