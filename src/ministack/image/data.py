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
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.diskformat import FormatError, Inspection, inspect_file
from ministack.image import constants as c
from ministack.image import locations, policies, quotas, states
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

    def upload_store(self, store: str | None) -> list[str]:
        """The store of a PUT /file (X-Image-Meta-Store): the default when None; 400 when the
        store is not enabled (Glance's upload answer)."""
        if store is None:
            return [self.core.stores.default]
        if store not in self.core.stores.enabled:
            raise errors.BadRequest(
                f"Store for identifier {store} not found; the stores are "
                f"{', '.join(self.core.stores.ids)} (GET /v2/info/stores)."
            )
        return [store]

    def import_stores(
        self, stores: list[str] | None, all_stores: bool, header: str | None
    ) -> list[str]:
        """The stores an import targets (Glance's get_stores_from_request): `stores` of the
        body, else the X-Image-Meta-Store header, else every store with `all_stores`, else
        the default. 400 when all_stores is combined with stores; 409 for an unknown store."""
        enabled = self.core.stores.ids
        if all_stores:
            if stores or header:
                raise errors.BadRequest(
                    "All_stores parameter can't be used with x-image-meta-store header or "
                    "stores parameter."
                )
            return list(enabled)
        wanted = list(dict.fromkeys(stores or ([header] if header else [self.core.stores.default])))
        unknown = [s for s in wanted if s not in enabled]
        if unknown:  # Glance: an unknown store id is 409
            raise errors.Conflict(
                f"Unknown store {unknown[0]!r}; the stores are: {', '.join(enabled)}."
            )
        return wanted

    async def upload(
        self,
        auth: Auth,
        image_id: str,
        chunks: AsyncIterator[bytes],
        declared: int | None,
        store: str | None = None,
    ) -> None:
        """PUT /v2/images/{id}/file. 409 unless queued; 400 wrong format or unknown store;
        413 over quota. The data goes to `store` (default: the default store)."""
        targets = self.upload_store(store)
        allowed, owner = await self._begin(auth, image_id, c.SAVING, declared)
        spooled = await self._receive(image_id, owner, c.SAVING, allowed, chunks)
        await self._finish(image_id, c.SAVING, spooled.path, spooled, targets)

    async def _finish(
        self, image_id: str, from_status: str, path: Path, got: Spooled, targets: list[str]
    ) -> None:
        """Inspect the received file and make the image active in the `targets` stores, or
        undo everything."""
        try:
            async with self.core.db.session() as s:
                img = await s.get(Image, image_id)
                disk_format = img.disk_format if img else None
                container = img.container_format if img else None
            # every upload is inspected, whatever its declared formats (PROMISES 20)
            inspection = await asyncio.to_thread(
                inspect_file, path, disk_format or "raw", container
            )
            await self._adopt(image_id, from_status, path, got, inspection, targets)
        except FormatError as exc:
            discard(path)
            await self._reset(image_id, from_status)
            raise errors.BadRequest(f"{exc} Nothing was stored; the image is queued.") from None
        except BaseException:
            discard(path)
            await asyncio.shield(self._reset(image_id, from_status))
            raise

    async def _check_adoptable(self, image_id: str, from_status: str, size: int) -> None:
        """Gone when the image left `from_status`; 413 when `size` more bytes pass the quota."""
        async with self.core.db.writer() as s:
            img = await s.get(Image, image_id)
            if img is None or img.status != from_status:
                raise Gone(f"Image {image_id} was deleted while its data was being uploaded.")
            limits = self.core.limits
            if limits.image_size_total != quotas.UNLIMITED:
                used = await quotas.usage(s, img.owner, exclude=image_id)
                if used.bytes + size > limits.image_size_total:
                    raise quotas.too_large(limits, img.owner)

    async def _adopt(
        self,
        image_id: str,
        from_status: str,
        path: Path,
        got: Spooled,
        inspection: Inspection,
        targets: list[str],
    ) -> None:
        """Hand the file to each target store, then point the row at the copies. The stores
        are written outside any transaction (the object store writes to the same database);
        the row is re-checked afterwards and the copies removed when it moved on."""
        await self._check_adoptable(image_id, from_status, got.size)
        found = await self.store_copies(image_id, path, targets)
        try:
            await self._check_adoptable(image_id, from_status, got.size)
            async with self.core.db.writer() as s:
                img = await s.get(Image, image_id)
                if img is None or img.status != from_status:
                    raise Gone(f"Image {image_id} was deleted while its data was being uploaded.")
                img.location, img.size, img.virtual_size = (
                    locations.dump(found),
                    got.size,
                    inspection.virtual_size,
                )
                img.checksum, img.os_hash_algo = got.checksum, c.HASH_ALGO
                img.os_hash_value, img.staged_size = got.os_hash_value, None
                img.status, img.updated_at = c.ACTIVE, utcnow()
        except BaseException:
            await asyncio.shield(self.core.delete_data(found))
            raise

    async def store_copies(self, image_id: str, path: Path, targets: list[str]) -> dict[str, str]:
        """Add the file at `path` (consumed) to each target store; {store: location}. Every
        store but the last gets a hard link in the scratch directory (no bytes copied). On
        failure the copies already made are removed and no link is left."""
        found: dict[str, str] = {}
        links: list[Path] = []
        try:
            for n, store_id in enumerate(targets):
                source = path
                if n < len(targets) - 1:
                    source = self.core.store.scratch_dir() / f"{uuid.uuid4().hex}.part"
                    await asyncio.to_thread(os.link, path, source)
                    links.append(source)
                found[store_id] = await self.core.stores.get(store_id).add(image_id, source)
            return found
        except BaseException:
            await asyncio.shield(self.core.delete_data(found))
            raise
        finally:
            for link in links:
                discard(link)

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

    async def import_staged(
        self, auth: Auth, image_id: str, method: str, targets: list[str]
    ) -> None:
        """POST /v2/images/{id}/import with glance-direct: uploading -> importing -> active,
        the data in each of `targets` (store ids)."""
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
        await self._finish(image_id, c.IMPORTING, got.path, got, targets)

    async def download(self, auth: Auth, image_id: str, range_header: str | None) -> Download:
        """GET /file: 204-style empty Download when there is no data; 403 when deactivated."""
        async with self.core.db.session() as s:
            img = await self.core.find(s, auth, image_id)
        policies.authorize(auth, "download_image", auth.project_id)
        if img.status == c.DEACTIVATED and not auth.is_admin:
            raise errors.Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        stored = locations.parse(img.location)
        enabled = {k: v for k, v in stored.items() if k in self.core.stores.enabled}
        where = locations.pick(enabled, self.core.stores.default)
        if img.status not in (c.ACTIVE, c.DEACTIVATED) or where is None:
            return Download(None, 0, -1, 0, None, False)
        size = img.size or 0
        start, end = 0, size - 1
        partial = range_header is not None
        if range_header is not None:
            start, end = parse_range(range_header, size)
        chunks = self.core.stores.get(where[0]).read(where[1], start, end - start + 1)
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
