"""Password hashing: bcrypt at cost 12, with a short-lived in-memory HMAC cache for repeat logins.

A bcrypt check costs about a quarter of a CPU-second. After one succeeds we remember an HMAC of
the password (under a random per-process key) for the pair (user, stored hash). A later login
whose HMAC matches skips bcrypt. Changing the password changes the stored hash, so the old entry
can never match again; a failure is never cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time

import bcrypt

MAX_PASSWORD_LENGTH = 4096


class PasswordHasher:
    def __init__(self, rounds: int = 12, cache_seconds: int = 300) -> None:
        self.rounds = rounds
        self.cache_seconds = cache_seconds
        self._key = secrets.token_bytes(32)
        self._cache: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """bcrypt hash of `password` (computed off the event loop)."""
        salt = bcrypt.gensalt(self.rounds)
        digest = await asyncio.to_thread(bcrypt.hashpw, _prehash(password), salt)
        return digest.decode()

    async def verify(self, user_id: str, password: str, stored: str | None) -> bool:
        """True when `password` matches `stored`; constant-time on the cached path."""
        if not stored:
            return False
        key = (user_id, stored)
        mac = hmac.new(self._key, password.encode(), hashlib.sha256).digest()
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit and hit[1] > now and hmac.compare_digest(hit[0], mac):
            return True
        ok = await asyncio.to_thread(bcrypt.checkpw, _prehash(password), stored.encode())
        if ok:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = (mac, now + self.cache_seconds)
        return ok

    async def matches(self, password: str, stored: str) -> bool:
        """True when `password` matches the bcrypt hash `stored`; never cached (history)."""
        return await asyncio.to_thread(bcrypt.checkpw, _prehash(password), stored.encode())

    async def burn(self, password: str) -> None:
        """Spend the time of one real check, so a login for an unknown user takes as long."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_hex(16))
        await asyncio.to_thread(bcrypt.checkpw, _prehash(password), self._dummy.encode())

    def forget(self, user_id: str) -> None:
        """Drop every cached entry of a user (disabled, deleted or password changed)."""
        for key in [k for k in self._cache if k[0] == user_id]:
            del self._cache[key]


def _prehash(password: str) -> bytes:
    # bcrypt reads only 72 bytes; hash first so long passwords keep all their entropy.
    return hashlib.sha256(password.encode()).hexdigest().encode()
