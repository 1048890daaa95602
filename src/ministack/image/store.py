"""Where image data lives: a small store interface and the filesystem store (the default).

Every upload is first spooled to a temporary file inside the store's own directory while it is
hashed (md5 and sha512) — never held in memory — so it can be inspected before it is kept; the
store then adopts that file (`add`, a rename for the filesystem store). Other stores (object
storage, Ceph) implement the same four methods. Temporary files are named ``*.part`` and are
removed on every failure path and at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK = 4 << 20  # bytes handed to a worker thread at a time (write + hash)
READ_CHUNK = 1 << 20
_HASHERS = ThreadPoolExecutor(4, thread_name_prefix="image-spool")


@dataclass(frozen=True)
class Spooled:
    """An upload received in full: where it is, its size and its checksums."""

    path: Path
    size: int
    checksum: str
    os_hash_value: str


class Store(Protocol):
    name: str

    def scratch_dir(self) -> Path:
        """A local directory on the store's filesystem for temporary and staged files."""
        ...

    async def add(self, image_id: str, source: Path) -> str:
        """Adopt `source` (consumed) as the image's data; return its location."""
        ...

    def read(
        self, location: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes [offset, offset+length) of the data at `location`, in chunks."""
        ...

    async def delete(self, location: str) -> None:
        """Remove the data at `location`. Idempotent: an absent location is not an error."""
        ...


class FilesystemStore:
    """Image data as files named by image id under one directory."""

    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        (self.root / "staging").mkdir(exist_ok=True)

    def scratch_dir(self) -> Path:
        return self.root / "tmp"

    def staging_path(self, image_id: str) -> Path:
        return self.root / "staging" / image_id

    def _path(self, location: str) -> Path:
        name = location.removeprefix("file://")
        path = Path(name)
        if path.parent != self.root:
            raise ValueError(f"location {location!r} is outside the store")
        return path

    def local_path(self, location: str) -> Path:
        return self._path(location)

    async def add(self, image_id: str, source: Path) -> str:
        dest = self.root / image_id
        await asyncio.to_thread(os.replace, source, dest)
        return f"file://{dest}"

    async def read(
        self, location: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(location)
        fh = await asyncio.to_thread(path.open, "rb")
        try:
            await asyncio.to_thread(fh.seek, offset)
            remaining = length
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                data = await asyncio.to_thread(fh.read, size)
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            fh.close()

    async def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, self._path(location))

    def sweep(self) -> int:
        """Remove temporary files a crashed upload left behind; return how many."""
        count = 0
        for part in (self.root / "tmp").glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
                count += 1
        return count


def _absorb(fh: BinaryIO, md5: Any, sha: Any, data: bytes) -> None:
    # hashlib and file writes release the GIL, so the three run in parallel with the loop.
    done = [_HASHERS.submit(md5.update, data), _HASHERS.submit(fh.write, data)]
    sha.update(data)
    for future in done:
        future.result()


async def spool(
    chunks: AsyncIterator[bytes],
    directory: Path,
    limit: int,
    too_large: Callable[[int], Exception],
) -> Spooled:
    """Write `chunks` to a new ``.part`` file in `directory`, hashing as it goes.

    At most two CHUNKs are in memory at a time. More than `limit` bytes raises `too_large(limit)`.
    On any error or cancellation (a client that disconnects) the partial file is removed and
    the error propagates: nothing is left behind.
    """
    path = directory / f".{uuid.uuid4().hex}.part"
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha512()
    loop = asyncio.get_running_loop()
    fh = await asyncio.to_thread(path.open, "wb")
    pending: asyncio.Future[None] | None = None
    size = 0
    try:
        buf: list[bytes] = []
        buffered = 0
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            buf.append(chunk)
            buffered += len(chunk)
            if buffered >= CHUNK:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(None, _absorb, fh, md5, sha, b"".join(buf))
                buf, buffered = [], 0
        if pending is not None:
            await pending
            pending = None
        if buf:
            await asyncio.to_thread(_absorb, fh, md5, sha, b"".join(buf))
        await asyncio.to_thread(fh.close)
    except BaseException:
        if pending is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(pending)
        fh.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return Spooled(path=path, size=size, checksum=md5.hexdigest(), os_hash_value=sha.hexdigest())


def discard(path: Path) -> None:
    """Remove a spooled or staged file. Idempotent."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
