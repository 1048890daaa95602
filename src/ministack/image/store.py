"""Where image data lives: a small store interface and the filesystem store (the default).

Every upload is first spooled (`spool.py`) to a temporary file inside the store's own directory
while it is hashed (md5 and sha512) — never held in memory — so it can be inspected before it is
kept; the store then adopts that file (`add`, a rename for the filesystem store). The object store
(`objectstore.py`) implements the same three methods; `Stores` holds the enabled ones (Glance's
multi-store `enabled_backends`) and which is the default. Temporary files are named
``*.part`` and are removed on every failure path and at start-up.
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
from ministack.image import constants as c

READ_CHUNK = 1 << 20


def store_root(settings: Settings) -> Path:
    """The filesystem store's directory: ``[image] store_dir`` or ``<state_dir>/images``."""
    return Path(settings.image.store_dir or settings.state_path / "images")


class Store(Protocol):
    name: str

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


STORE_DESCRIPTIONS: dict[str, str] = {
    "file": "Filesystem store",
    "object": "Object storage (Swift API) store",
}


class Stores:
    """The enabled stores by id, the default one, and the local filesystem store whose
    directory also holds every upload's scratch and staging files (whether or not the
    ``file`` store is enabled)."""

    def __init__(self, local: FilesystemStore, enabled: dict[str, Store], default: str) -> None:
        if default not in enabled:
            raise ValueError(f"[image] store {default!r} is not one of [image] stores")
        self.local = local
        self.enabled = enabled
        self.default = default

    @property
    def ids(self) -> list[str]:
        """The enabled store ids, the default first."""
        return [self.default, *(i for i in self.enabled if i != self.default)]

    @property
    def import_methods(self) -> list[str]:
        """The import methods offered: copy-image only when there is another store."""
        extra = [c.COPY_IMAGE] if len(self.enabled) > 1 else []
        return [*c.IMPORT_METHODS, *extra]

    def get(self, store_id: str) -> Store:
        """The store named `store_id`; KeyError when it is not enabled."""
        return self.enabled[store_id]

    def describe(self) -> list[dict[str, str]]:
        """/v2/info/stores entries (Glance: "default" present, as "true", on the default)."""
        out = []
        for store_id in self.ids:
            entry = {"id": store_id, "description": STORE_DESCRIPTIONS[store_id]}
            if store_id == self.default:
                entry["default"] = "true"
            out.append(entry)
        return out


def enabled_ids(settings: Settings) -> list[str]:
    """The store ids `[image] stores` enables (the default store always among them).

    Raises ValueError naming the bad value when a store id is unknown."""
    conf = settings.image
    ids = [s.strip() for s in conf.stores.split(",") if s.strip()] or [conf.store]
    if conf.store not in ids:
        ids.insert(0, conf.store)
    unknown = [i for i in ids if i not in STORE_DESCRIPTIONS]
    if unknown:
        raise ValueError(
            f"[image] store(s) {', '.join(unknown)} unknown: use {' or '.join(STORE_DESCRIPTIONS)}."
        )
    return list(dict.fromkeys(ids))
