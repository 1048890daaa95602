"""The volume service's core: rows, checks and state changes behind the Block Storage API.

Where it sits: API handler → `VolumeCore` (validate against the rows, claim quota, commit a
transitional status) → `VolumeManagerAPI` cast → volume manager (backend work) moves the row
on. Every check that can refuse runs before anything is written, so a refused request leaves
nothing behind (PROMISES 13). Another project's volume is 404 (PROMISES 16).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database, utcnow
from ministack.common.rpc.base import Bus, RpcError
from ministack.config import Settings
from ministack.image.client import ImageApi
from ministack.volume import models as m
from ministack.volume import quotas
from ministack.volume import states as st
from ministack.volume.rpcapi.manager import CreateVolume, ReimageVolume, VolumeManagerAPI

log = logging.getLogger("ministack.volume")
GiB = 1024**3
DEFAULT_TYPE = "__DEFAULT__"
BACKEND = "file"
DELETABLE = (st.AVAILABLE, st.ERROR, "error_restoring", st.ERROR_EXTENDING, "error_managing")


@dataclass(frozen=True)
class NewVolume:
    """A checked create request."""

    size: int | None
    name: str | None
    description: str | None
    volume_type: str | None
    availability_zone: str | None
    metadata: dict[str, str]
    snapshot_id: str | None
    source_volid: str | None
    image_ref: str | None
    multiattach: bool
    bootable: bool


def backend_host(hostname: str) -> str:
    """Cinder's host@backend#pool for the file backend of `hostname`."""
    return f"{hostname}@{BACKEND}#{BACKEND}"


def rpc_server(host: str | None) -> str:
    return (host or "").partition("@")[0]


def exported(connector: dict[str, Any] | None, host: str | None, nbd_for_local: bool) -> bool:
    """Whether the volume manager on `host` serves this connector an NBD export (a compute
    host on another machine, or every host with `volume.nbd_for_local`) rather than the file."""
    if connector is None:
        return False
    machine = connector.get("machine")
    return nbd_for_local or (machine is not None and machine != rpc_server(host))


