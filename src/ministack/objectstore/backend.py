"""Where object bytes live: the backend interface the object store writes through.

The API layer streams a request body into `Backend.write`, which returns the new data's
location and checksums only once the data is durable; the database row that names the
location is committed after that, so a reader sees either the old object or the whole new one.
Data at a location is never changed in place: a new version is a new location, and the old
one is deleted after the row moved on. `fs.FilesystemBackend` is the default; an S3 engine
(Ceph RGW) would be another implementation of the same Protocol (docs/architecture/storage.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


class TooLarge(Exception):
    """The body exceeded the limit given to `Backend.write`; nothing was stored."""


class Corrupt(Exception):
    """The stored bytes do not match their checksum; the data was moved to quarantine."""


@dataclass(frozen=True)
class Stored:
    """Durable data: where it is, its length, and its MD5 (Swift's ETag) and SHA-256."""

    location: str
    size: int
    md5: str
    sha256: str


class Backend(Protocol):
    async def write(self, chunks: AsyncIterator[bytes], limit: int) -> Stored:
        """Store the chunks durably at a new location. On any error (the stream breaks,
        `TooLarge`, a full disk) nothing is left behind and the error propagates."""
        ...

    async def copy(self, location: str) -> str:
        """A new location holding the same bytes as `location` (cheap where the backend can)."""
        ...

    def read(
        self,
        location: str,
        start: int = 0,
        end: int | None = None,
        digest: hashlib._Hash | None = None,
    ) -> AsyncIterator[bytes]:
        """The bytes [start, end) of the data at `location` (to its end when `end` is None).
        Each block is fed to `digest`, in order, before it is yielded (so a caller can check
        the digest before it passes the last block on)."""
        ...

    async def read_all(self, location: str) -> bytes:
        """The whole (small) data at `location`: manifests."""
        ...

    async def delete(self, location: str) -> None:
        """Remove the data at `location`. Idempotent."""
        ...

    async def verify(self, location: str, sha256: str) -> bool:
        """True when the data at `location` still hashes to `sha256`; on a mismatch the data
        is moved to quarantine (never served again) and False is returned."""
        ...

    async def quarantine(self, location: str) -> None:
        """Move the data at `location` out of service (kept for an operator to inspect)."""
        ...

    async def unreferenced_candidates(self, older_than: float) -> list[str]:
        """Locations whose data was written more than `older_than` seconds ago (the auditor
        removes those no row names: left by a crash between a write and its commit)."""
        ...

    async def sweep(self) -> int:
        """Remove partial writes a crash left behind; returns how many. Run at start."""
        ...
