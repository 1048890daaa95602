"""Volumes on this host: attach, detach, and detach-all when a server is deleted.

Where it sits: the compute API reserved a Cinder attachment and wrote the block device
mapping (status attaching) before casting here. The agent then hands the volume service this
host's connector (attachment update → connection info), plugs the disk through the driver,
and completes the attachment (volume in-use). Any failure undoes every step: the disk is
unplugged, the attachment deleted (volume available), the mapping removed. Detach is the
reverse; a failed unplug leaves the volume attached (mapping back to attached).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import delete, select

from ministack.common import errors
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.task import instance_task
from ministack.compute.virt.driver import BlockDevice, NbdSource
from ministack.volume.client import VolumeApi

log = logging.getLogger("ministack.compute.agent")

# block device mapping status (compute_block_device_mappings.status)
ATTACHING = "attaching"
ATTACHED = "attached"
DETACHING = "detaching"


def connector(agent: AgentBase, device_name: str) -> dict[str, Any]:
    """This host's connector, as os-brick describes a compute host to Cinder; `machine` (the
    process's host name, shared by its fake hosts) tells the volume service whether this host
    can open the volume's file or needs it exported over NBD."""
    return {
        "host": agent.host,
        "machine": agent.deps.settings.hostname,
        "platform": "x86_64",
        "os_type": "linux",
        "multipath": False,
        "initiator": f"iqn.2026-01.org.ministack:{agent.host}",
        "mountpoint": device_name,
    }


def block_device(bdm: m.BlockDeviceMapping, info: dict[str, Any]) -> BlockDevice:
    data = info.get("data") or {}
    nbd = None
    if info.get("driver_volume_type") == "nbd":
        nbd = NbdSource(
            host=str(data["host"]),
            port=int(data["port"]),
            name=str(data["name"]),
            identity=str(data["auth_username"]),
            key=str(data["auth_password"]),
        )
    return BlockDevice(
        volume_id=bdm.volume_id or "",
        path=str(data.get("device_path", "")),
        device=bdm.device_name,
        read_only=data.get("access_mode") == "ro",
        format=str(data.get("format") or "raw"),
        nbd=nbd,
    )


def _client(agent: AgentBase) -> VolumeApi:
    if agent.deps.volumes is None:
        raise RuntimeError("no volume service is configured for this host")
    return agent.deps.volumes


async def _mapping(agent: AgentBase, uuid: str, volume_id: str) -> m.BlockDeviceMapping | None:
    async with agent.db.session() as s:
        return (
            await s.execute(
                select(m.BlockDeviceMapping).where(
                    m.BlockDeviceMapping.instance_uuid == uuid,
                    m.BlockDeviceMapping.volume_id == volume_id,
                )
            )
        ).scalar_one_or_none()


async def _set(agent: AgentBase, bdm_id: int, **values: Any) -> None:
    async with agent.db.writer() as s:
        row = await s.get(m.BlockDeviceMapping, bdm_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)


async def _forget(agent: AgentBase, bdm_id: int) -> None:
    async with agent.db.writer() as s:
        await s.execute(delete(m.BlockDeviceMapping).where(m.BlockDeviceMapping.id == bdm_id))


async def _plug(agent: AgentBase, bdm: m.BlockDeviceMapping) -> dict[str, Any]:
    """Connect, plug and complete; on failure unplug what was plugged and raise."""
    client = _client(agent)
    assert bdm.attachment_id is not None
    att = await client.attachment_update(
        bdm.project_id, bdm.attachment_id, connector(agent, bdm.device_name)
    )
    info: dict[str, Any] = att.get("connection_info") or {}
    device = block_device(bdm, info)
    try:
        await agent.driver.attach_volume(bdm.instance_uuid, device)
    except Exception:
        # a plug the hypervisor half-did (or did before a restart) must not stay behind
        with contextlib.suppress(Exception):
            await agent.driver.detach_volume(bdm.instance_uuid, device)
        raise
    try:
        await client.attachment_complete(bdm.project_id, bdm.attachment_id)
    except Exception:
        await agent.driver.detach_volume(bdm.instance_uuid, device)
        raise
    return info


async def attach(agent: AgentBase, uuid: str, volume_id: str, *, later: bool = False) -> None:
    """Attach the volume the API reserved; on failure nothing stays half-attached (the event
    records why). `later`: when the volume service is not answering yet (a restart), the
    mapping stays attaching for the next try. Never raises."""
    async with instance_task(agent, uuid, "compute_attach_volume", on_failure=None):
        bdm = await _mapping(agent, uuid, volume_id)
        if bdm is None or bdm.status != ATTACHING:
            return
        try:
            info = await _plug(agent, bdm)
        except errors.ServiceUnavailable:
            if not later:
                await _undo_reservation(agent, bdm)
            raise
        except Exception:
            await _undo_reservation(agent, bdm)
            raise
        await _set(agent, bdm.id, status=ATTACHED, connection_info=info)


