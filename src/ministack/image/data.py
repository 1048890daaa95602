"""Image data: upload (PUT /file), stage + import (glance-direct) and download.

An upload moves the image queued -> saving, spools the body to the store's scratch directory
while hashing it, inspects the result, and only then adopts it and marks the image active.
Every failure — bad format, quota, a client that disconnects, the image deleted meanwhile —
removes the partial file and returns the image to queued (or leaves no record when deleted):
nothing half-stored survives. A client that sends nothing for `states.UPLOAD_IDLE_TIMEOUT`
seconds is cut off the same way. A restart applies each transitional status's rule (`recover`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.diskformat import FormatError, Inspection, inspect_file
from ministack.image import constants as c
from ministack.image import policies, quotas, states
from ministack.image.core import Gone, ImageCore, RangeNotSatisfiable
from ministack.image.models import Image
from ministack.image.spool import Spooled, spool
from ministack.image.store import discard


@dataclass(frozen=True)
class Download:
    """What to send for GET /file: the byte range, total size and md5, and the chunks."""

    chunks: AsyncIterator[bytes] | None
    start: int
    end: int  # inclusive
    size: int
    checksum: str | None
    partial: bool


class ImageData:
    def __init__(self, core: ImageCore) -> None:
        self.core = core

    async def _begin(
        self, auth: Auth, image_id: str, to_status: str, declared: int | None
    ) -> tuple[int, str | None]:
        """queued -> `to_status` after the checks; returns (bytes allowed, owner)."""
        async with self.core.db.writer() as s:
            img = await self.core.find(s, auth, image_id)
            # Glance: PUT /file is upload_image, PUT /stage is modify_image
            self.core.enforce_write(
                auth, img, "upload_image" if to_status == c.SAVING else "modify_image"
            )
            if img.status != c.QUEUED:
                raise errors.Conflict(
                    f"Image {image_id} is {img.status}: data can only be uploaded to a queued "
                    "image. Create a new image instead."
                )
            if to_status == c.SAVING and (not img.disk_format or not img.container_format):
                raise errors.BadRequest(
                    "Properties disk_format, container_format must be set prior to saving data."
                )
            allowed = await quotas.bytes_allowed(s, self.core.limits, img.owner, image_id)
            if declared is not None and declared > allowed:
                raise quotas.too_large(self.core.limits, img.owner)
            img.status, img.updated_at = to_status, utcnow()
            return allowed, img.owner

    async def _reset(self, image_id: str, from_status: str) -> None:
        """Back to queued with no data, if the image is still in `from_status`."""
        async with self.core.db.writer() as s:
            await s.execute(
                update(Image)
                .where(Image.id == image_id, Image.status == from_status)
                .values(
                    status=c.QUEUED,
                    staged_size=None,
                    checksum=None,
                    os_hash_value=None,
                    os_hash_algo=None,
                    updated_at=utcnow(),
                )
            )

    async def _receive(
        self,
        image_id: str,
        owner: str | None,
        from_status: str,
        allowed: int,
        chunks: AsyncIterator[bytes],
    ) -> Spooled:
        try:
            return await spool(
                idle_limited(chunks, states.UPLOAD_IDLE_TIMEOUT),
                self.core.store.scratch_dir(),
                allowed,
                lambda _limit: quotas.too_large(self.core.limits, owner),
            )
        except BaseException:
            await asyncio.shield(self._reset(image_id, from_status))
            raise

    async def upload(
        self, auth: Auth, image_id: str, chunks: AsyncIterator[bytes], declared: int | None
    ) -> None:
        """PUT /v2/images/{id}/file. 409 unless queued; 400 wrong format; 413 over quota."""
        allowed, owner = await self._begin(auth, image_id, c.SAVING, declared)
        spooled = await self._receive(image_id, owner, c.SAVING, allowed, chunks)
        await self._finish(image_id, c.SAVING, spooled.path, spooled)

    async def _finish(self, image_id: str, from_status: str, path: Path, got: Spooled) -> None:
        """Inspect the received file and make the image active, or undo everything."""
        try:
            async with self.core.db.session() as s:
                img = await s.get(Image, image_id)
                disk_format = img.disk_format if img else None
                container = img.container_format if img else None
            # every upload is inspected, whatever its declared formats (PROMISES 20)
            inspection = await asyncio.to_thread(
                inspect_file, path, disk_format or "raw", container
            )
            await self._adopt(image_id, from_status, path, got, inspection)
        except FormatError as exc:
            discard(path)
            await self._reset(image_id, from_status)
            raise errors.BadRequest(f"{exc} Nothing was stored; the image is queued.") from None
        except BaseException:
            discard(path)
            await asyncio.shield(self._reset(image_id, from_status))
            raise

    async def _adopt(
        self, image_id: str, from_status: str, path: Path, got: Spooled, inspection: Inspection
    ) -> None:
        async with self.core.db.writer() as s:
            img = await s.get(Image, image_id)
            if img is None or img.status != from_status:
                raise Gone(f"Image {image_id} was deleted while its data was being uploaded.")
            limits = self.core.limits
            if limits.image_size_total != quotas.UNLIMITED:
                used = await quotas.usage(s, img.owner, exclude=image_id)
                if used.bytes + got.size > limits.image_size_total:
                    raise quotas.too_large(limits, img.owner)
            location = await self.core.store.add(image_id, path)
            try:
                img.location, img.size, img.virtual_size = (
                    location,
                    got.size,
                    inspection.virtual_size,
                )
                img.checksum, img.os_hash_algo = got.checksum, c.HASH_ALGO
                img.os_hash_value, img.staged_size = got.os_hash_value, None
                img.status, img.updated_at = c.ACTIVE, utcnow()
                await s.flush()
            except BaseException:
                await self.core.store.delete(location)
                raise

    async def stage(
        self, auth: Auth, image_id: str, chunks: AsyncIterator[bytes], declared: int | None
    ) -> None:
        """PUT /v2/images/{id}/stage: queued -> uploading with the data in the staging area."""
        allowed, owner = await self._begin(auth, image_id, c.UPLOADING, declared)
        spooled = await self._receive(image_id, owner, c.UPLOADING, allowed, chunks)
        staged = self.core.store.staging_path(image_id)
        try:
            await asyncio.to_thread(spooled.path.replace, staged)
            async with self.core.db.writer() as s:
                img = await s.get(Image, image_id)
                if img is None or img.status != c.UPLOADING:
                    raise Gone(f"Image {image_id} was deleted while its data was being staged.")
                img.staged_size, img.checksum = spooled.size, spooled.checksum
                img.os_hash_value, img.os_hash_algo = spooled.os_hash_value, c.HASH_ALGO
        except BaseException:
            discard(spooled.path)
            discard(staged)
            await asyncio.shield(self._reset(image_id, c.UPLOADING))
            raise

    async def import_staged(self, auth: Auth, image_id: str, method: str) -> None:
        """POST /v2/images/{id}/import with glance-direct: uploading -> importing -> active."""
        if method != "glance-direct":
            raise errors.BadRequest(
                f"Import method {method!r} is not available here; use one of "
                f"{', '.join(c.IMPORT_METHODS)}."
            )
        async with self.core.db.writer() as s:
            img = await self.core.find(s, auth, image_id)
            self.core.enforce_write(auth, img, "modify_image")
            if img.status != c.UPLOADING or img.staged_size is None:
                raise errors.Conflict(
                    f"Image {image_id} is {img.status}: stage its data (PUT /stage) before "
                    "importing with glance-direct."
                )
            if not img.disk_format or not img.container_format:
                raise errors.BadRequest(
                    "Properties disk_format, container_format must be set prior to import."
                )
            got = Spooled(
                self.core.store.staging_path(image_id),
                img.staged_size,
                img.checksum or "",
                img.os_hash_value or "",
            )
            img.status = c.IMPORTING
        await self._finish(image_id, c.IMPORTING, got.path, got)

    async def download(self, auth: Auth, image_id: str, range_header: str | None) -> Download:
        """GET /file: 204-style empty Download when there is no data; 403 when deactivated."""
        async with self.core.db.session() as s:
            img = await self.core.find(s, auth, image_id)
        policies.authorize(auth, "download_image", auth.project_id)
        if img.status == c.DEACTIVATED and not auth.is_admin:
            raise errors.Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        if img.status not in (c.ACTIVE, c.DEACTIVATED) or img.location is None:
            return Download(None, 0, -1, 0, None, False)
        size = img.size or 0
        start, end = 0, size - 1
        partial = range_header is not None
        if range_header is not None:
            start, end = parse_range(range_header, size)
        chunks = self.core.store.read(img.location, start, end - start + 1)
        return Download(chunks, start, end, size, img.checksum, partial)

    async def recover(self) -> None:
        """At start-up no request is in flight: apply each transitional status's restart rule
        (image/states.py). An image saving, importing, or uploading without complete staged
        data goes back to queued; its scratch and staging files are removed. Idempotent."""
        self.core.store.sweep()
        async with self.core.db.writer() as s:
            rows = await s.execute(
                select(Image.id, Image.status, Image.staged_size).where(
                    Image.status.in_([t.status for t in states.TRANSITIONAL])
                )
            )
            for image_id, status, staged_size in rows.all():
                staged = self.core.store.staging_path(image_id)
                if status == c.UPLOADING and staged_size is not None and staged.is_file():
                    continue  # the stage finished: the data awaits its import
                if states.BY_STATUS[status].restart == "queued":
                    discard(staged)
                    await s.execute(
                        update(Image)
                        .where(Image.id == image_id, Image.status == status)
                        .values(
                            status=c.QUEUED,
                            staged_size=None,
                            checksum=None,
                            os_hash_value=None,
                            os_hash_algo=None,
                            updated_at=utcnow(),
                        )
                    )


class UploadTimeout(errors.ApiError):
    status, title, nova_key = 408, "Request Timeout", "requestTimeout"


async def idle_limited(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """`chunks`, ended with 408 when the client sends nothing for `seconds`."""
    iterator = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadTimeout(
                f"The client sent no image data for {seconds:.0f} seconds; the upload was "
                "abandoned and the image is queued again. Upload it again."
            ) from None
        yield chunk


def parse_range(header: str, size: int) -> tuple[int, int]:
    """(first, last) byte of a single `bytes=` range; 416 when unsatisfiable or malformed."""
    unsatisfiable = RangeNotSatisfiable(
        f"Requested range not satisfiable: the image has {size} bytes.",
        headers={"Content-Range": f"bytes */{size}"},
    )
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        raise unsatisfiable
    first_raw, _, last_raw = spec.strip().partition("-")
    try:
        if first_raw == "":
            suffix = int(last_raw)
            first, last = max(0, size - suffix), size - 1
        else:
            first = int(first_raw)
            last = int(last_raw) if last_raw else size - 1
    except ValueError:
        raise unsatisfiable from None
    last = min(last, size - 1)
    if first < 0 or first > last:
        raise unsatisfiable
    return first, last
