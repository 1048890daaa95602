"""The object store as an image store: image data kept as objects in a container that the
image service's own user owns (`[image] object_container`, default ``glance``).

Sits under `store.Stores` beside the filesystem store. An upload is spooled, hashed and
inspected on local disk first (`spool.py`) like every upload; `add` then streams that file into
the object store (`objectstore.client`, never the whole image in memory) and removes it. Reads
stream the object (ranges pass through); delete removes the object and is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ministack.common import errors
from ministack.image.store import READ_CHUNK
from ministack.objectstore.client import ObjectStoreApi

SCHEME = "object://"


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while data := await asyncio.to_thread(fh.read, READ_CHUNK):
            yield data
    finally:
        fh.close()


class ObjectImageStore:
    """Image data as objects named by image id in one container of the service's account."""

    name = "object"

    def __init__(self, client: ObjectStoreApi, container: str) -> None:
        self.client = client
        self.container = container

    def _split(self, location: str) -> tuple[str, str]:
        container, _, name = location.removeprefix(SCHEME).partition("/")
        if not location.startswith(SCHEME) or container != self.container or not name:
            raise ValueError(f"location {location!r} is not in this object store")
        return container, name

    async def add(self, image_id: str, source: Path) -> str:
        size = await asyncio.to_thread(lambda: source.stat().st_size)
        await self.client.ensure_container(self.container)
        await self.client.put_object(self.container, image_id, _file_chunks(source), size)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(source.unlink)
        return f"{SCHEME}{self.container}/{image_id}"

    async def read(
        self, location: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        container, name = self._split(location)
        if length == 0:
            return
        try:
            async for chunk in self.client.get_object(container, name, offset, length):
                yield chunk
        except errors.NotFound:
            raise errors.InternalError(
                f"The data of this image is missing from the object store ({location})."
            ) from None

    async def delete(self, location: str) -> None:
        container, name = self._split(location)
        await self.client.delete_object(container, name)
