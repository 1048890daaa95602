"""How compute reaches the image service: look up an imageRef for the user, and (for
createImage) create a queued image and upload a snapshot into it.

In-process it uses the image service's client (`ministack.image.client`); when the image
service runs elsewhere, lookups go over HTTP with the caller's token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ministack.common import errors
from ministack.config import Settings
from ministack.image.client import ImageClient


class Images:
    """Image lookups and snapshot uploads for compute."""

    def __init__(self, settings: Settings, client: ImageClient | None) -> None:
        self.settings = settings
        self.client = client

    async def lookup(self, image_id: str, project_id: str | None, token: str) -> dict[str, Any]:
        """The image if the project may boot from it; 400 naming it otherwise."""
        missing = errors.BadRequest(f"Image {image_id} could not be found.")
        try:
            image = await self._fetch(image_id, token)
        except errors.NotFound:
            raise missing from None
        if image is None:
            raise missing
        visible = image.get("visibility") in ("public", "community", "shared") or (
            image.get("owner") == project_id
        )
        if not visible:
            raise missing
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_id} is not active.")
        return image

    async def _fetch(self, image_id: str, token: str) -> dict[str, Any] | None:
        if self.client is not None:
            image: dict[str, Any] = await self.client.get(image_id)
            return image
        url = f"{self.settings.endpoint('image')}/v2/images/{image_id}"
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                resp = await http.get(url, headers={"X-Auth-Token": token})
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"The image service is unreachable: {exc}") from None
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    async def create_queued(
        self, name: str, owner: str | None, properties: dict[str, str], disk_format: str
    ) -> str:
        """A new image record (queued, no data yet) for a snapshot; returns its id."""
        if self.client is None:
            raise errors.ServiceUnavailable("The image service is not available to compute.")
        image_id: str = await self.client.create_queued(name, disk_format, owner, properties)
        return image_id

    async def upload(self, image_id: str, path: Path, disk_format: str) -> None:
        """Upload the snapshot file into the queued image."""
        if self.client is None:
            raise errors.ServiceUnavailable("The image service is not available to compute.")
        await self.client.upload_file(image_id, path)

    async def delete(self, image_id: str) -> None:
        """Delete a snapshot image whose upload failed. Idempotent."""
        if self.client is not None:
            await self.client.delete(image_id)
