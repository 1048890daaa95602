"""Shelve, offload and unshelve on this host (Nova's shelve extension).

shelve: the API moved the instance to task_state shelving and queued the image
`<name>-shelved`; here the guest is stopped, its disk uploaded into that image
(shelving_image_pending_upload → shelving_image_uploading) and the instance is SHELVED with
`shelved_at`, `shelved_image_id` and `shelved_host` in its system_metadata. With
`shelved_offload_time` 0 it is offloaded at once.

offload (shelving_offloading): the guest is destroyed, its volume connections terminated
(the attachments stay, reserved: the volumes remain the server's), its ports' host binding
cleared (device kept) and the host's placement allocation released; the instance has no host
and is SHELVED_OFFLOADED. A server booted from a volume is offloaded at once (no image).
The periodic `offload_expired` offloads servers shelved longer than `shelved_offload_time`
(unless it is -1).

unshelve (unshelving): the conductor chose this host (or the instance never left it); the
guest is started again (still here) or spawned from the shelved image (or its root volume),
with its ports bound and its volumes connected to this host; the shelved image is deleted.
A spawn that fails leaves nothing here: the allocation is released and the instance is
SHELVED_OFFLOADED again, with the reason in the action's events.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ministack.common.db import utcnow
from ministack.compute import instances, network_info, states
from ministack.compute import models as m
from ministack.compute.agent import connections, networking
from ministack.compute.agent.base import AgentBase, from_image, guest_spec
from ministack.compute.agent.task import InstanceTask, instance_task, reason_of
from ministack.compute.instances import Change
from ministack.compute.virt.driver import PowerState

log = logging.getLogger("ministack.compute.agent")

SHELVED_AT = "shelved_at"
SHELVED_IMAGE_ID = "shelved_image_id"
SHELVED_HOST = "shelved_host"
SHELVE_KEYS = (SHELVED_AT, SHELVED_IMAGE_ID, SHELVED_HOST)
_SHELVING = (
    states.SHELVING,
    states.SHELVING_IMAGE_PENDING_UPLOAD,
    states.SHELVING_IMAGE_UPLOADING,
)


async def shelve(agent: AgentBase, uuid: str, image_id: str | None, offload: bool) -> None:
    """Stop the guest and keep its disk as `image_id`; SHELVED (then offloaded when
    `offload`). On failure the image is deleted and the instance is back as it was, with the
    reason in the action's event. Never raises."""
    before: list[m.Instance] = []
    settled = False

    async def failed(task: InstanceTask, exc: Exception) -> None:
        if image_id is not None:
            await agent.deps.images.delete(image_id)
        was_active = not before or before[0].vm_state == states.ACTIVE
        if was_active:
            with contextlib.suppress(Exception):  # the event already holds the failure
                await agent.driver.power_on(uuid)
        vm_state = states.ACTIVE if was_active else states.STOPPED
        power = int(states.power_state_for(vm_state))
        back = Change(vm_state=vm_state, task_state=None, power_state=power)
        await task.settle(back, task_states=_SHELVING)

    event = "compute_shelve_instance"
    async with instance_task(agent, uuid, event, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.SHELVING:
            return
        before.append(inst)
        await task.open()
        await agent.driver.power_off(uuid)
        if image_id is not None:
            await _upload(agent, task, uuid, image_id)
        sysmeta = {
            **inst.system_metadata,
            SHELVED_AT: utcnow().isoformat(),
            SHELVED_IMAGE_ID: image_id,
            SHELVED_HOST: agent.host,
        }
        shelved = Change(
            vm_state=states.SHELVED,
            task_state=states.SHELVING_OFFLOADING if offload else None,
            power_state=int(PowerState.SHUTDOWN),
            system_metadata=sysmeta,
        )
        settled = await task.settle(shelved, task_states=_SHELVING)
    if offload and settled:
        await shelve_offload(agent, uuid)


async def _upload(agent: AgentBase, task: InstanceTask, uuid: str, image_id: str) -> None:
    pending = Change(task_state=states.SHELVING_IMAGE_PENDING_UPLOAD)
    await task.settle(pending, task_states=[states.SHELVING])
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "shelved"
        disk_format = await agent.driver.snapshot(uuid, dest)
        uploading = Change(task_state=states.SHELVING_IMAGE_UPLOADING)
        await task.settle(uploading, task_states=[states.SHELVING_IMAGE_PENDING_UPLOAD])
        await agent.deps.images.upload(image_id, dest, disk_format)


async def shelve_offload(agent: AgentBase, uuid: str) -> None:
    """Destroy the shelved guest and give the host's resources back: SHELVED_OFFLOADED with
    no host. On a driver failure the instance stays SHELVED (the reason in the event)."""

    async def failed(task: InstanceTask, exc: Exception) -> None:
        await task.settle(Change(task_state=None), task_states=[states.SHELVING_OFFLOADING])

    event = "compute_shelve_offload_instance"
    async with instance_task(agent, uuid, event, on_failure=failed) as task:
        await agent.driver.destroy(uuid)
        inst = await instances.get(agent.db, uuid)
        if inst is not None:
            await connections.disconnect(agent, uuid)
            await networking.clear_bindings(agent, inst)
        await agent.deps.placement.release(uuid)
        offloaded = Change(
            vm_state=states.SHELVED_OFFLOADED,
            task_state=None,
            power_state=int(PowerState.SHUTDOWN),
            host=None,
            node=None,
        )
        await task.settle(
            offloaded, vm_states=[states.SHELVED], task_states=[states.SHELVING_OFFLOADING]
        )


async def unshelve(agent: AgentBase, uuid: str) -> None:
    """Start the shelved guest again here, or spawn it from the shelved image; ACTIVE, with
    the shelved image deleted. Never raises."""
    found: list[m.Instance] = []
    unshelved, image_id = False, None

    async def failed(task: InstanceTask, exc: Exception) -> None:
        inst = found[0] if found else None
        if inst is None or inst.vm_state == states.SHELVED:
            await task.settle(Change(task_state=None), task_states=[states.UNSHELVING])
            return
        await agent.driver.destroy(uuid)
        await connections.disconnect(agent, uuid)
        await networking.clear_bindings(agent, inst)
        await agent.deps.placement.release(uuid)
        back = Change(vm_state=states.SHELVED_OFFLOADED, task_state=None, host=None, node=None)
        await task.settle(back, task_states=[states.UNSHELVING])
        log.warning("unshelve of %s on %s failed: %s", uuid, agent.host, reason_of(exc))

    event = "compute_unshelve_instance"
    async with instance_task(agent, uuid, event, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.UNSHELVING or inst.host != agent.host:
            return
        found.append(inst)
        await task.open()
        sysmeta: dict[str, Any] = dict(inst.system_metadata)
        image_id = sysmeta.get(SHELVED_IMAGE_ID)
        if inst.vm_state == states.SHELVED:
            await agent.driver.power_on(uuid)
        else:
            await networking.rebind(agent, inst)
            devices = await connections.connect(agent, uuid)
            spec = replace(guest_spec(inst), block_devices=devices)
            if image_id:  # the driver's snapshot: its own format and checksum
                spec = from_image(spec, await agent.deps.images.client.get(str(image_id)))
            info = network_info.info_of(inst)
            await agent.driver.spawn(networking.with_network(spec, info))
        done = Change(
            vm_state=states.ACTIVE,
            task_state=None,
            power_state=int(PowerState.RUNNING),
            launched_at=utcnow(),
            system_metadata={k: v for k, v in sysmeta.items() if k not in SHELVE_KEYS},
        )
        unshelved = await task.settle(done, task_states=[states.UNSHELVING])
    if unshelved and image_id:
        await _delete_image(agent, str(image_id))


async def _delete_image(agent: AgentBase, image_id: str) -> None:
    try:
        await agent.deps.images.delete(image_id)
    except Exception:
        log.exception("could not delete the shelved image %s", image_id)


async def offload_expired(agent: AgentBase) -> None:
    """The periodic pass: offload this host's servers shelved longer than
    `shelved_offload_time` (never when it is negative)."""
    limit = agent.deps.settings.compute.shelved_offload_time
    if limit < 0:
        return
    async with agent.db.session() as s:
        query = select(m.Instance).where(
            m.Instance.host == agent.host,
            m.Instance.deleted.is_(False),
            m.Instance.vm_state == states.SHELVED,
            m.Instance.task_state.is_(None),
        )
        rows = list((await s.execute(query)).scalars())
    now = utcnow()
    for inst in rows:
        shelved_at = dt.datetime.fromisoformat(str(inst.system_metadata.get(SHELVED_AT) or now))
        if (now - shelved_at).total_seconds() < limit:
            continue
        if await instances.cas(
            agent.db,
            inst.uuid,
            vm_states=[states.SHELVED],
            task_states=[None],
            change=Change(task_state=states.SHELVING_OFFLOADING),
        ):
            await shelve_offload(agent, inst.uuid)


async def resume_offloads(agent: AgentBase) -> None:
    """After a restart: a SHELVED server caught in shelving_offloading is offloaded again
    (destroy and release are idempotent), so it never ends ERROR for a guest it meant to
    destroy. Runs before the host's reconcile, whose rule for the state is "clear"."""
    async with agent.db.session() as s:
        query = select(m.Instance.uuid).where(
            m.Instance.host == agent.host,
            m.Instance.deleted.is_(False),
            m.Instance.vm_state == states.SHELVED,
            m.Instance.task_state == states.SHELVING_OFFLOADING,
        )
        uuids = list((await s.execute(query)).scalars())
    for uuid in uuids:
        await shelve_offload(agent, uuid)
