"""Rebuild of a volume-backed server (Nova 2.93): the new image is written onto its root volume
by the volume service (Cinder's os-reimage), not onto a local disk.

Where it sits: `lifecycle.rebuild` calls `reimage` once the old guest is destroyed, under task
state rebuild_block_device_mapping. As Nova does, the root volume's attachment is replaced by
a reserved one (no connector: the volume stays the server's, status reserved, while no host
has it open), the volume service is asked to re-image it and the agent waits for its
`volume-reimaged` event (up to `reimage_timeout_per_gb` seconds per GB); then the reserved
attachment gets this host's connector and is completed, and the spawn uses the new connection.

Failure contract: a timeout or a failed event raises naming the volume and the cause (the
instance goes ERROR with it as its fault). A volume the volume service is done with is
connected to this host again (its data is the old image's when the re-image failed: the
volume service replaces the data atomically); one still downloading after the timeout stays
held (reserved) and the next rebuild re-images it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from ministack.compute import models as m
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.events import InstanceEvents
from ministack.compute.agent.volumes import ATTACHED, connector
from ministack.volume.client import VolumeApi

log = logging.getLogger("ministack.compute.agent")

EVENT = "volume-reimaged"


class ReimageFailed(RuntimeError):
    """The root volume was not re-imaged (the message is the instance's fault)."""


async def root_mapping(agent: AgentBase, uuid: str) -> m.BlockDeviceMapping | None:
    """The attached root volume's mapping (boot index 0), None when the server has none."""
    async with agent.db.session() as s:
        rows = (
            await s.execute(
                select(m.BlockDeviceMapping).where(
                    m.BlockDeviceMapping.instance_uuid == uuid,
                    m.BlockDeviceMapping.boot_index == 0,
                    m.BlockDeviceMapping.status == ATTACHED,
                    m.BlockDeviceMapping.volume_id.is_not(None),
                )
            )
        ).scalars()
        return next(iter(rows), None)


async def _record(agent: AgentBase, bdm_id: int, attachment_id: str, info: Any) -> None:
    async with agent.db.writer() as s:
        row = await s.get(m.BlockDeviceMapping, bdm_id)
        if row is not None:
            row.attachment_id, row.connection_info = attachment_id, info


async def reimage(agent: AgentBase, uuid: str, image_id: str) -> None:
    """Write `image_id` onto the server's root volume and connect it to this host again.
    Raises ReimageFailed naming the cause; the volume is connected again in every case."""
    bdm = await root_mapping(agent, uuid)
    client = agent.deps.volumes
    if bdm is None or client is None or bdm.volume_id is None:
        raise ReimageFailed(f"Instance {uuid} has no attached root volume to re-image.")
    volume_id, project_id = bdm.volume_id, bdm.project_id
    held = await client.attachment_create(project_id, volume_id, uuid, None)
    held_id = str(held["id"])
    if bdm.attachment_id:
        await client.attachment_delete(project_id, bdm.attachment_id)
    await _record(agent, bdm.id, held_id, None)
    try:
        await _reimage_held(agent, client, uuid, bdm, image_id)
    except Exception:
        if (await client.get(project_id, volume_id))["status"] == "downloading":
            raise  # still being written (a timeout): held; the next rebuild re-images it
        await _connect(agent, client, bdm, held_id)  # its old data: the re-image failed
        raise
    await _connect(agent, client, bdm, held_id)


async def _connect(
    agent: AgentBase, client: VolumeApi, bdm: m.BlockDeviceMapping, attachment_id: str
) -> None:
    """The held attachment with this host's connector, completed (the volume in-use)."""
    project_id = bdm.project_id
    att = await client.attachment_update(
        project_id, attachment_id, connector(agent, bdm.device_name)
    )
    await client.attachment_complete(project_id, attachment_id)
    await _record(agent, bdm.id, attachment_id, att.get("connection_info") or {})


async def _reimage_held(
    agent: AgentBase, client: VolumeApi, uuid: str, bdm: m.BlockDeviceMapping, image_id: str
) -> None:
    assert bdm.volume_id is not None
    volume_id = bdm.volume_id
    size = int((await client.get(bdm.project_id, volume_id)).get("size") or 1)
    timeout = agent.deps.settings.compute.reimage_timeout_per_gb * max(1, size)
    events: InstanceEvents = agent.events
    with events.expect(uuid, EVENT, [volume_id]) as expected:
        try:
            await client.reimage(bdm.project_id, volume_id, image_id)
        except Exception as exc:
            raise ReimageFailed(
                f"The volume service refused to re-image volume {volume_id}: {exc}"
            ) from exc
        missing = await expected.wait(timeout)
        failed = expected.failed()
    if missing:
        raise ReimageFailed(
            f"Volume {volume_id} was not re-imaged within {timeout} s: no volume-reimaged "
            "event from the volume service (is its volume manager running?)."
        )
    if failed:
        vol = await client.get(bdm.project_id, volume_id)
        cause = vol.get("fault") or "the volume service gave no reason"
        raise ReimageFailed(f"Re-image of volume {volume_id} failed: {cause}")
