"""Rebuild, resize (source, destination, confirm, revert) and snapshot on this host.

Resize or cold migration to another host: the source guest is stopped and kept until the user
confirms (then destroyed) or reverts (then started again and the destination guest destroyed).
Placement holds both allocations in between, the source's under the migration's uuid (Nova's
migration consumer); confirm frees that one, revert frees the destination's and gives the
source's back to the server.

Resize on the same host (`[compute] allow_resize_to_same_host`): the one guest is stopped and
spawned again with the new flavor (the libvirt driver grows its disks and redefines it). The
allocation there already is the new flavor's; confirm keeps it, revert spawns the guest with the
old flavor again and claims the old flavor's allocation back. Disks never shrink: after a revert
the libvirt guest keeps the larger disks (its flavor and allocation are the old ones again).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from ministack.common.db import utcnow
from ministack.compute import instances, migration_records, states
from ministack.compute import models as m
from ministack.compute.agent import (
    block_devices,
    connections,
    migration_disk,
    networking,
    root_volume,
)
from ministack.compute.agent.base import AgentBase, guest_spec
from ministack.compute.agent.task import InstanceTask, error_with, instance_task, reason_of
from ministack.compute.claims import claim_flavor, drop_source, return_source
from ministack.compute.instances import Change

log = logging.getLogger("ministack.compute.agent")


def _settled(vm_state: str, **more: Any) -> Change:
    """Out of the task: `vm_state` with its usual power_state and no task_state."""
    power = int(states.power_state_for(vm_state))
    return Change(vm_state=vm_state, task_state=None, power_state=power, **more)


async def rebuild(
    agent: AgentBase, uuid: str, from_vm_state: str, reimage_image_id: str | None = None
) -> None:
    """Recreate the guest from the instance's (new) image; with `reimage_image_id` (a
    volume-backed server, Nova 2.93) that image is first written onto its root volume
    (root_volume.py). Task states as Nova's: rebuilding, rebuild_block_device_mapping,
    rebuild_spawning. A failure is ERROR with a fault."""
    failed = error_with("Rebuild failed")
    event = "compute_rebuild_instance"
    async with instance_task(agent, uuid, event, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.REBUILDING:
            return
        await task.open()
        await agent.driver.destroy(uuid)
        mapping = Change(task_state=states.REBUILD_BLOCK_DEVICE_MAPPING)
        await task.settle(mapping, task_states=[states.REBUILDING])
        if reimage_image_id:
            await root_volume.reimage(agent, uuid, reimage_image_id)
        spec = await block_devices.with_volumes(agent, guest_spec(inst))
        spawning = Change(task_state=states.REBUILD_SPAWNING)
        await task.settle(spawning, task_states=[states.REBUILD_BLOCK_DEVICE_MAPPING])
        await agent.driver.spawn(spec)
        if from_vm_state == states.STOPPED:
            await agent.driver.power_off(uuid)
        final = states.STOPPED if from_vm_state == states.STOPPED else states.ACTIVE
        await task.settle(
            _settled(
                final,
                fault=None,
                launched_at=utcnow(),
                system_metadata=instances.without_admin_pass(inst),
            ),
            task_states=[states.REBUILD_SPAWNING],
        )


async def resize_source(agent: AgentBase, uuid: str) -> None:
    """Stop the guest on the source host (kept for a revert); for another host, upload its
    disk into a migration image (migration_disk.py). Raises on a driver or upload failure,
    with the guest as it was and no image left."""
    event = "compute_resize_instance"
    async with instance_task(agent, uuid, event, on_failure=None, reraise=True) as task:
        inst = await instances.get(agent.db, uuid)
        await agent.driver.power_off(uuid)
        migrating = Change(task_state=states.RESIZE_MIGRATING)
        await task.settle(migrating, task_states=[states.RESIZE_PREP])
        dest = await migration_disk.destination(agent, uuid)
        if inst is None or dest in (None, agent.host):
            return
        try:
            await migration_disk.upload(agent, task, inst)
        except Exception:
            if inst.vm_state != states.STOPPED:
                with contextlib.suppress(Exception):  # the event holds the upload's failure
                    await agent.driver.power_on(uuid)
            raise


async def finish_resize(agent: AgentBase, uuid: str, source_host: str) -> None:
    """Start the guest with the new flavor here; the instance is VERIFY_RESIZE on success.
    On failure the allocation and the instance go back to the source, ERROR with a fault."""
    found: list[m.Instance] = []

    async def failed(task: InstanceTask, exc: Exception) -> None:
        inst = found[0]
        if source_host == agent.host:
            old = inst.system_metadata.get("old_flavor") or inst.flavor
            await claim_flavor(agent.deps.placement, uuid, agent.host, old, inst)
        else:
            await agent.deps.placement.release(uuid, agent.provider_uuid)
            await return_source(agent.deps.placement, agent.db, uuid, source_host)
        await _restore_source(agent, uuid, source_host, inst.system_metadata)
        await migration_disk.forget(agent, uuid)
        await migration_records.advance(agent.db, uuid, "error")
        await error_with("Resize failed")(task, exc)

    event = "compute_finish_resize"
    async with instance_task(agent, uuid, event, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None:
            return
        found.append(inst)
        await task.open()
        await networking.rebind(agent, inst)  # the ports follow the guest to this host
        devices = await connections.connect(agent, uuid)  # and its volumes
        spec = replace(guest_spec(inst), block_devices=devices)
        if source_host != agent.host:  # the source's disk, not a fresh one from the image
            spec = await migration_disk.spawn_spec(agent, spec, inst.system_metadata)
        await agent.driver.spawn(spec)
        await task.settle(
            _settled(states.RESIZED),
            task_states=[states.RESIZE_MIGRATING, states.RESIZE_FINISH],
        )
        await migration_records.advance(agent.db, uuid, "finished")


async def _restore_source(
    agent: AgentBase, uuid: str, source_host: str, sysmeta: dict[str, Any]
) -> None:
    old = sysmeta.get("old_flavor")
    if old:
        change = instances.with_flavor(old, host=source_host, node=source_host)
    else:
        change = Change(host=source_host, node=source_host)
    await instances.cas(agent.db, uuid, change=change)


def _final_after_resize(inst: m.Instance | None) -> str:
    """The vm_state the instance had before the resize (stopped stays stopped)."""
    old_vm = (inst.system_metadata if inst else {}).get("old_vm_state", states.ACTIVE)
    return states.STOPPED if old_vm == states.STOPPED else states.ACTIVE


async def confirm_resize(agent: AgentBase, uuid: str, source_host: str) -> None:
    """Destroy the source guest and free the source's allocation (runs on the source host).
    On the same host there is only the resized guest and its new allocation: both stay."""
    failed = error_with("Confirm resize failed")
    event = "compute_confirm_resize"
    async with instance_task(agent, uuid, event, on_failure=failed, lock=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is not None and inst.host != source_host:
            await agent.driver.destroy(uuid)
            await drop_source(agent.deps.placement, agent.db, uuid, source_host)
            await migration_disk.forget(agent, uuid)
        final = _final_after_resize(inst)
        await task.settle(_settled(final), task_states=[states.RESIZE_CONFIRMING])
        await migration_records.advance(agent.db, uuid, "confirmed")


async def revert_resize(agent: AgentBase, uuid: str, source_host: str) -> None:
    """On the destination: destroy the new guest, free this allocation, hand back to the
    source host, which starts the old guest again. On the same host: respawn the guest with
    the old flavor and claim its allocation back instead."""
    failed = error_with("Revert resize failed")
    handed_back = False
    async with instance_task(agent, uuid, "compute_revert_resize", on_failure=failed):
        inst = await instances.get(agent.db, uuid)
        sysmeta = inst.system_metadata if inst else {}
        if source_host != agent.host:
            await agent.driver.destroy(uuid)
            await agent.deps.placement.release(uuid, agent.provider_uuid)
            await return_source(agent.deps.placement, agent.db, uuid, source_host)
        await _restore_source(agent, uuid, source_host, sysmeta)
        if source_host == agent.host:
            await _respawn_old(agent, uuid)
        handed_back = True
    if handed_back:
        await agent.deps.agent(source_host).finish_revert_resize(uuid)


async def _respawn_old(agent: AgentBase, uuid: str) -> None:
    """Same-host revert: the guest again with the old flavor (already restored on the
    instance) and the old flavor's allocation. Raises when the driver fails."""
    inst = await instances.get(agent.db, uuid)
    if inst is None:
        raise RuntimeError("the instance is gone")
    await claim_flavor(agent.deps.placement, uuid, agent.host, inst.flavor, inst)
    await agent.driver.power_off(uuid)
    await agent.driver.spawn(await block_devices.with_volumes(agent, guest_spec(inst)))


