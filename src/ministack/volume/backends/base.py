"""The backend interface the volume manager drives: a small Protocol, every method idempotent
where it removes something, and leaving nothing behind when it fails.

Where it sits: volume API → RPC → volume manager → backend → files (or another store).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class BackendError(Exception):
    """The backend could not do what was asked; the message says why (shown as the fault)."""


@dataclass(frozen=True)
class Capacity:
    total_bytes: int
    free_bytes: int


class Backend(Protocol):
    async def create_blank(self, volume_id: str, size_gb: int) -> None:
        """A new volume of `size_gb` that reads as zeros. On error nothing is left."""
        ...

    async def create_from_file(
        self, volume_id: str, size_gb: int, source: Path, source_format: str
    ) -> None:
        """A new volume holding the disk image `source` (consumed: moved or removed),
        grown to `size_gb`. On error nothing is left (the source is removed too)."""
        ...

    async def reimage(self, volume_id: str, size_gb: int, source: Path, source_format: str) -> None:
        """Replace the volume's data with the disk image `source` (consumed), at `size_gb`
        (Cinder's os-reimage). On error the volume keeps its old data and `source` is gone."""
        ...

    async def create_snapshot(
        self, volume_id: str, snapshot_id: str, *, live: bool = False
    ) -> None:
        """Freeze the volume's current data as the snapshot (copy-on-write, no data copied);
        `live`: a guest holds the volume (a forced snapshot of an in-use volume), so its file
        must not be renamed under it: copy its data instead (crash-consistent)."""
        ...

    async def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        """A new volume starting with the snapshot's data (copy-on-write)."""
        ...

    async def clone(self, volume_id: str, source_id: str, size_gb: int) -> None:
        """A new volume starting with another volume's current data (copy-on-write)."""
        ...

    async def extend(self, volume_id: str, size_gb: int) -> None:
        """Grow the volume in place to `size_gb`."""
        ...

    async def delete_volume(self, volume_id: str) -> None:
        """Remove the volume and any data only it used. Idempotent."""
        ...

    async def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove the snapshot and any data only it used. Idempotent."""
        ...

    async def export(self, volume_id: str, dest: Path, disk_format: str) -> None:
        """Write the volume's data to `dest` as a `disk_format` image (raw or qcow2)."""
        ...

    async def connection_info(self, volume_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        """How a compute host reaches the volume (Cinder's connection_info)."""
        ...

    def exists(self, volume_id: str) -> bool:
        """Whether the volume has data in the backend."""
        ...

    def scratch(self, name: str) -> Path:
        """A path for a temporary file on the backend's filesystem (e.g. an image download)."""
        ...

    def capacity(self) -> Capacity: ...
