"""Attachments of volumes to instances (Cinder's attachments API, what Nova drives):
reserve, connect (connection info from the volume's manager), complete, delete. Used by the
API handlers and by the in-process client alike.

Statuses: an attachment is reserved (no connector yet), attaching (connector given,
connection info handed out), attached (complete); the volume follows (`refresh_attach_status`):
reserved, attaching, in-use, and available again when its last attachment is deleted.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.rpc.base import RpcError
from ministack.volume import models as m
from ministack.volume import states as st
from ministack.volume.core import VolumeCore

log = logging.getLogger("ministack.volume.attachments")
Connected = tuple[m.Attachment, dict[str, Any] | None]


async def load(s: AsyncSession, auth: Auth, attachment_id: str) -> m.Attachment:
    att = await s.get(m.Attachment, attachment_id)
    if att is None or not (auth.reads_all or att.project_id == auth.project_id):
        raise errors.NotFound(f"Volume attachment {attachment_id} could not be found.")
    return att


async def _connect(
    core: VolumeCore, volume: m.Volume, att: m.Attachment, connector: dict[str, Any]
) -> dict[str, Any]:
    """Connection info from the volume's manager; a silent manager is 503."""
    try:
        info = await core.manager(volume.host).initialize_connection(
            volume.id, connector, att.id, att.attach_mode == "ro"
        )
    except RpcError as exc:
        raise errors.ServiceUnavailable(
            f"The volume service of host {volume.host} did not answer: {exc}"
        ) from None
    info.setdefault("data", {})["access_mode"] = att.attach_mode
    info["attachment_id"] = att.id
    return info


async def create(
    core: VolumeCore,
    auth: Auth,
    volume_id: str,
    instance_uuid: str | None,
    connector: dict[str, Any] | None,
    mode: str = "rw",
) -> Connected:
    """A new attachment: reserved, or attaching with connection info when a connector is
    given. 400 when the volume is not available (or attached and not multiattach)."""
    async with core.db.writer() as s:
        volume = await core.volume(s, auth, volume_id)
        ok = (st.AVAILABLE, st.IN_USE, st.RESERVED) if volume.multiattach else (st.AVAILABLE,)
        if volume.status not in ok and not await _same_instance(s, volume, instance_uuid):
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume.id} status must be available or downloading "
                f"to reserve, but the current status is {volume.status}."
            )
        now = utcnow()
        att = m.Attachment(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            project_id=volume.project_id,
            instance_uuid=instance_uuid,
            attach_mode=mode,
            attach_status=st.ATTACHING_STATUS if connector else st.RESERVED_STATUS,
            connector=connector,
            attached_host=(connector or {}).get("host"),
            mountpoint=(connector or {}).get("mountpoint"),
            created_at=now,
            updated_at=now,
        )
        s.add(att)
        await s.flush()
        await core.refresh_attach_status(s, volume)
    info = await _connect(core, volume, att, connector) if connector else None
    return att, info


async def _same_instance(s: AsyncSession, volume: m.Volume, instance_uuid: str | None) -> bool:
    """Cinder's override: a volume in use or reserved by `instance_uuid` may take another
    attachment for that instance (compute moving its connection to another host)."""
    if instance_uuid is None or volume.status not in (st.IN_USE, st.RESERVED):
        return False
    query = select(m.Attachment.id).where(
        m.Attachment.volume_id == volume.id, m.Attachment.instance_uuid == instance_uuid
    )
    return (await s.execute(query.limit(1))).first() is not None


async def update(
    core: VolumeCore, auth: Auth, attachment_id: str, connector: dict[str, Any]
) -> Connected:
    """Give the attachment the host's connector: attaching, with the connection info."""
    async with core.db.writer() as s:
        att = await load(s, auth, attachment_id)
        volume = await core.volume(s, auth, att.volume_id)
        if att.attach_status not in (st.RESERVED_STATUS, st.ATTACHING_STATUS, st.ATTACHED):
            raise errors.BadRequest(
                f"Invalid volume attachment: attachment {att.id} is {att.attach_status}."
            )
        att.connector = connector
        att.attached_host = connector.get("host")
        att.mountpoint = connector.get("mountpoint") or att.mountpoint
        if att.attach_status != st.ATTACHED:
            att.attach_status = st.ATTACHING_STATUS
        att.updated_at = utcnow()
        await s.flush()
        await core.refresh_attach_status(s, volume)
    return att, await _connect(core, volume, att, connector)


async def complete(core: VolumeCore, auth: Auth, attachment_id: str) -> None:
    """The compute host attached it: attached, the volume in-use."""
    async with core.db.writer() as s:
        att = await load(s, auth, attachment_id)
        volume = await core.volume(s, auth, att.volume_id)
        if att.connector is None:
            raise errors.BadRequest(
                f"Invalid volume attachment: attachment {att.id} has no connector yet; "
                "update it with the host's connector first."
            )
        att.attach_status, att.attach_time, att.updated_at = st.ATTACHED, utcnow(), utcnow()
        await s.flush()
        await core.refresh_attach_status(s, volume)


async def delete(core: VolumeCore, auth: Auth, attachment_id: str) -> list[m.Attachment]:
    """Remove the attachment; the volume is available again when none is left. Returns the
    volume's remaining attachments."""
    async with core.db.writer() as s:
        att = await load(s, auth, attachment_id)
        volume = await core.volume(s, auth, att.volume_id)
        await s.delete(att)
        await s.flush()
        await core.refresh_attach_status(s, volume)
        left = (
            (await s.execute(select(m.Attachment).where(m.Attachment.volume_id == volume.id)))
            .scalars()
            .all()
        )
    await _disconnect(core, volume.host, attachment_id)
    return list(left)


async def _disconnect(core: VolumeCore, host: str | None, attachment_id: str) -> None:
    """Stop the attachment's export; a silent manager removes it when it next reconciles."""
    try:
        await core.manager(host).terminate_connection(attachment_id)
    except RpcError as exc:
        log.warning(
            "the volume service of %s did not stop attachment %s: %s", host, attachment_id, exc
        )