class VolumeCore:
    def __init__(self, settings: Settings, db: Database, bus: Bus, images: ImageApi) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.images = images
        self.host = backend_host(settings.hostname)

    def manager(self, host: str | None) -> VolumeManagerAPI:
        return VolumeManagerAPI(self.bus, rpc_server(host or self.host))

    # --- lookups -------------------------------------------------------------------------

    async def volume(self, s: AsyncSession, auth: Auth, volume_id: str) -> m.Volume:
        """The volume if the caller may see it; 404 otherwise (also for other projects)."""
        row = await s.get(m.Volume, volume_id)
        if row is None or not (auth.reads_all or row.project_id == auth.project_id):
            raise errors.NotFound(f"Volume {volume_id} could not be found.")
        return row

    async def snapshot(self, s: AsyncSession, auth: Auth, snapshot_id: str) -> m.Snapshot:
        row = await s.get(m.Snapshot, snapshot_id)
        if row is None or not (auth.reads_all or row.project_id == auth.project_id):
            raise errors.NotFound(f"Snapshot {snapshot_id} could not be found.")
        return row

    async def volume_type(self, s: AsyncSession, auth: Auth, name_or_id: str) -> m.VolumeType:
        """A type by id or name that the caller may use; 404 otherwise."""
        row = await s.get(m.VolumeType, name_or_id)
        if row is None:
            found = await s.execute(select(m.VolumeType).where(m.VolumeType.name == name_or_id))
            row = found.scalars().first()
        if row is not None and not row.is_public and not auth.is_admin:
            shared = await s.get(m.VolumeTypeProject, (row.id, auth.project_id or ""))
            row = row if shared is not None else None
        if row is None:
            raise errors.NotFound(f"Volume type with name {name_or_id} could not be found.")
        return row

    async def default_type(self, s: AsyncSession) -> m.VolumeType:
        name = self.settings.volume.default_volume_type
        found = await s.execute(select(m.VolumeType).where(m.VolumeType.name == name))
        row = found.scalars().first()
        if row is None:
            raise errors.InternalError(f"The default volume type {name} does not exist.")
        return row

    async def ensure_default_type(self) -> None:
        """Create the default volume type (Cinder's __DEFAULT__) when missing. Idempotent."""
        name = self.settings.volume.default_volume_type
        async with self.db.writer() as s:
            found = await s.execute(select(m.VolumeType).where(m.VolumeType.name == name))
            if found.scalars().first() is None:
                s.add(
                    m.VolumeType(id=str(uuid.uuid4()), name=name, description="Default Volume Type")
                )

    async def metadata(self, s: AsyncSession, volume_id: str, kind: str) -> dict[str, str]:
        rows = await s.execute(
            select(m.VolumeMetadata).where(
                m.VolumeMetadata.volume_id == volume_id, m.VolumeMetadata.kind == kind
            )
        )
        return {r.key: r.value for r in rows.scalars()}

    async def set_metadata(
        self, s: AsyncSession, volume_id: str, kind: str, items: dict[str, str], replace: bool
    ) -> None:
        if replace:
            await s.execute(
                delete(m.VolumeMetadata).where(
                    m.VolumeMetadata.volume_id == volume_id, m.VolumeMetadata.kind == kind
                )
            )
        for key, value in items.items():
            await s.merge(m.VolumeMetadata(volume_id=volume_id, kind=kind, key=key, value=value))

    # --- create --------------------------------------------------------------------------

    async def create(self, auth: Auth, req: NewVolume) -> m.Volume:
        """Check the request, claim quota and commit the volume `creating`, then cast the
        work to the manager. 400/404/413 before anything is written."""
        image = await self._image(req.image_ref) if req.image_ref else None
        zone = req.availability_zone or self.settings.volume.storage_availability_zone
        if zone != self.settings.volume.storage_availability_zone:
            raise errors.BadRequest(
                f"Invalid input received: Availability zone '{zone}' is invalid."
            )
        async with self.db.writer() as s:
            size = await self._size(s, auth, req, image)
            vtype = (
                await self.volume_type(s, auth, req.volume_type)
                if req.volume_type
                else await self.default_type(s)
            )
            project = auth.project_id or ""
            await quotas.claim(
                s,
                self.db,
                project,
                {"volumes": 1, "gigabytes": size, "per_volume_gigabytes": size},
                vtype.name,
            )
            now = utcnow()
            row = m.Volume(
                id=str(uuid.uuid4()),
                project_id=project,
                user_id=auth.user_id,
                name=req.name,
                description=req.description,
                size=size,
                status=st.CREATING,
                attach_status=st.DETACHED,
                availability_zone=zone,
                volume_type_id=vtype.id,
                snapshot_id=req.snapshot_id,
                source_volid=req.source_volid,
                image_id=str(image["id"]) if image else None,
                bootable=req.bootable,
                multiattach=req.multiattach,
                host=self.host,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            await s.flush()
            await self.set_metadata(s, row.id, "user", req.metadata, replace=False)
        work = CreateVolume(row.id, row.image_id, req.snapshot_id, req.source_volid)
        await self._cast(row, self.manager(row.host).create_volume(work))
        return row

    async def _image(self, ref: str) -> dict[str, Any]:
        image_id = ref.rstrip("/").rsplit("/", 1)[-1]
        try:
            image = await self.images.get(image_id)
        except errors.NotFound:
            raise errors.BadRequest(
                f"Invalid image identifier or unable to access requested image: {ref}."
            ) from None
        if image.get("status") != "active":
            raise errors.BadRequest(f"Image {image_id} is not active.")
        return image

    async def _size(
        self, s: AsyncSession, auth: Auth, req: NewVolume, image: dict[str, Any] | None
    ) -> int:
        """The volume's size in GB: given, or the source's; 400 when smaller than the
        snapshot, the source volume, the image's data, virtual size or min_disk."""
        size = req.size
        if req.snapshot_id:
            snap = await self.snapshot(s, auth, req.snapshot_id)
            if snap.status != st.AVAILABLE:
                raise errors.BadRequest(
                    "Invalid snapshot: Originating snapshot status must be one of 'available' "
                    f"values (it is {snap.status})."
                )
            size = snap.size if size is None else size
            if size < snap.size:
                raise errors.BadRequest(
                    f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                    f"snapshot size {snap.size}GB. They must be >= original snapshot size."
                )
        if req.source_volid:
            src = await self.volume(s, auth, req.source_volid)
            if src.status not in (st.AVAILABLE, st.IN_USE):
                raise errors.BadRequest(
                    f"Invalid volume: Source volume status must be available or in-use (it is "
                    f"{src.status})."
                )
            size = src.size if size is None else size
            if size < src.size:
                raise errors.BadRequest(
                    f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                    f"source volume size {src.size}GB. They must be >= original volume size."
                )
        if size is None:
            raise errors.BadRequest(
                "Invalid input received: Volume size must be given: a whole number of GB "
                "greater than 0 (or a snapshot_id or source_volid to take it from)."
            )
        if image is not None:
            _check_image_fits(image, size)
        return size

    async def _cast(self, row: m.Volume, sent: Any) -> None:
        """Await a cast; when no manager hears it, the volume goes error at once."""
        try:
            await sent
        except RpcError as exc:
            await self.fail(row.id, f"No volume manager serves host {row.host}: {exc}")

    async def fail(self, volume_id: str, fault: str, status: str = st.ERROR) -> None:
        async with self.db.writer() as s:
            row = await s.get(m.Volume, volume_id)
            if row is not None:
                row.status, row.fault, row.updated_at = status, fault, utcnow()
                if status == st.ERROR:
                    row.consumes_quota = False

    # --- change --------------------------------------------------------------------------

    async def delete(self, auth: Auth, volume_id: str, *, force: bool, cascade: bool) -> None:
        """Commit `deleting` and cast; 400 in Cinder's words when the volume is attached,
        has snapshots (without cascade) or is in a status that cannot be deleted."""
        async with self.db.writer() as s:
            row = await self.volume(s, auth, volume_id)
            snaps = (
                (await s.execute(select(m.Snapshot).where(m.Snapshot.volume_id == volume_id)))
                .scalars()
                .all()
            )
            attached = row.attach_status != st.DETACHED or row.status in (
                st.IN_USE,
                st.ATTACHING,
                st.RESERVED,
                st.DETACHING,
            )
            if attached and not force:
                raise errors.BadRequest(
                    f"Invalid volume: Volume {volume_id} is attached ({row.status}); detach it "
                    "first. Volume status must be available or error or error_restoring or "
                    "error_extending or error_managing and must not be migrating, attached, "
                    "belong to a group, have snapshots or be disassociated from snapshots after "
                    "volume transfer."
                )
            if snaps and not cascade:
                raise errors.BadRequest(
                    f"Invalid volume: Volume still has {len(snaps)} dependent snapshots; delete "
                    "them first or pass cascade=true."
                )
            if not force and row.status not in DELETABLE:
                raise errors.BadRequest(
                    "Invalid volume: Volume status must be available or error or "
                    "error_restoring or error_extending or error_managing and must not be "
                    f"migrating, attached, belong to a group, have snapshots or be "
                    f"disassociated from snapshots after volume transfer (it is {row.status})."
                )
            for snap in snaps:
                snap.status, snap.updated_at = st.DELETING, utcnow()
            row.status, row.updated_at = st.DELETING, utcnow()
            await s.execute(delete(m.Attachment).where(m.Attachment.volume_id == volume_id))
            host, snap_ids = row.host, [x.id for x in snaps]
        manager = self.manager(host)
        try:
            for snap_id in snap_ids:
                await manager.delete_snapshot(snap_id)
            await manager.delete_volume(volume_id)
        except RpcError as exc:
            await self.fail(
                volume_id, f"No volume manager serves host {host}: {exc}", st.ERROR_DELETING
            )

    async def extend(self, auth: Auth, volume_id: str, new_size: int, attached_ok: bool) -> None:
        async with self.db.writer() as s:
            row = await self.volume(s, auth, volume_id)
            allowed = (st.AVAILABLE, st.IN_USE) if attached_ok else (st.AVAILABLE,)
            if row.status not in allowed:
                raise errors.BadRequest(
                    f"Invalid volume: Volume status must be {' or '.join(allowed)} to extend, "
                    f"but current status is: {row.status}."
                )
            if new_size <= row.size:
                raise errors.BadRequest(
                    "Invalid input received: New size for extend must be greater than current "
                    f"size. (current: {row.size}, extended: {new_size})."
                )
            await self._check_not_exported(s, row)
            await quotas.claim(
                s,
                self.db,
                row.project_id,
                {"gigabytes": new_size - row.size, "per_volume_gigabytes": new_size},
                await quotas.type_name(s, row),
            )
            row.previous_size, row.size = row.size, new_size
            row.status, row.updated_at = st.EXTENDING, utcnow()
            host = row.host
        try:
            await self.manager(host).extend_volume(volume_id, new_size)
        except RpcError as exc:
            await self.fail(volume_id, str(exc), st.ERROR_EXTENDING)

    async def _check_not_exported(self, s: AsyncSession, row: m.Volume) -> None:
        """400 for an extend of a volume attached over NBD: its qemu-storage-daemon export
        keeps the old size and the guest could not see the new one (nothing is changed)."""
        connectors = (
            await s.execute(select(m.Attachment.connector).where(m.Attachment.volume_id == row.id))
        ).scalars()
        nbd_for_local = self.settings.volume.nbd_for_local
        if any(exported(c, row.host, nbd_for_local) for c in connectors):
            raise errors.BadRequest(
                f"Invalid volume: Volume {row.id} is attached over NBD to a compute host on "
                "another machine; extending a volume attached that way is not supported. "
                "Detach it, extend it, and attach it again."
            )

    async def reimage(
        self, auth: Auth, volume_id: str, image_ref: str, reimage_reserved: bool
    ) -> None:
        """Cinder's os-reimage: the volume (available or error; also reserved with
        `reimage_reserved`, a server's rebuild holding it) goes downloading and the manager
        writes the image onto it. 400 for a wrong status, an unknown or inactive image or one
        that does not fit; nothing changes then."""
        image = await self._image(image_ref)
        async with self.db.writer() as s:
            row = await self.volume(s, auth, volume_id)
            expected = (st.AVAILABLE, st.ERROR) + ((st.RESERVED,) if reimage_reserved else ())
            if row.status not in expected:
                raise errors.BadRequest(
                    f"Invalid volume: Volume {row.id} status must be {', '.join(expected)}, "
                    f"but current status is: {row.status}."
                )
            _check_image_fits(image, row.size)
            restore = row.status
            row.status, row.fault, row.updated_at = st.DOWNLOADING, None, utcnow()
        work = ReimageVolume(row.id, str(image["id"]), restore, reimage_reserved)
        try:
            await self.manager(row.host).reimage(work)
        except RpcError as exc:
            async with self.db.writer() as s:
                back = await s.get(m.Volume, row.id)
                if back is not None and back.status == st.DOWNLOADING:
                    back.status = restore
            raise errors.ServiceUnavailable(
                f"No volume manager serves host {row.host}: {exc}"
            ) from None

    async def refresh_attach_status(self, s: AsyncSession, row: m.Volume) -> None:
        await refresh_attach_status(s, row)

    async def reset_status(self, auth: Auth, volume_id: str, status: dict[str, Any]) -> None:
        async with self.db.writer() as s:
            row = await self.volume(s, auth, volume_id)
            if status.get("status") and status["status"] not in st.VOLUME_STATUSES:
                raise errors.BadRequest(f"Invalid input received: status {status['status']!r}")
            if status.get("status"):
                row.status = status["status"]
            if status.get("attach_status") in (st.ATTACHED, st.DETACHED):
                row.attach_status = status["attach_status"]
            elif status.get("attach_status"):
                raise errors.BadRequest(
                    f"Invalid input received: attach_status {status['attach_status']!r}"
                )
            row.updated_at = utcnow()


async def refresh_attach_status(s: AsyncSession, row: m.Volume) -> None:
    """Set the volume's status and attach_status from its attachments (Cinder's rules):
    in-use/attached when one is attached, reserved/attaching while one is being made,
    available/detached when none is left."""
    atts = (
        (await s.execute(select(m.Attachment).where(m.Attachment.volume_id == row.id)))
        .scalars()
        .all()
    )
    kinds = {a.attach_status for a in atts}
    if st.ATTACHED in kinds:
        row.status, row.attach_status = st.IN_USE, st.ATTACHED
    elif st.ATTACHING_STATUS in kinds:
        row.status, row.attach_status = st.ATTACHING, st.ATTACHING_STATUS
    elif st.RESERVED_STATUS in kinds:
        row.status, row.attach_status = st.RESERVED, st.DETACHED
    else:
        row.status, row.attach_status = st.AVAILABLE, st.DETACHED
    row.updated_at = utcnow()


def _check_image_fits(image: dict[str, Any], size: int) -> None:
    """400 when the image's data, virtual size or min_disk does not fit `size` GB."""
    data_gb = math.ceil((image.get("size") or 0) / GiB)
    if data_gb > size:
        raise errors.BadRequest(
            f"Invalid input received: Size of specified image {data_gb}GB is larger than "
            f"volume size {size}GB."
        )
    virtual = image.get("virtual_size")
    if isinstance(virtual, int) and math.ceil(virtual / GiB) > size:
        raise errors.BadRequest(
            f"Invalid input received: Image virtual size is {math.ceil(virtual / GiB)}GB and "
            f"doesn't fit in a volume of size {size}GB."
        )
    min_disk = int(image.get("min_disk") or 0)
    if min_disk > size:
        raise errors.BadRequest(
            f"Invalid input received: Volume size {size}GB cannot be smaller than the image "
            f"minDisk size {min_disk}GB."
        )


def image_metadata(image: dict[str, Any]) -> dict[str, str]:
    """What Cinder copies from an image into volume_image_metadata."""
    skip = {
        "id",
        "name",
        "status",
        "visibility",
        "owner",
        "tags",
        "locations",
        "file",
        "schema",
        "self",
        "direct_url",
        "created_at",
        "updated_at",
        "os_hidden",
        "protected",
        "os_hash_algo",
        "os_hash_value",
        "virtual_size",
        "stores",
    }
    out = {
        "image_id": str(image["id"]),
        "image_name": str(image.get("name") or ""),
    }
    for key, value in image.items():
        if key not in skip and value is not None and not isinstance(value, (list, dict)):
            out[key] = str(value)
    return out


def ids(rows: Sequence[m.Volume]) -> list[str]:
    return [r.id for r in rows]
