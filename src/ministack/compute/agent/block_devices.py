"""The volumes a server boots with (block_device_mapping_v2), on this host, before the spawn.

Where it sits: the compute API wrote the mappings with the instance (`creating`: compute makes
the volume from an image, a snapshot or blank; `pending`: the user's existing volume). The
build (`agent/build.py`) calls `prepare`: each volume is made through the volume client
(claiming the project's volume quota), waited for until available, attached with this host's
connector and completed (in-use), and handed to the driver as a `BlockDevice` (the root volume
as /dev/vda). Every step is written to the mapping row first, so an undo knows what exists.

On a failed build `detach` gives the volumes back (attachments deleted, rows back to
`pending`/`creating`) so another host can try; when the build ends in ERROR `discard` deletes
the volumes compute made and forgets the mappings: nothing is left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from sqlalchemy import delete, select

from ministack.compute import models as m
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.volumes import ATTACHED, ATTACHING, block_device, connector
from ministack.compute.states import BDM_CREATING, BDM_PENDING, BDM_TRANSITIONAL_BY_STATUS
from ministack.compute.virt.driver import BlockDevice, GuestSpec
from ministack.volume.client import VolumeApi, VolumeRequest

log = logging.getLogger("ministack.compute.agent")
POLL = 0.2


class VolumeSetupFailed(Exception):
    """A boot volume could not be made or attached: the build is aborted (no other host
    would do better) and the message, naming the volume, is the fault."""


def _client(agent: AgentBase) -> VolumeApi:
    if agent.deps.volumes is None:
        raise VolumeSetupFailed("no volume service is configured for this host")
    return agent.deps.volumes


async def mappings(agent: AgentBase, uuid: str) -> list[m.BlockDeviceMapping]:
    """The instance's mappings, the root first."""
    async with agent.db.session() as s:
        rows = (
            await s.execute(
                select(m.BlockDeviceMapping)
                .where(m.BlockDeviceMapping.instance_uuid == uuid)
                .order_by(m.BlockDeviceMapping.id)
            )
        ).scalars()
        return sorted(rows, key=lambda b: (b.boot_index is None, b.boot_index or 0, b.id))


async def _set(agent: AgentBase, bdm: m.BlockDeviceMapping, **values: Any) -> None:
    async with agent.db.writer() as s:
        row = await s.get(m.BlockDeviceMapping, bdm.id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)
                setattr(bdm, key, value)


def _what(bdm: m.BlockDeviceMapping) -> str:
    if bdm.volume_id:
        return f"Volume {bdm.volume_id}"
    source = bdm.image_id or bdm.snapshot_id or "nothing"
    return f"The volume for {bdm.device_name} (from {bdm.source_type} {source})"


async def _make(agent: AgentBase, inst: m.Instance, bdm: m.BlockDeviceMapping) -> str:
    req = VolumeRequest(
        size=bdm.volume_size,
        name=f"{inst.uuid}-blockdevice-{bdm.device_name.removeprefix('/dev/')}",
        image_id=bdm.image_id,
        snapshot_id=bdm.snapshot_id,
        volume_type=bdm.volume_type,
    )
    made = await _client(agent).create(inst.project_id, req)
    await _set(agent, bdm, volume_id=str(made["id"]))
    return str(made["id"])


async def _wait_available(agent: AgentBase, project_id: str, volume_id: str) -> None:
    limit = BDM_TRANSITIONAL_BY_STATUS[BDM_CREATING].timeout
    deadline = time.monotonic() + limit
    while True:
        vol = await _client(agent).get(project_id, volume_id)
        if vol["status"] == "available":
            return
        if vol["status"] == "error":
            fault = vol.get("fault") or "the volume service set it to error"
            raise VolumeSetupFailed(f"Volume {volume_id} did not become available: {fault}")
        if time.monotonic() > deadline:
            raise VolumeSetupFailed(
                f"Volume {volume_id} was still {vol['status']} after {limit:.0f} s."
            )
        await asyncio.sleep(POLL)


