"""The per-host image cache: each base image fetched once, checked once, shared by overlays.

Where it sits: `LibvirtDriver.spawn` asks `ImageCache.ensure` for the base of an image before
creating the instance's qcow2 overlay on it. A base is `<cache>/<sha1(image_id)>` (raw or
qcow2; other formats are converted to qcow2 once), with `<base>.json` recording its format,
sha256 and whether it boots. Each use refreshes its mtime; `prune` removes bases not used by
any instance for `max_age` seconds. A failed fetch or check leaves nothing in the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ministack.common.diskformat import FormatError, inspect_file
from ministack.compute.virt.driver import DriverError, ImageSource, ImageUnusable
from ministack.compute.virt.libvirt import access, disks

log = logging.getLogger(__name__)

CONVERTIBLE = ("vmdk", "vdi", "vhd", "vhdx", "qed", "vpc")
QCOW2_MAGIC = b"QFI\xfb"
# qemu's names for formats the inspector knows by another name
INSPECTOR_NAME = {"vpc": "vhd"}


@dataclass(frozen=True)
class BaseImage:
    path: Path
    format: str  # raw or qcow2 (iso stays raw and boots as a CD-ROM)
    bootable: bool  # the first sector carries the 0x55AA boot signature


def _file_hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_checksum(path: Path, properties: Mapping[str, str]) -> None:
    """Compare the file with the image service's os_hash_value (or md5 checksum) if given."""
    algorithm, expected = properties.get("os_hash_algo", ""), properties.get("os_hash_value", "")
    if not (algorithm and expected) and properties.get("checksum"):
        algorithm, expected = "md5", properties["checksum"]
    if not (algorithm and expected):
        return
    try:
        actual = _file_hash(path, algorithm)
    except ValueError as exc:
        raise ImageUnusable(f"unknown image checksum algorithm {algorithm!r}") from exc
    if actual != expected.lower():
        raise ImageUnusable("the downloaded image does not match its checksum; upload it again")


def _sniff(path: Path) -> str:
    """The format of an image that declares none: qcow2 by its magic, else raw."""
    with path.open("rb") as file:
        return "qcow2" if file.read(4) == QCOW2_MAGIC else "raw"


class ImageCache:
    """Base images of one host under `directory`. Safe for concurrent `ensure` calls."""

    def __init__(self, directory: Path, images: ImageSource, max_age: float) -> None:
        self.directory = directory
        self.images = images
        self.max_age = max_age
        self._locks: dict[str, asyncio.Lock] = {}

    def path_of(self, image_id: str) -> Path:
        return self.directory / hashlib.sha1(image_id.encode()).hexdigest()

    async def ensure(
        self, image_id: str, disk_format: str, properties: Mapping[str, str] | None = None
    ) -> BaseImage:
        """The cached base of `image_id`, fetched, verified and converted on first use.

        Raises ImageUnusable saying why the image cannot be used (checksum mismatch, corrupt
        or unsafe qcow2, unknown format), DriverError when the download fails; on error
        nothing new is left in the cache.
        """
        access.shared_dir(self.directory, access.hypervisor_gid())
        path = self.path_of(image_id)
        lock = self._locks.setdefault(image_id, asyncio.Lock())
        async with lock:
            if path.is_file() and path.with_suffix(".json").is_file():
                os.utime(path)
                return self._load(path)
            return await self._fetch(image_id, disk_format, properties or {}, path)

    def _load(self, path: Path) -> BaseImage:
        record = json.loads(path.with_suffix(".json").read_text())
        return BaseImage(path, record["format"], record["bootable"])

    async def _fetch(
        self, image_id: str, disk_format: str, properties: Mapping[str, str], path: Path
    ) -> BaseImage:
        download = path.with_name(f".{path.name}.download")
        converted = path.with_name(f".{path.name}.converted")
        try:
            await self.images.fetch(image_id, download)
            await asyncio.to_thread(_verify_checksum, download, properties)
            fmt = await self._check(download, disk_format)
            if fmt in CONVERTIBLE:
                await disks.run(
                    "qemu-img", "convert", "-f", fmt, "-O", "qcow2", download, converted
                )
                download.unlink()
                converted.rename(download)
                fmt = "qcow2"
            bootable = fmt == "iso" or (
                await disks.first_sector(download, fmt, self.directory)
            ).endswith(b"\x55\xaa")
            base_format = "raw" if fmt == "iso" else fmt
            download.rename(path)
            record = {
                "image_id": image_id,
                "format": base_format,
                "source_format": fmt,
                "bootable": bootable,
                "sha256": await asyncio.to_thread(_file_hash, path, "sha256"),
            }
            path.with_suffix(".json").write_text(json.dumps(record))
            return BaseImage(path, base_format, bootable)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            download.unlink(missing_ok=True)
            converted.unlink(missing_ok=True)

    async def _check(self, path: Path, disk_format: str) -> str:
        """The file's real format after checking it against the declared `disk_format`.

        The pure-Python inspector runs first, on every image whatever its disk_format: content
        that differs from its disk_format, or a qcow2/VMDK that refers to other files, is
        refused before qemu-img ever reads it (PROMISES 20).
        """
        declared = disk_format or _sniff(path)
        try:
            await asyncio.to_thread(inspect_file, path, INSPECTOR_NAME.get(declared, declared))
        except FormatError as exc:
            raise ImageUnusable(f"the image could not be booted: {exc}") from exc
        if declared == "qcow2":
            try:
                await disks.check_qcow2(path)
            except ImageUnusable as exc:
                raise ImageUnusable(f"the image could not be booted: {exc}") from exc
            except DriverError as exc:
                log.warning("image %s failed its qcow2 check: %s", path.name, exc)
                raise ImageUnusable(
                    "the image could not be booted: it is a corrupt qcow2 file (qemu-img check "
                    "failed); upload it again"
                ) from exc
            return "qcow2"
        if declared in CONVERTIBLE:
            try:
                await disks.image_info(path, declared)
            except DriverError as exc:
                log.warning("image %s is not readable as %s: %s", path.name, declared, exc)
                raise ImageUnusable(
                    f"the image could not be booted: it is not a valid {declared} file"
                ) from exc
            return declared
        if declared in ("raw", "iso"):
            return declared
        raise ImageUnusable(
            f"the image could not be booted: disk_format {declared!r} is not supported"
        )

    def is_valid(self, base: BaseImage) -> bool:
        """Whether the cached file still has the sha256 recorded when it was fetched."""
        record = json.loads(base.path.with_suffix(".json").read_text())
        return bool(record.get("sha256") == _file_hash(base.path, "sha256"))

    def prune(self, in_use: Iterable[Path], now: float | None = None) -> list[Path]:
        """Remove bases not in `in_use` whose last use is older than max_age; return them.

        Idempotent; a base in use is never removed whatever its age.
        """
        keep = {Path(p).resolve() for p in in_use}
        now = time.time() if now is None else now
        removed: list[Path] = []
        if not self.directory.is_dir():
            return removed
        for record in self.directory.glob("*.json"):
            base = record.with_suffix("")
            if base.resolve() in keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - base.stat().st_mtime < self.max_age:
                    continue
            base.unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            removed.append(base)
        return removed
