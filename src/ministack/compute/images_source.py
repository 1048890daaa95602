"""The virt drivers' `ImageSource` on top of the image service's client (`ImageApi`).

Where it sits: `agent.group.make_driver` hands one to the libvirt driver, whose image cache
calls `fetch` the first time a host boots an image. The bytes come from
`ImageApi.download` (in-process, or over HTTP on another host; streamed, md5-checked, written
to a temporary file and renamed); the
driver then checks os_hash_value itself. Errors become `DriverError` with a message the user
sees in the instance fault.
"""

from __future__ import annotations

from pathlib import Path

from ministack.common import errors
from ministack.compute.images import Images
from ministack.compute.virt.driver import DriverError


class ImageServiceSource:
    """Fetch image data through compute's image client."""

    def __init__(self, images: Images) -> None:
        self.images = images

    async def fetch(self, image_id: str, dest: Path) -> None:
        """Write the image's data to `dest` atomically (nothing at `dest` on error).

        Raises DriverError when the image service cannot be reached, the image is gone or has
        no data, or its data does not match its checksum.
        """
        try:
            await self.images.client.download(image_id, dest)
        except errors.NotFound:
            raise DriverError(f"image {image_id} could not be found (deleted?)") from None
        except errors.ApiError as exc:
            raise DriverError(f"could not download image {image_id}: {exc}") from None
