"""The typed in-process client other services use (the compute agent fetches images with it
and uploads snapshots through it). It runs the same code paths as the API, as a trusted caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database
from ministack.config import Settings
from ministack.image.core import ImageCore
from ministack.image.data import ImageData
from ministack.image.store import READ_CHUNK, FilesystemStore, store_root


def service_auth(project_id: str | None) -> Auth:
    """An Auth for trusted in-process calls acting for `project_id`."""
    return Auth(
        user_id="ministack-service",
        user_name="ministack-service",
        user_domain_id="default",
        roles=("admin", "member", "reader", "service"),
        expires_at=dt.datetime.max,
        project_id=project_id,
    )


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while data := await asyncio.to_thread(fh.read, READ_CHUNK):
            yield data
    finally:
        fh.close()


class ImageClient:
    def __init__(self, core: ImageCore) -> None:
        self.core = core
        self.data = ImageData(core)

    async def get(self, image_id: str) -> dict[str, Any]:
        """The image as the API shows it; errors.NotFound when it does not exist."""
        return await self.core.show(service_auth(None), image_id)

    async def download(self, image_id: str, dest: Path) -> None:
        """Stream the image's data to `dest` (temp file then rename) and verify its md5.

        Raises errors.Conflict when the image has no data; on any error `dest` is untouched
        and no temporary file is left.
        """
        got = await self.data.download(service_auth(None), image_id, None)
        if got.chunks is None:
            raise errors.Conflict(f"Image {image_id} has no data (it is not active).")
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            fh = await asyncio.to_thread(tmp.open, "wb")
            try:
                async for chunk in got.chunks:
                    md5.update(chunk)
                    await asyncio.to_thread(fh.write, chunk)
            finally:
                fh.close()
            if got.checksum and md5.hexdigest() != got.checksum:
                raise errors.InternalError(f"Image {image_id} data does not match its checksum.")
            await asyncio.to_thread(os.replace, tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    async def create_queued(
        self,
        name: str,
        disk_format: str,
        owner: str | None,
        properties: dict[str, str] | None = None,
        container_format: str = "bare",
        visibility: str = "private",
    ) -> str:
        """A new image record owned by `owner`, queued with no data yet; returns its id."""
        body: dict[str, Any] = dict(properties or {})
        body.update(
            name=name,
            disk_format=disk_format,
            container_format=container_format,
            visibility=visibility,
            owner=owner,
        )
        image = await self.core.create(service_auth(owner), body)
        return str(image["id"])

    async def upload_file(self, image_id: str, path: Path) -> None:
        """Upload a local file into a queued image, with the checks of an API upload (format
        inspection, quotas); on failure the image is queued again and nothing is stored."""
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        await self.data.upload(service_auth(None), image_id, _file_chunks(path), size)

    async def delete(self, image_id: str) -> None:
        """Delete an image. Idempotent: an image already gone is not an error."""
        try:
            await self.core.delete(service_auth(None), image_id)
        except errors.NotFound:
            pass

    async def create_from_file(
        self,
        name: str,
        path: Path,
        disk_format: str,
        owner: str | None,
        properties: dict[str, str] | None = None,
        container_format: str = "bare",
        visibility: str = "private",
    ) -> str:
        """Create an image owned by `owner` from a local file; returns its id.

        The same checks as an upload (format inspection, quotas) apply; on failure the image
        record is deleted and the error (errors.BadRequest, errors.PayloadTooLarge) raised.
        """
        image_id = await self.create_queued(
            name, disk_format, owner, properties, container_format, visibility
        )
        try:
            await self.upload_file(image_id, path)
        except BaseException:
            await self.delete(image_id)
            raise
        return image_id


def in_process(settings: Settings, db: Database) -> ImageClient:
    """The in-process client for a component that shares the image service's database and
    store (the all-in-one process)."""
    return ImageClient(ImageCore(settings, db, FilesystemStore(store_root(settings))))
