"""A server's volume connections when its guest leaves a host or arrives on one.

Where it sits: shelve offload (`agent/shelve.py`) calls `disconnect` once the guest is
destroyed; unshelve, evacuate, a cold migration's finish and revert, and a live migration's
arrival call `connect` on the host the guest now runs on, before (or instead of) the spawn.
As Nova does with Cinder's attachments API: the instance's attachment is replaced by a new one
(reserved, for `disconnect`; with this host's connector and completed, for `connect`) and the
old one deleted, so the volume never looks free to another server meanwhile. The mapping rows
stay `attached` (os-volume_attachments keeps listing them) with the new attachment id and
connection info.

Failure contract: `connect` raises naming the volume; a new attachment it made for a volume
whose step failed is deleted (the old one stays), so a retry starts from what is recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from ministack.compute import models as m
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.volumes import ATTACHED, block_device, connector
from ministack.compute.virt.driver import BlockDevice
from ministack.volume.client import VolumeApi

log = logging.getLogger("ministack.compute.agent")


async def _attached(agent: AgentBase, uuid: str) -> list[m.BlockDeviceMapping]:
    """The instance's attached volumes, the root (boot index 0) first."""
    async with agent.db.session() as s:
        rows = (
            await s.execute(
                select(m.BlockDeviceMapping)
                .where(
                    m.BlockDeviceMapping.instance_uuid == uuid,
                    m.BlockDeviceMapping.status == ATTACHED,
                    m.BlockDeviceMapping.volume_id.is_not(None),
                    m.BlockDeviceMapping.attachment_id.is_not(None),
                )
                .order_by(m.BlockDeviceMapping.id)
            )
        ).scalars()
        return sorted(rows, key=lambda b: (b.boot_index is None, b.boot_index or 0, b.id))


async def _record(agent: AgentBase, bdm_id: int, attachment_id: str, info: Any) -> None:
    async with agent.db.writer() as s:
        row = await s.get(m.BlockDeviceMapping, bdm_id)
        if row is not None:
            row.attachment_id, row.connection_info = attachment_id, info


def _client(agent: AgentBase) -> VolumeApi:
    if agent.deps.volumes is None:
        raise RuntimeError("no volume service is configured for this host")
    return agent.deps.volumes


async def current(agent: AgentBase, uuid: str) -> tuple[BlockDevice, ...]:
    """The attached volumes as connected now (a live migration's incoming guest is defined
    with them; `connect` moves the attachments once the guest runs here)."""
    return tuple(block_device(b, b.connection_info or {}) for b in await _attached(agent, uuid))


async def connect(agent: AgentBase, uuid: str) -> tuple[BlockDevice, ...]:
    """Connect every attached volume of `uuid` to this host (new attachment with this host's
    connector, completed; the old one deleted); the devices to spawn with, root first."""
    devices: list[BlockDevice] = []
    for bdm in await _attached(agent, uuid):
        assert bdm.volume_id is not None and bdm.attachment_id is not None
        client = _client(agent)
        hers = connector(agent, bdm.device_name)
        try:
            att = await client.attachment_create(bdm.project_id, bdm.volume_id, uuid, hers)
        except Exception as exc:
            raise RuntimeError(f"Volume {bdm.volume_id} could not be connected: {exc}") from exc
        new_id = str(att["id"])
        try:
            await client.attachment_complete(bdm.project_id, new_id)
        except Exception as exc:
            await client.attachment_delete(bdm.project_id, new_id)
            raise RuntimeError(f"Volume {bdm.volume_id} could not be connected: {exc}") from exc
        info: dict[str, Any] = att.get("connection_info") or {}
        await client.attachment_delete(bdm.project_id, bdm.attachment_id)
        await _record(agent, bdm.id, new_id, info)
        devices.append(block_device(bdm, info))
    return tuple(devices)


async def disconnect(agent: AgentBase, uuid: str) -> None:
    """Terminate the volume connections of `uuid` (its guest is gone from this host): each
    attachment is replaced by a reserved one, so the volumes stay the server's. A volume
    service error is logged and that volume keeps its old attachment."""
    for bdm in await _attached(agent, uuid):
        assert bdm.volume_id is not None and bdm.attachment_id is not None
        try:
            client = _client(agent)
            att = await client.attachment_create(bdm.project_id, bdm.volume_id, uuid, None)
            await client.attachment_delete(bdm.project_id, bdm.attachment_id)
            await _record(agent, bdm.id, str(att["id"]), None)
        except Exception as exc:
            log.warning("disconnecting volume %s of %s failed: %s", bdm.volume_id, uuid, exc)
