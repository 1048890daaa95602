"""RPC API of one host's volume manager (topic "cinder-volume", server = the host's name).

The API commits the row (status creating, deleting, extending, uploading...) and casts; the
manager does the backend work and moves the row on. `initialize_connection` is a call: the
attachments API needs its answer (the connection info Nova attaches with); so is
`terminate_connection` (the attachment's export is gone when its delete returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import Payload

TOPIC = "cinder-volume"


@dataclass(frozen=True)
class VolumeRef(Payload):
    volume_id: str


@dataclass(frozen=True)
class CreateVolume(Payload):
    """Create the volume's data: blank, or from an image, a snapshot or another volume."""

    volume_id: str
    image_id: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None


@dataclass(frozen=True)
class ExtendVolume(Payload):
    volume_id: str
    new_size: int


@dataclass(frozen=True)
class SnapshotRef(Payload):
    snapshot_id: str


@dataclass(frozen=True)
class UploadToImage(Payload):
    volume_id: str
    image_id: str
    disk_format: str
    restore_status: str


@dataclass(frozen=True)
class ReimageVolume(Payload):
    """Write the image onto the volume (os-reimage); `restore_status` is its status after;
    `reimage_reserved`: a server holds it (Nova's rebuild), which is told volume-reimaged."""

    volume_id: str
    image_id: str
    restore_status: str
    reimage_reserved: bool = False


@dataclass(frozen=True)
class Connector(Payload):
    """1.1: the attachment it is for (an NBD export is per attachment)."""

    VERSION = "1.1"
    volume_id: str
    connector: dict[str, Any]
    attachment_id: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class AttachmentRef(Payload):
    attachment_id: str


class VolumeManagerAPI:
    """What the volume API asks of the manager on `host`."""

    def __init__(self, bus: Bus, host: str) -> None:
        self.bus = bus
        self.host = host

    async def _cast(self, method: str, payload: Payload) -> None:
        await self.bus.cast(TOPIC, method, server=self.host, payload=payload.to_wire())

    async def create_volume(self, payload: CreateVolume) -> None:
        await self._cast("create_volume", payload)

    async def delete_volume(self, volume_id: str) -> None:
        await self._cast("delete_volume", VolumeRef(volume_id))

    async def extend_volume(self, volume_id: str, new_size: int) -> None:
        await self._cast("extend_volume", ExtendVolume(volume_id, new_size))

    async def create_snapshot(self, snapshot_id: str) -> None:
        await self._cast("create_snapshot", SnapshotRef(snapshot_id))

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._cast("delete_snapshot", SnapshotRef(snapshot_id))

    async def upload_to_image(self, payload: UploadToImage) -> None:
        await self._cast("upload_to_image", payload)

    async def reimage(self, payload: ReimageVolume) -> None:
        await self._cast("reimage", payload)

    async def initialize_connection(
        self,
        volume_id: str,
        connector: dict[str, Any],
        attachment_id: str | None = None,
        read_only: bool = False,
    ) -> dict[str, Any]:
        """The connection info a compute host attaches the volume with."""
        result: dict[str, Any] = await self.bus.call(
            TOPIC,
            "initialize_connection",
            server=self.host,
            payload=Connector(volume_id, connector, attachment_id, read_only).to_wire(),
        )
        return result

    async def terminate_connection(self, attachment_id: str) -> None:
        """Stop serving the attachment (its NBD export, when it has one); a call, so the
        export is gone when it returns."""
        await self.bus.call(
            TOPIC,
            "terminate_connection",
            server=self.host,
            payload=AttachmentRef(attachment_id).to_wire(),
        )
