"""The default backend: each volume a qcow2 file in a private directory under the state dir.

Snapshots and clones are copy-on-write through qcow2 backing chains, so snapshotting a large
volume copies no data:

- ``volume-<id>``: a volume's writable file (0600).
- ``base-<uuid>``: frozen data shared by overlays: a volume's data at the moment of a snapshot
  or clone, or a raw image downloaded for a volume. Never written again.
- ``snapshot-<id>``: a hard link to the base that holds the snapshot's data.

A snapshot moves the volume's file to a new base (a rename), links the snapshot to it and
gives the volume a fresh overlay; a clone does the same without the link and adds a second
overlay. Deleting unlinks the volume's or snapshot's name, then `collect` removes every base no
live volume or snapshot reaches through its chain, so a deleted volume's data is gone once no
other volume started from it (PROMISES 21). New volumes are new files: they read as zeros.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ministack.common import files
from ministack.volume.backends import qemuimg
from ministack.volume.backends.base import BackendError, Capacity

GiB = 1024**3
FORMATS = ("raw", "qcow2")


class FileBackend:
    """Volumes as qcow2 files under `root` (0700). Delays (seconds per operation) are for
    kill-and-restart tests: `FileBackend(root, delay={"create": 5.0})`."""

    def __init__(self, root: Path, delay: dict[str, float] | None = None) -> None:
        self.root = files.private_dir(root)
        self.delay = delay or {}
        self._lock = asyncio.Lock()  # chain surgery (renames, collect) one at a time

    # --- names ---------------------------------------------------------------------------

    def volume_path(self, volume_id: str) -> Path:
        return self.root / f"volume-{volume_id}"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.root / f"snapshot-{snapshot_id}"

    def scratch(self, name: str) -> Path:
        return self.root / f".tmp-{name}-{uuid.uuid4().hex[:8]}"

    def exists(self, volume_id: str) -> bool:
        return self.volume_path(volume_id).exists()

    def capacity(self) -> Capacity:
        usage = shutil.disk_usage(self.root)
        return Capacity(total_bytes=usage.total, free_bytes=usage.free)

    async def _pause(self, op: str) -> None:
        if self.delay.get(op):
            await asyncio.sleep(self.delay[op])

    # --- create --------------------------------------------------------------------------

    async def create_blank(self, volume_id: str, size_gb: int) -> None:
        await self._pause("create")
        path = self.volume_path(volume_id)
        with self._undo_on_error(path):
            await qemuimg.create_blank(path, size_gb)
            path.chmod(files.PRIVATE_FILE)

    async def create_from_file(
        self, volume_id: str, size_gb: int, source: Path, source_format: str
    ) -> None:
        """A raw or qcow2 image becomes a base under an overlay (no conversion, no copy);
        another format is converted to the volume's qcow2 file, then grown to `size_gb`."""
        await self._pause("create")
        await self._write_from_file(self.volume_path(volume_id), size_gb, source, source_format)

    async def reimage(self, volume_id: str, size_gb: int, source: Path, source_format: str) -> None:
        """The new data is written beside the volume's file, then renamed over it (atomic):
        on error the volume keeps its old data. Bases only the old data used are collected."""
        await self._pause("reimage")
        path = self.volume_path(volume_id)
        if not path.exists():
            source.unlink(missing_ok=True)
            raise BackendError(f"Volume {volume_id} has no data in the backend.")
        fresh = self.scratch(f"reimage-{volume_id}")
        await self._write_from_file(fresh, size_gb, source, source_format)
        async with self._lock:
            os.replace(fresh, path)
            self.collect()

    async def _write_from_file(
        self, path: Path, size_gb: int, source: Path, source_format: str
    ) -> None:
        """`path` as a qcow2 file holding the image `source` (consumed). On error neither
        `path` nor `source` is left."""
        if source_format not in FORMATS:
            source.unlink(missing_ok=True)
            raise BackendError(f"Image format {source_format!r} cannot be written to a volume.")
        try:
            with self._undo_on_error(path):
                base = self.root / f"base-{uuid.uuid4().hex}"
                source.chmod(files.PRIVATE_FILE)
                os.replace(source, base)  # inspected at upload: no backing file
                try:
                    await qemuimg.create_overlay(path, base.name, source_format, size_gb)
                except BaseException:
                    base.unlink(missing_ok=True)
                    raise
                path.chmod(files.PRIVATE_FILE)
        finally:
            source.unlink(missing_ok=True)

    async def create_snapshot(
        self, volume_id: str, snapshot_id: str, *, live: bool = False
    ) -> None:
        await self._pause("snapshot")
        async with self._lock:
            if live:
                await self._copy(volume_id, self.snapshot_path(snapshot_id))
            else:
                await self._freeze(volume_id, self.snapshot_path(snapshot_id))

    async def _copy(self, volume_id: str, snapshot: Path) -> None:
        """The volume's data copied into a new base (the hypervisor keeps its file), the
        snapshot a link to it. On error nothing is left."""
        base = self.root / f"base-{uuid.uuid4().hex}"
        try:
            await qemuimg.copy_shared(self.volume_path(volume_id), base)
            base.chmod(files.PRIVATE_FILE)
            os.link(base, snapshot)
        except BaseException:
            snapshot.unlink(missing_ok=True)
            base.unlink(missing_ok=True)
            raise

    async def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        await self._pause("create")
        snap = self.snapshot_path(snapshot_id)
        async with self._lock:
            base = self._base_of(snap)
            path = self.volume_path(volume_id)
            with self._undo_on_error(path):
                await qemuimg.create_overlay(path, base.name, self._format(base), size_gb)
                path.chmod(files.PRIVATE_FILE)

    async def clone(self, volume_id: str, source_id: str, size_gb: int) -> None:
        await self._pause("create")
        async with self._lock:
            base = await self._freeze(source_id)
            path = self.volume_path(volume_id)
            with self._undo_on_error(path):
                await qemuimg.create_overlay(path, base.name, "qcow2", size_gb)
                path.chmod(files.PRIVATE_FILE)

    async def _freeze(self, volume_id: str, snapshot: Path | None = None) -> Path:
        """Make the volume's data a new base (and the snapshot's name a link to it) and give
        the volume a fresh overlay on it, the same size. Each step is a link or an atomic
        rename, so a crash at any point leaves the volume's data reachable. Returns the base."""
        path = self.volume_path(volume_id)
        if not path.exists():
            raise BackendError(f"Volume {volume_id} has no data in the backend.")
        size = int((await qemuimg.info(path, "qcow2"))["virtual-size"])
        base = self.root / f"base-{uuid.uuid4().hex}"
        overlay = self.scratch("overlay")
        try:
            await qemuimg.create_overlay(
                overlay, base.name, "qcow2", max(1, size // GiB), unsafe=True
            )
            overlay.chmod(files.PRIVATE_FILE)
            os.link(path, base)
            if snapshot is not None:
                os.link(base, snapshot)
            os.replace(overlay, path)
        except BaseException:
            # the volume still has its own file: drop the names made so far
            overlay.unlink(missing_ok=True)
            if snapshot is not None:
                snapshot.unlink(missing_ok=True)
            base.unlink(missing_ok=True)
            raise
        return base

    # --- change and remove ---------------------------------------------------------------

    async def extend(self, volume_id: str, size_gb: int) -> None:
        await self._pause("extend")
        await qemuimg.resize(self.volume_path(volume_id), size_gb)

    async def delete_volume(self, volume_id: str) -> None:
        await self._pause("delete")
        async with self._lock:
            self.volume_path(volume_id).unlink(missing_ok=True)
            self.collect()

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._pause("delete")
        async with self._lock:
            self.snapshot_path(snapshot_id).unlink(missing_ok=True)
            self.collect()

    def collect(self) -> list[str]:
        """Remove every base no volume or snapshot reaches, and stale scratch files; returns
        the names removed. Idempotent."""
        entries = list(self.root.iterdir())
        by_name = {p.name: p for p in entries}
        live: set[int] = set()
        for root in (p for p in entries if p.name.startswith(("volume-", "snapshot-"))):
            for link in self._chain(root, by_name):
                live.add(link.stat().st_ino)
        removed = []
        for p in entries:
            if p.name.startswith("base-") and p.stat().st_ino not in live:
                p.unlink(missing_ok=True)
                removed.append(p.name)
        return removed

    def remove_scratch(self) -> None:
        """Remove temporary files an interrupted download or export left (at start-up)."""
        for p in self.root.glob(".tmp-*"):
            p.unlink(missing_ok=True)

    def _chain(self, path: Path, by_name: dict[str, Path]) -> Iterator[Path]:
        seen = 0
        current: Path | None = path
        while current is not None and seen < 1000:
            yield current
            seen += 1
            backing = qemuimg.backing_of(current)
            current = by_name.get(backing) if backing else None

    def _base_of(self, snap: Path) -> Path:
        """The base file a snapshot name links to (same inode)."""
        if not snap.exists():
            raise BackendError(f"Snapshot {snap.name} has no data in the backend.")
        inode = snap.stat().st_ino
        for p in self.root.glob("base-*"):
            if p.stat().st_ino == inode:
                return p
        raise BackendError(f"The data of {snap.name} is missing from the backend.")

    @staticmethod
    def _format(path: Path) -> str:
        return "qcow2" if qemuimg.is_qcow2(path) else "raw"

    @contextlib.contextmanager
    def _undo_on_error(self, path: Path) -> Iterator[None]:
        try:
            yield
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # --- data out ------------------------------------------------------------------------

    async def export(self, volume_id: str, dest: Path, disk_format: str) -> None:
        await self._pause("upload")
        if disk_format not in FORMATS:
            raise BackendError(f"A volume can be uploaded as raw or qcow2, not {disk_format!r}.")
        try:
            await qemuimg.convert(self.volume_path(volume_id), "qcow2", dest, disk_format)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    async def connection_info(self, volume_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        path = self.volume_path(volume_id)
        if not path.exists():
            raise BackendError(f"Volume {volume_id} has no data in the backend.")
        return {
            "driver_volume_type": "file",
            "data": {"device_path": str(path), "format": "qcow2", "volume_id": volume_id},
        }
