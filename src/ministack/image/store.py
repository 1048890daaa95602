"""Where image data lives: a small store interface and the filesystem store (the default).

Every upload is first spooled (`spool.py`) to a temporary file inside the store's own directory
while it is hashed (md5 and sha512) — never held in memory — so it can be inspected before it is
kept; the store then adopts that file (`add`, a rename for the filesystem store). Other stores
(object storage, Ceph) implement the same four methods. Temporary files are named ``*.part`` and are
removed on every failure path and at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ministack.config import Settings

from ministack.common import files

READ_CHUNK = 1 << 20


def store_root(settings: Settings) -> Path:
    """The filesystem store's directory: ``[image] store_dir`` or ``<state_dir>/images``."""
    return Path(settings.image.store_dir or settings.state_path / "images")


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
        for path in (self.root, self.root / "tmp", self.root / "staging"):
            files.private_dir(path)  # tenant data: 0700 whatever the umask

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


def discard(path: Path) -> None:
    """Remove a spooled or staged file. Idempotent."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
