"""How compute reaches the image service: look up an imageRef for the user, and (for
createImage) create a queued image and upload a snapshot into it.

It holds an `ImageApi` (`ministack.image.client`): the in-process client when the image
service runs in this process, the HTTP client (as the nova service user) otherwise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.config import Settings
from ministack.image.client import ImageApi, UserImageApi


class Images:
    """Image lookups and snapshot uploads for compute."""

    def __init__(self, settings: Settings, client: ImageApi) -> None:
        self.settings = settings
        self.client = client

    async def lookup(
        self, image_id: str, project_id: str | None, is_admin: bool = False
    ) -> dict[str, Any]:
        """The image if the caller may boot from it (the image service shows it to them: an
        admin sees every project's images, as Glance shows them); 400 naming it otherwise."""
        missing = errors.BadRequest(f"Image {image_id} could not be found.")
        try:
            image = await self.client.get(image_id)
        except errors.NotFound:
            raise missing from None
        visible = (
            is_admin
            or image.get("visibility") in ("public", "community", "shared")
            or image.get("owner") == project_id
        )
        if not visible:
            raise missing
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_id} is not active.")
        return image

    async def create_queued(
        self,
        name: str,
        owner: str | None,
        properties: dict[str, str],
        disk_format: str,
        hidden: bool = False,
    ) -> str:
        """A new image record (queued, no data yet) for a snapshot; returns its id. `hidden`
        (os_hidden): left out of default image lists (a migration's private disk image)."""
        return await self.client.create_queued(name, disk_format, owner, properties, hidden=hidden)

    async def create_empty(self, name: str, owner: str | None, properties: dict[str, str]) -> str:
        """An active image with no data (size 0): the snapshot of a volume-backed server,
        whose data is in volume snapshots its properties name (Nova's force_activate)."""
        image_id = await self.client.create_queued(name, "raw", owner, properties)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                empty = Path(tmp) / "empty"
                empty.touch()
                await self.client.upload_file(image_id, empty)
        except BaseException:
            await self.client.delete(image_id)
            raise
        return image_id

    async def upload(self, image_id: str, path: Path, disk_format: str) -> None:
        """Upload the snapshot file into the queued image, as the `disk_format` the driver
        wrote (the API queued it before the host's driver was known)."""
        await self.client.upload_file(image_id, path, disk_format)

    async def delete(self, image_id: str) -> None:
        """Delete a snapshot image whose upload failed. Idempotent."""
        await self.client.delete(image_id)

    async def backups(self, instance_uuid: str, backup_type: str) -> list[dict[str, Any]]:
        """The instance's backup images of `backup_type` (createBackup's rotation set)."""
        wanted = {
            "image_type": "backup",
            "backup_type": backup_type,
            "instance_uuid": instance_uuid,
        }
        return await self.client.find(wanted)

    def for_user(self, auth: Auth, token: str) -> UserImageApi:
        """The image service with the caller's own rights (the /v2.1/images proxy)."""
        return self.client.as_user(auth, token)

    @property
    def image_url(self) -> str:
        """The image service's public URL (Nova's "alternate" image links)."""
        return self.settings.endpoint("image")