async def _undo_reservation(agent: AgentBase, bdm: m.BlockDeviceMapping) -> None:
    try:
        if bdm.attachment_id is not None:
            await _client(agent).attachment_delete(bdm.project_id, bdm.attachment_id)
    finally:
        await _forget(agent, bdm.id)


async def detach(agent: AgentBase, uuid: str, volume_id: str, *, later: bool = False) -> None:
    """Unplug the volume and delete its attachment (volume available). When the guest keeps
    the disk, the mapping goes back to attached and the event says why; `later`: when the
    volume service is not answering yet, the mapping stays detaching. Never raises."""
    async with instance_task(agent, uuid, "compute_detach_volume", on_failure=None):
        bdm = await _mapping(agent, uuid, volume_id)
        if bdm is None or bdm.status != DETACHING:
            return
        try:
            await agent.driver.detach_volume(uuid, block_device(bdm, bdm.connection_info or {}))
        except Exception:
            await _set(agent, bdm.id, status=ATTACHED)
            raise
        if later and bdm.attachment_id is not None:
            await _client(agent).attachment_delete(bdm.project_id, bdm.attachment_id)
        await _undo_reservation(agent, bdm)


async def release_all(agent: AgentBase, uuid: str) -> None:
    """After the guest is destroyed: delete every attachment of the instance, delete the
    volumes marked delete_on_termination, forget the mappings. A volume service error is
    logged, the rest carries on (an admin can force-detach on the volume side)."""
    async with agent.db.session() as s:
        rows = (
            (
                await s.execute(
                    select(m.BlockDeviceMapping).where(m.BlockDeviceMapping.instance_uuid == uuid)
                )
            )
            .scalars()
            .all()
        )
    for bdm in rows:
        try:
            client = _client(agent)
            if bdm.attachment_id is not None:
                await client.attachment_delete(bdm.project_id, bdm.attachment_id)
            if bdm.delete_on_termination and bdm.volume_id:
                await client.delete(bdm.project_id, bdm.volume_id)
        except Exception as exc:
            log.warning("releasing volume %s of %s failed: %s", bdm.volume_id, uuid, exc)
        await _forget(agent, bdm.id)


RESUME_TRIES = 30
RESUME_PAUSE = 1.0
_LATER: set[asyncio.Task[None]] = set()


def resume_later(agent: AgentBase, uuids: list[str]) -> None:
    """`resume` in the background, retried while the volume service is not answering yet
    (it may start after compute in this very process), RESUME_TRIES times."""
    task = asyncio.create_task(_resume_until_done(agent, uuids), name="resume-volumes")
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)


async def _resume_until_done(agent: AgentBase, uuids: list[str]) -> None:
    for attempt in range(RESUME_TRIES):
        if not await resume(agent, uuids, later=attempt < RESUME_TRIES - 1):
            return
        await asyncio.sleep(RESUME_PAUSE)


async def resume(agent: AgentBase, uuids: list[str], *, later: bool = False) -> bool:
    """At agent start (reconcile): an attach or detach the agent was killed in (or whose cast
    was lost) is run again; each ends attached-and-in-use or undone, detached or attached
    (`later`: or stays, while the volume service does not answer). True when some are
    still in progress."""
    if not uuids:
        return False
    async with agent.db.session() as s:
        rows = (
            (
                await s.execute(
                    select(m.BlockDeviceMapping).where(
                        m.BlockDeviceMapping.instance_uuid.in_(uuids),
                        m.BlockDeviceMapping.status.in_((ATTACHING, DETACHING)),
                    )
                )
            )
            .scalars()
            .all()
        )
    pending = False
    for bdm in rows:
        if bdm.volume_id is None or bdm.attachment_id is None:
            continue  # a boot volume of a build: agent/block_devices.py owns it
        if bdm.status == ATTACHING:
            await attach(agent, bdm.instance_uuid, bdm.volume_id, later=later)
        else:
            await detach(agent, bdm.instance_uuid, bdm.volume_id, later=later)
        after = await _mapping(agent, bdm.instance_uuid, bdm.volume_id)
        pending = pending or (after is not None and after.status in (ATTACHING, DETACHING))
    return pending


async def extended(agent: AgentBase, uuid: str, volume_id: str) -> None:
    """volume-extended: grow the attached volume to the size the volume service now says,
    through the driver, so the running guest sees it; recorded as the server's extend_volume
    action (as Nova does). Never raises (the event records a failure)."""
    bdm = await _mapping(agent, uuid, volume_id)
    if bdm is None or bdm.status != ATTACHED:
        return
    await instances.add_action(agent.db, uuid, "extend_volume", "", bdm.project_id)
    async with instance_task(agent, uuid, "compute_extend_volume", on_failure=None):
        volume = await _client(agent).get(bdm.project_id, volume_id)
        device = block_device(bdm, bdm.connection_info or {})
        await agent.driver.extend_volume(uuid, device, int(volume["size"]) * 1024**3)