async def finish_revert_resize(agent: AgentBase, uuid: str) -> None:
    """On the source: start the old guest again; the instance is back as it was (a driver
    failure is recorded in the event; the instance still leaves the task)."""
    event = "compute_finish_revert_resize"
    async with instance_task(agent, uuid, event, on_failure=None, lock=False) as task:
        inst = await instances.get(agent.db, uuid)
        final = _final_after_resize(inst)
        try:
            if inst is not None:
                await networking.rebind(agent, inst)  # the ports come back with the guest
                await connections.connect(agent, uuid)  # and its volumes
            if final != states.STOPPED:
                await agent.driver.power_on(uuid)
            else:
                await agent.driver.power_off(uuid)  # a same-host revert respawned it running
        except Exception as exc:
            task.error = reason_of(exc)
        await migration_disk.forget(agent, uuid)  # the source's own disk is back in use
        await task.settle(_settled(final), task_states=[states.RESIZE_REVERTING])
        await migration_records.advance(agent.db, uuid, "reverted")


async def snapshot(agent: AgentBase, uuid: str, image_id: str) -> None:
    """Write the guest's disk into the image `image_id` (queued by the API). On failure the
    image is deleted and the error is in the action's event; the instance is unchanged."""
    snapshotting = [states.IMAGE_SNAPSHOT, states.IMAGE_UPLOADING]

    async def failed(task: InstanceTask, exc: Exception) -> None:
        await agent.deps.images.delete(image_id)
        await task.settle(Change(task_state=None), task_states=snapshotting)

    event = "compute_snapshot_instance"
    async with instance_task(agent, uuid, event, on_failure=failed, lock=False) as task:
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "snapshot"
            uploading = Change(task_state=states.IMAGE_UPLOADING)
            await task.settle(uploading, task_states=[states.IMAGE_SNAPSHOT])
            disk_format = await agent.driver.snapshot(uuid, dest)
            await agent.deps.images.upload(image_id, dest, disk_format)
        await task.settle(Change(task_state=None), task_states=snapshotting)
