"""The volume manager (Cinder's cinder-volume): serves topic "cinder-volume" for its host,
does the backend work the API cast and moves each volume or snapshot out of its transitional
status; at start it applies the restart rules of `states.TRANSITIONAL` (PROMISES 4 and 5).

Where it sits: volume API → `rpcapi.manager.VolumeManagerAPI` → here → `backends` → files.
Every failure leaves the row in an error status with a fault and nothing half-made in the
backend (a failed create also gives its quota back).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from ministack.common import errors
from ministack.common.db import Database, utcnow
from ministack.common.rpc.payload import receives
from ministack.compute.client import ComputeClient
from ministack.image.client import ImageApi
from ministack.volume import core
from ministack.volume import models as m
from ministack.volume import states as st
from ministack.volume.backends.base import Backend, BackendError
from ministack.volume.core import exported, refresh_attach_status
from ministack.volume.exports import NbdExports
from ministack.volume.rpcapi.manager import (
    AttachmentRef,
    Connector,
    CreateVolume,
    ExtendVolume,
    ReimageVolume,
    SnapshotRef,
    UploadToImage,
    VolumeRef,
)

log = logging.getLogger("ministack.volume.manager")
REAP_INTERVAL = 60.0  # seconds between passes over the transitional-state timeouts
RESTART_FAULT = "The volume service restarted while this operation ran; nothing was kept."
REIMAGE_RESTART_FAULT = (
    "The volume service restarted while re-imaging this volume; it keeps its previous data."
)


def _check_size(image: dict[str, Any], data: Path) -> None:
    """The direct path's integrity check: the stored file has the size the image service
    recorded (its md5 is verified when stored and on every streamed download, not here: a
    whole re-read would cost more than the copy it saves)."""
    size = data.stat().st_size
    if image.get("size") is not None and size != int(image["size"]):
        raise errors.InternalError(
            f"Image {image['id']} data does not match its size and checksum as stored "
            f"({size} bytes, {image['size']} recorded); upload the image again."
        )


def _link_or_copy(source: Path, dest: Path) -> bool:
    """The image store's file as `dest` without streaming it: a hard link (images never
    change in place; the volume's base then shares the store's blocks), or an in-kernel copy
    across filesystems. False when the file is gone (deleted meanwhile): download it."""
    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
    except FileNotFoundError:
        return False
    except OSError:  # another filesystem (EXDEV) or links not allowed
        try:
            shutil.copyfile(source, dest)
        except FileNotFoundError:
            return False
    return True


def _fault(exc: BaseException) -> str:
    if isinstance(exc, (BackendError, errors.ApiError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class VolumeManager:
    """RPC endpoint of one host's volume manager."""

    def __init__(
        self,
        db: Database,
        backend: Backend,
        images: ImageApi,
        host: str,
        compute: ComputeClient | None = None,
        exports: NbdExports | None = None,
        nbd_for_local: bool = False,
    ) -> None:
        self.db = db
        self.backend = backend
        self.images = images
        self.host = host
        self.compute = compute
        """Where the volume-extended event goes (None: no compute to tell)."""
        self.exports = exports
        """NBD exports for compute hosts on other machines (None: file paths only)."""
        self.nbd_for_local = nbd_for_local

    # --- volumes -------------------------------------------------------------------------

    @receives(CreateVolume)
    async def create_volume(self, p: CreateVolume) -> None:
        async with self.db.session() as s:
            row = await s.get(m.Volume, p.volume_id)
            if row is None or row.status != st.CREATING:
                return
            size = row.size
        try:
            if p.image_id:
                await self._from_image(p.volume_id, p.image_id, size)
            elif p.snapshot_id:
                await self.backend.create_from_snapshot(p.volume_id, p.snapshot_id, size)
            elif p.source_volid:
                await self.backend.clone(p.volume_id, p.source_volid, size)
            else:
                await self.backend.create_blank(p.volume_id, size)
        except Exception as exc:
            log.warning("creating volume %s failed: %s", p.volume_id, exc)
            await self.backend.delete_volume(p.volume_id)
            await self._set(p.volume_id, status=st.ERROR, fault=_fault(exc), consumes_quota=False)
            return
        await self._finish_create(p)

    async def _from_image(self, volume_id: str, image_id: str, size: int) -> None:
        await self._set(volume_id, status=st.DOWNLOADING)
        await self._write_image(volume_id, image_id, size, self.backend.create_from_file)

    async def _write_image(
        self, volume_id: str, image_id: str, size: int, write: Callable[..., Awaitable[None]]
    ) -> None:
        """Fetch the image (a link to the image store's file when it is on this machine,
        else a download) and hand it to `write` (the backend's create_from_file or reimage);
        the volume's image metadata becomes the image's."""
        image = await self.images.get(image_id)
        scratch = self.backend.scratch(f"image-{image_id}")
        started = time.monotonic()
        try:
            local = await self.images.local_file(image_id)
            if local is None or not await asyncio.to_thread(_link_or_copy, local, scratch):
                await self.images.download(image_id, scratch)
            else:
                _check_size(image, scratch)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        fetched = time.monotonic()
        fmt = str(image.get("disk_format") or "raw")
        await write(volume_id, size, scratch, fmt)
        log.info(
            "volume %s from image %s (%s): fetched in %.2f s, written in %.2f s",
            volume_id,
            image_id,
            fmt,
            fetched - started,
            time.monotonic() - fetched,
        )
        async with self.db.writer() as s:
            await s.execute(
                delete(m.VolumeMetadata).where(
                    m.VolumeMetadata.volume_id == volume_id, m.VolumeMetadata.kind == "image"
                )
            )
            for key, value in core.image_metadata(image).items():
                s.add(m.VolumeMetadata(volume_id=volume_id, kind="image", key=key, value=value))

    @receives(ReimageVolume)
    async def reimage(self, p: ReimageVolume) -> None:
        """Write the image onto the volume (os-reimage; the API moved it to downloading),
        then back to `restore_status`, bootable. On failure the volume keeps its old data and
        goes back to its status too, with the reason as its fault. Either way the server
        holding it (reimage_reserved) is told volume-reimaged, completed or failed."""
        async with self.db.session() as s:
            row = await s.get(m.Volume, p.volume_id)
            if row is None or row.status != st.DOWNLOADING:
                return
            size = row.size
        fault: str | None = None
        try:
            await self._write_image(p.volume_id, p.image_id, size, self.backend.reimage)
        except Exception as exc:
            log.warning("re-imaging volume %s failed: %s", p.volume_id, exc)
            fault = f"Re-imaging volume {p.volume_id} with image {p.image_id} failed: {_fault(exc)}"
        change: dict[str, Any] = {"status": p.restore_status, "fault": fault}
        if fault is None:
            change["bootable"] = True
        await self._set(p.volume_id, only_from=st.DOWNLOADING, **change)
        if p.reimage_reserved and self.compute is not None:
            status = "failed" if fault else "completed"
            for instance_uuid in await self._held_by(p.volume_id):
                await self.compute.external_event(
                    instance_uuid, "volume-reimaged", p.volume_id, status
                )

    async def _held_by(self, volume_id: str) -> list[str]:
        """The instances with an attachment of the volume, in any status."""
        async with self.db.session() as s:
            q = select(m.Attachment.instance_uuid).where(m.Attachment.volume_id == volume_id)
            return sorted({u for u in (await s.execute(q)).scalars().all() if u})

    async def _finish_create(self, p: CreateVolume) -> None:
        """Available, bootable and with image metadata as its source had (a volume made
        from a bootable volume or its snapshot is bootable too)."""
        source_id = p.source_volid or await self._snapshot_volume(p.snapshot_id)
        async with self.db.writer() as s:
            row = await s.get(m.Volume, p.volume_id)
            if row is None or row.status not in (st.CREATING, st.DOWNLOADING):
                return  # deleted or reset meanwhile; the delete removes the data
            if p.image_id:
                row.bootable = True
            src = await s.get(m.Volume, source_id) if source_id else None
            if src is not None:
                row.bootable = row.bootable or src.bootable
                meta = await s.execute(
                    select(m.VolumeMetadata).where(
                        m.VolumeMetadata.volume_id == src.id, m.VolumeMetadata.kind == "image"
                    )
                )
                for item in list(meta.scalars()):
                    await s.merge(
                        m.VolumeMetadata(
                            volume_id=row.id, kind="image", key=item.key, value=item.value
                        )
                    )
            row.status, row.launched_at, row.updated_at = st.AVAILABLE, utcnow(), utcnow()

    async def _snapshot_volume(self, snapshot_id: str | None) -> str | None:
        async with self.db.session() as s:
            snap = await s.get(m.Snapshot, snapshot_id) if snapshot_id else None
            return snap.volume_id if snap else None

    @receives(VolumeRef)
    async def delete_volume(self, p: VolumeRef) -> None:
        try:
            await self.backend.delete_volume(p.volume_id)
        except Exception as exc:
            await self._set(p.volume_id, status=st.ERROR_DELETING, fault=_fault(exc))
            return
        async with self.db.writer() as s:
            await s.execute(
                delete(m.VolumeMetadata).where(m.VolumeMetadata.volume_id == p.volume_id)
            )
            await s.execute(delete(m.Transfer).where(m.Transfer.volume_id == p.volume_id))
            await s.execute(delete(m.Volume).where(m.Volume.id == p.volume_id))

    async def _attached_to(self, volume_id: str) -> list[str]:
        """The instances the volume is attached to (attachments complete on a host)."""
        async with self.db.session() as s:
            q = select(m.Attachment.instance_uuid).where(
                m.Attachment.volume_id == volume_id, m.Attachment.attach_status == st.ATTACHED
            )
            return [u for u in (await s.execute(q)).scalars().all() if u]

    @receives(ExtendVolume)
    async def extend_volume(self, p: ExtendVolume) -> None:
        """Grow the volume; an attached one is grown by the hypervisor that holds it open
        (Nova's volume-extended event: libvirt's blockResize), not under its feet."""
        compute = self.compute
        try:
            told = False
            if compute is not None:
                for instance_uuid in await self._attached_to(p.volume_id):
                    told |= await compute.external_event(
                        instance_uuid, "volume-extended", p.volume_id
                    )
            if not told:  # detached, or attached to no server compute knows: grow it here
                await self.backend.extend(p.volume_id, p.new_size)
        except Exception as exc:
            await self._extend_failed(p.volume_id, _fault(exc))
            return
        async with self.db.writer() as s:
            row = await s.get(m.Volume, p.volume_id)
            if row is not None and row.status == st.EXTENDING:
                row.status = st.IN_USE if row.attach_status == st.ATTACHED else st.AVAILABLE
                row.previous_size, row.updated_at = None, utcnow()

    async def _extend_failed(self, volume_id: str, fault: str) -> None:
        async with self.db.writer() as s:
            row = await s.get(m.Volume, volume_id)
            if row is not None:
                row.size = row.previous_size or row.size
                row.previous_size = None
                row.status, row.fault, row.updated_at = st.ERROR_EXTENDING, fault, utcnow()

    @receives(UploadToImage)
    async def upload_to_image(self, p: UploadToImage) -> None:
        scratch = self.backend.scratch(f"upload-{p.image_id}")
        try:
            await self.backend.export(p.volume_id, scratch, p.disk_format)
            await self.images.upload_file(p.image_id, scratch)
        except Exception as exc:
            log.warning("upload of volume %s failed: %s", p.volume_id, exc)
            await self.images.delete(p.image_id)
        finally:
            scratch.unlink(missing_ok=True)
        await self._set(p.volume_id, status=p.restore_status, only_from=st.UPLOADING)

    @receives(Connector)
    async def initialize_connection(self, p: Connector) -> dict[str, Any]:
        """The volume's file for a compute host on this machine; an NBD export (TLS-PSK)
        for one elsewhere, which names its machine in the connector (`exports.py`)."""
        local = await self.backend.connection_info(p.volume_id, p.connector)
        if self.exports is None or p.attachment_id is None or not self._remote(p.connector):
            return local
        path = Path(local["data"]["device_path"])
        return await self.exports.ensure(p.attachment_id, p.volume_id, path, p.read_only)

    def _remote(self, connector: dict[str, Any]) -> bool:
        return exported(connector, self.host, self.nbd_for_local)

    @receives(AttachmentRef)
    async def terminate_connection(self, p: AttachmentRef) -> None:
        if self.exports is not None:
            await self.exports.remove(p.attachment_id)

    async def reconcile_exports(self) -> None:
        """Serve the exports of live attachments again and remove the others (at start and
        after each reaper pass: an attachment a force-detach or reset removed)."""
        if self.exports is None:
            return
        found = self.exports.attachment_ids()  # before the rows: a newer export is not judged
        async with self.db.session() as s:
            q = select(m.Attachment.id).where(m.Attachment.id.in_(found))
            live = set((await s.execute(q)).scalars().all())
        await self.exports.reconcile(found, live)

    # --- snapshots -----------------------------------------------------------------------

    @receives(SnapshotRef)
    async def create_snapshot(self, p: SnapshotRef) -> None:
        async with self.db.session() as s:
            snap = await s.get(m.Snapshot, p.snapshot_id)
            if snap is None or snap.status != st.CREATING:
                return
            volume_id = snap.volume_id
            volume = await s.get(m.Volume, volume_id)
            live = volume is not None and volume.status == st.IN_USE
        try:
            await self.backend.create_snapshot(volume_id, p.snapshot_id, live=live)
        except Exception as exc:
            await self.backend.delete_snapshot(p.snapshot_id)
            await self._set_snapshot(p.snapshot_id, st.ERROR, _fault(exc))
            return
        await self._set_snapshot(p.snapshot_id, st.AVAILABLE, None, progress="100%")

    @receives(SnapshotRef)
    async def delete_snapshot(self, p: SnapshotRef) -> None:
        try:
            await self.backend.delete_snapshot(p.snapshot_id)
        except Exception as exc:
            await self._set_snapshot(p.snapshot_id, st.ERROR_DELETING, _fault(exc))
            return
        async with self.db.writer() as s:
            await s.execute(delete(m.Snapshot).where(m.Snapshot.id == p.snapshot_id))

    # --- rows ----------------------------------------------------------------------------

    async def _set(self, volume_id: str, only_from: str | None = None, **change: Any) -> None:
        async with self.db.writer() as s:
            row = await s.get(m.Volume, volume_id)
            if row is None or (only_from is not None and row.status != only_from):
                return
            for key, value in change.items():
                setattr(row, key, value)
            row.updated_at = utcnow()

    async def _set_snapshot(
        self, snapshot_id: str, status: str, fault: str | None, progress: str | None = None
    ) -> None:
        async with self.db.writer() as s:
            snap = await s.get(m.Snapshot, snapshot_id)
            if snap is None:
                return
            snap.status, snap.fault, snap.updated_at = status, fault, utcnow()
            if progress is not None:
                snap.progress = progress

    # --- restart -------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Apply each transitional status's restart rule to this host's volumes and snapshots
        (states.TRANSITIONAL), then remove data nothing references any more."""
        volume_rules = st.rows("volume")
        async with self.db.session() as s:
            vols = (
                await s.execute(
                    select(m.Volume.id, m.Volume.status).where(
                        m.Volume.host == self.host, m.Volume.status.in_(list(volume_rules))
                    )
                )
            ).all()
            snap_rules = st.rows("snapshot")
            snaps = (
                await s.execute(
                    select(m.Snapshot.id, m.Snapshot.status)
                    .join(m.Volume, m.Volume.id == m.Snapshot.volume_id)
                    .where(m.Volume.host == self.host, m.Snapshot.status.in_(list(snap_rules)))
                )
            ).all()
        for snap_id, status in snaps:
            await self._restart_snapshot(snap_id, snap_rules[status].restart)
        for volume_id, status in vols:
            await self._restart_volume(volume_id, volume_rules[status].restart)
        await self.reconcile_exports()

    async def _restart_volume(self, volume_id: str, rule: str) -> None:
        log.info("volume %s: restart rule %s", volume_id, rule)
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "error": lambda: self._restart_error(volume_id),
            "resume_delete": lambda: self.delete_volume(VolumeRef(volume_id).to_wire()),
            "restore": lambda: self._restore(volume_id),
            "error_extending": lambda: self._extend_failed(volume_id, RESTART_FAULT),
        }
        action = actions.get(rule)
        if action is not None:
            await action()

    # --- timeouts ------------------------------------------------------------------------

    async def reap(self, now: dt.datetime | None = None) -> list[str]:
        """Move on every resource of this host that outstayed its status's timeout
        (states.TRANSITIONAL): the manager's work → error, error_deleting, error_extending or
        restored; a compute host's attach that never completed → its attachment dropped and
        the volume's status taken from the attachments left. Returns the ids moved."""
        now = now or utcnow()
        moved: list[str] = []
        async with self.db.session() as s:
            vols = (
                await s.execute(
                    select(m.Volume.id, m.Volume.status, m.Volume.updated_at).where(
                        m.Volume.host == self.host,
                        m.Volume.status.in_([t.status for t in st.TRANSITIONAL]),
                    )
                )
            ).all()
            snaps = (
                await s.execute(
                    select(m.Snapshot.id, m.Snapshot.status, m.Snapshot.updated_at)
                    .join(m.Volume, m.Volume.id == m.Snapshot.volume_id)
                    .where(m.Volume.host == self.host)
                )
            ).all()
        volume_rules, snap_rules = st.rows("volume"), st.rows("snapshot")
        for volume_id, status, updated in vols:
            row = volume_rules[status]
            if now - updated > dt.timedelta(seconds=row.timeout):
                await self._expire_volume(volume_id, row, now)
                moved.append(volume_id)
        for snap_id, status, updated in snaps:
            srow = snap_rules.get(status)
            if srow is not None and now - updated > dt.timedelta(seconds=srow.timeout):
                fault = f"Snapshot {status} took longer than {srow.timeout:.0f} s."
                final = st.ERROR_DELETING if status == st.DELETING else st.ERROR
                await self._set_snapshot(snap_id, final, fault)
                moved.append(snap_id)
        return moved

    async def _expire_volume(self, volume_id: str, row: st.Transitional, now: dt.datetime) -> None:
        fault = f"The volume stayed {row.status} longer than {row.timeout:.0f} s."
        if row.owner == "compute host":
            await self._drop_unfinished_attachments(
                volume_id, now - dt.timedelta(seconds=row.timeout)
            )
        elif row.restart == "error":
            if not await self._reimage_interrupted(volume_id, fault):
                await self._set(volume_id, status=st.ERROR, fault=fault, consumes_quota=False)
        elif row.restart == "resume_delete":
            await self._set(volume_id, status=st.ERROR_DELETING, fault=fault)
        elif row.restart == "error_extending":
            await self._extend_failed(volume_id, fault)
        else:
            await self._restore(volume_id)

    async def _drop_unfinished_attachments(self, volume_id: str, cutoff: dt.datetime) -> None:
        async with self.db.writer() as s:
            await s.execute(
                delete(m.Attachment).where(
                    m.Attachment.volume_id == volume_id,
                    m.Attachment.attach_status != st.ATTACHED,
                    m.Attachment.updated_at < cutoff,
                )
            )
            volume = await s.get(m.Volume, volume_id)
            if volume is not None:
                await s.flush()
                await refresh_attach_status(s, volume)

    async def run_reaper(self, interval: float = REAP_INTERVAL) -> None:
        """Reap every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reap()
                await self.reconcile_exports()
            except Exception:
                log.exception("volume reaper pass failed")

    async def _restart_error(self, volume_id: str) -> None:
        if await self._reimage_interrupted(volume_id, REIMAGE_RESTART_FAULT):
            return
        await self.backend.delete_volume(volume_id)
        await self._set(volume_id, status=st.ERROR, fault=RESTART_FAULT, consumes_quota=False)

    async def _reimage_interrupted(self, volume_id: str, fault: str) -> bool:
        """A volume downloading after it was once made (launched_at) was being re-imaged:
        its old data is intact (the new data replaces it atomically), so it goes back to the
        status its attachments give it (reserved for a server's rebuild), the reason as its
        fault. False for a volume being created."""
        async with self.db.writer() as s:
            row = await s.get(m.Volume, volume_id)
            if row is None or row.status != st.DOWNLOADING or row.launched_at is None:
                return False
            await refresh_attach_status(s, row)
            row.fault = fault
        return True

    async def _restore(self, volume_id: str) -> None:
        async with self.db.writer() as s:
            row = await s.get(m.Volume, volume_id)
            if row is not None:
                row.status = st.IN_USE if row.attach_status == st.ATTACHED else st.AVAILABLE
                row.updated_at = utcnow()

    async def _restart_snapshot(self, snapshot_id: str, rule: str) -> None:
        if rule == "resume_delete":
            await self.delete_snapshot(SnapshotRef(snapshot_id).to_wire())
        elif rule == "error":
            await self.backend.delete_snapshot(snapshot_id)
            await self._set_snapshot(snapshot_id, st.ERROR, RESTART_FAULT)