async def _attach(agent: AgentBase, uuid: str, bdm: m.BlockDeviceMapping) -> BlockDevice:
    assert bdm.volume_id is not None
    client = _client(agent)
    await _set(agent, bdm, status=ATTACHING)
    att = await client.attachment_create(
        bdm.project_id, bdm.volume_id, uuid, connector(agent, bdm.device_name)
    )
    await _set(agent, bdm, attachment_id=str(att["id"]))
    info: dict[str, Any] = att.get("connection_info") or {}
    await client.attachment_complete(bdm.project_id, str(att["id"]))
    await _set(agent, bdm, status=ATTACHED, connection_info=info)
    return block_device(bdm, info)


async def prepare(agent: AgentBase, inst: m.Instance) -> tuple[BlockDevice, ...]:
    """Make, wait for and attach every boot volume of `inst`; the devices to spawn with, the
    root first. Raises VolumeSetupFailed naming the volume; what was done stays recorded on
    the rows for `detach`/`discard`."""
    devices: list[BlockDevice] = []
    for bdm in await mappings(agent, inst.uuid):
        if bdm.status == ATTACHED:  # attached before (os-volume_attachments, a rebuild)
            devices.append(block_device(bdm, bdm.connection_info or {}))
            continue
        try:
            volume_id = bdm.volume_id or await _make(agent, inst, bdm)
            await _wait_available(agent, bdm.project_id, volume_id)
            devices.append(await _attach(agent, inst.uuid, bdm))
        except VolumeSetupFailed:
            raise
        except Exception as exc:
            raise VolumeSetupFailed(f"{_what(bdm)} could not be set up: {exc}") from exc
    return tuple(devices)


async def with_volumes(agent: AgentBase, spec: GuestSpec) -> GuestSpec:
    """`spec` with the instance's attached volumes (its root volume first): a guest
    recreated by rebuild, resize or revert keeps its disks."""
    devices = tuple(
        block_device(b, b.connection_info or {})
        for b in await mappings(agent, spec.uuid)
        if b.status == ATTACHED and b.volume_id
    )
    return dataclasses.replace(spec, block_devices=devices) if devices else spec


async def detach(agent: AgentBase, uuid: str) -> None:
    """After a failed spawn: delete the boot attachments (volumes available again) and put
    the rows back as the API wrote them, so another host can take them up. Never raises."""
    for bdm in await mappings(agent, uuid):
        if bdm.status not in (ATTACHING, ATTACHED):
            continue
        try:
            if bdm.attachment_id:
                await _client(agent).attachment_delete(bdm.project_id, bdm.attachment_id)
            status = BDM_PENDING if bdm.volume_id else BDM_CREATING
            await _set(agent, bdm, status=status, attachment_id=None, connection_info=None)
        except Exception:
            log.exception("could not detach volume %s of failed build %s", bdm.volume_id, uuid)


async def discard(agent: AgentBase, uuid: str) -> None:
    """The build ended in ERROR: delete the attachments, the volumes compute made (and the
    user's marked delete_on_termination), and the mappings. Errors are logged."""
    client = agent.deps.volumes
    for bdm in await mappings(agent, uuid):
        try:
            if client is not None and bdm.attachment_id:
                await client.attachment_delete(bdm.project_id, bdm.attachment_id)
            made = bdm.source_type in ("image", "snapshot", "blank")
            if client is not None and bdm.volume_id and (made or bdm.delete_on_termination):
                await _delete_when_settled(client, bdm.project_id, bdm.volume_id)
        except Exception as exc:
            log.warning("discarding volume %s of %s failed: %s", bdm.volume_id, uuid, exc)
        async with agent.db.writer() as s:
            await s.execute(delete(m.BlockDeviceMapping).where(m.BlockDeviceMapping.id == bdm.id))


_LATER: set[asyncio.Task[None]] = set()


def discard_later(agent: AgentBase, uuid: str) -> None:
    """`discard` in the background: at start the volume service (perhaps in this very
    process, started after compute) must first move a volume it was making out of
    `creating` before it can be deleted."""
    task = asyncio.create_task(discard(agent, uuid), name=f"discard-volumes-{uuid}")
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)


async def _delete_when_settled(client: VolumeApi, project_id: str, volume_id: str) -> None:
    """Delete a volume, first waiting (briefly) for one still being made to settle."""
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        vol = await client.get(project_id, volume_id)
        if vol["status"] not in ("creating", "downloading", "attaching", "detaching"):
            break
        await asyncio.sleep(POLL)
    await client.delete(project_id, volume_id)
