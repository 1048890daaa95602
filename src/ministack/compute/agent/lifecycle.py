"""Rebuild, resize (source, destination, confirm, revert) and snapshot on this host.

Resize to another host: the source guest is stopped and kept until the user confirms (then
destroyed) or reverts (then started again and the destination guest destroyed). Placement holds
the instance's allocation on both providers in between; confirm frees the source's, revert the
destination's.

Resize on the same host (`[compute] allow_resize_to_same_host`): the one guest is stopped and
spawned again with the new flavor (the libvirt driver grows its disks and redefines it). The
allocation there already is the new flavor's; confirm keeps it, revert spawns the guest with the
old flavor again and claims the old flavor's allocation back. Disks never shrink: after a revert
the libvirt guest keeps the larger disks (its flavor and allocation are the old ones again).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from ministack.common.db import utcnow
from ministack.compute import instances, states
from ministack.compute.agent.base import AgentBase, guest_spec, node_uuid
from ministack.compute.resize import claim_flavor
from ministack.compute.virt.driver import PowerState

log = logging.getLogger("ministack.compute.agent")


async def rebuild(agent: AgentBase, uuid: str, from_vm_state: str) -> None:
    """Recreate the guest from the instance's (new) image. A failure is ERROR with a fault."""
    async with agent.locks[uuid]:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.REBUILDING:
            return
        event = await instances.start_event(agent.db, uuid, "compute_rebuild_instance", agent.host)
        try:
            await agent.driver.destroy(uuid)
            await instances.cas(
                agent.db, uuid, task_states=[states.REBUILDING], task_state=states.REBUILD_SPAWNING
            )
            spec = guest_spec(inst)
            await instances.forget_admin_pass(agent.db, uuid)
            await agent.driver.spawn(spec)
            if from_vm_state == states.STOPPED:
                await agent.driver.power_off(uuid)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            await instances.finish_event(agent.db, event, reason)
            await instances.set_error(agent.db, uuid, f"Rebuild failed: {reason}")
            return
        final = states.STOPPED if from_vm_state == states.STOPPED else states.ACTIVE
        await instances.cas(
            agent.db,
            uuid,
            task_states=[states.REBUILD_SPAWNING],
            vm_state=final,
            task_state=None,
            power_state=int(states.power_state_for(final)),
            fault=None,
            launched_at=utcnow(),
        )
        await instances.finish_event(agent.db, event)


async def resize_source(agent: AgentBase, uuid: str) -> None:
    """Stop the guest on the source host (kept for a revert). Raises on a driver failure."""
    async with agent.locks[uuid]:
        event = await instances.start_event(agent.db, uuid, "compute_resize_instance", agent.host)
        try:
            await agent.driver.power_off(uuid)
        except Exception as exc:
            await instances.finish_event(agent.db, event, str(exc))
            raise
        await instances.cas(
            agent.db, uuid, task_states=[states.RESIZE_PREP], task_state=states.RESIZE_MIGRATING
        )
        await instances.finish_event(agent.db, event)


async def finish_resize(agent: AgentBase, uuid: str, source_host: str) -> None:
    """Start the guest with the new flavor here; the instance is VERIFY_RESIZE on success."""
    async with agent.locks[uuid]:
        inst = await instances.get(agent.db, uuid)
        if inst is None:
            return
        event = await instances.start_event(agent.db, uuid, "compute_finish_resize", agent.host)
        try:
            await agent.driver.spawn(guest_spec(inst))
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            await instances.finish_event(agent.db, event, reason)
            if source_host == agent.host:
                old = inst.system_metadata.get("old_flavor") or inst.flavor
                await claim_flavor(agent.deps.placement, uuid, agent.host, old, inst)
            else:
                await agent.deps.placement.release(uuid, agent.provider_uuid)
            await _restore_source(agent, uuid, source_host, inst.system_metadata)
            await instances.set_error(agent.db, uuid, f"Resize failed: {reason}")
            return
        await instances.cas(
            agent.db,
            uuid,
            task_states=[states.RESIZE_MIGRATING, states.RESIZE_FINISH],
            vm_state=states.RESIZED,
            task_state=None,
            power_state=int(PowerState.RUNNING),
        )
        await instances.finish_event(agent.db, event)


async def _restore_source(
    agent: AgentBase, uuid: str, source_host: str, sysmeta: dict[str, Any]
) -> None:
    old = sysmeta.get("old_flavor")
    values: dict[str, Any] = {"host": source_host, "node": source_host}
    if old:
        values.update(flavor=old, vcpus=old["vcpus"], memory_mb=old["ram"], root_gb=old["disk"])
    await instances.cas(agent.db, uuid, **values)


async def confirm_resize(agent: AgentBase, uuid: str, source_host: str) -> None:
    """Destroy the source guest and free the source's allocation (runs on the source host).
    On the same host there is only the resized guest and its new allocation: both stay."""
    event = await instances.start_event(agent.db, uuid, "compute_confirm_resize", agent.host)
    inst = await instances.get(agent.db, uuid)
    if inst is not None and inst.host != source_host:
        await agent.driver.destroy(uuid)
        await agent.deps.placement.release(uuid, node_uuid(source_host))
    old_vm = (inst.system_metadata if inst else {}).get("old_vm_state", states.ACTIVE)
    final = states.STOPPED if old_vm == states.STOPPED else states.ACTIVE
    await instances.cas(
        agent.db,
        uuid,
        task_states=[states.RESIZE_CONFIRMING],
        vm_state=final,
        task_state=None,
        power_state=int(states.power_state_for(final)),
    )
    await instances.finish_event(agent.db, event)


async def revert_resize(agent: AgentBase, uuid: str, source_host: str) -> None:
    """On the destination: destroy the new guest, free this allocation, hand back to the
    source host, which starts the old guest again. On the same host: respawn the guest with
    the old flavor and claim its allocation back instead."""
    async with agent.locks[uuid]:
        event = await instances.start_event(agent.db, uuid, "compute_revert_resize", agent.host)
        inst = await instances.get(agent.db, uuid)
        sysmeta = inst.system_metadata if inst else {}
        if source_host != agent.host:
            await agent.driver.destroy(uuid)
            await agent.deps.placement.release(uuid, agent.provider_uuid)
        await _restore_source(agent, uuid, source_host, sysmeta)
        if source_host == agent.host and not await _respawn_old(agent, uuid, event):
            return
        await instances.finish_event(agent.db, event)
    await agent.deps.bus.cast(
        "compute", "finish_revert_resize", server=source_host, instance_uuid=uuid
    )


async def _respawn_old(agent: AgentBase, uuid: str, event: int | None) -> bool:
    """Same-host revert: the guest again with the old flavor (already restored on the
    instance) and the old flavor's allocation. False, with the instance ERROR, on failure."""
    inst = await instances.get(agent.db, uuid)
    if inst is None:
        return False
    await claim_flavor(agent.deps.placement, uuid, agent.host, inst.flavor, inst)
    try:
        await agent.driver.power_off(uuid)
        await agent.driver.spawn(guest_spec(inst))
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        await instances.finish_event(agent.db, event, reason)
        await instances.set_error(agent.db, uuid, f"Revert resize failed: {reason}")
        return False
    return True


async def finish_revert_resize(agent: AgentBase, uuid: str) -> None:
    """On the source: start the old guest again; the instance is back as it was."""
    event = await instances.start_event(agent.db, uuid, "compute_finish_revert_resize", agent.host)
    inst = await instances.get(agent.db, uuid)
    old_vm = (inst.system_metadata if inst else {}).get("old_vm_state", states.ACTIVE)
    error = None
    try:
        if old_vm != states.STOPPED:
            await agent.driver.power_on(uuid)
        else:
            await agent.driver.power_off(uuid)  # a same-host revert respawned it running
    except Exception as exc:
        error = str(exc) or type(exc).__name__
    final = states.STOPPED if old_vm == states.STOPPED else states.ACTIVE
    await instances.cas(
        agent.db,
        uuid,
        task_states=[states.RESIZE_REVERTING],
        vm_state=final,
        task_state=None,
        power_state=int(states.power_state_for(final)),
    )
    await instances.finish_event(agent.db, event, error)


async def snapshot(agent: AgentBase, uuid: str, image_id: str) -> None:
    """Write the guest's disk into the image `image_id` (queued by the API). On failure the
    image is deleted and the error is in the action's event; the instance is unchanged."""
    event = await instances.start_event(agent.db, uuid, "compute_snapshot_instance", agent.host)
    error = None
    images = agent.deps.images
    try:
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "snapshot"
            await instances.cas(
                agent.db,
                uuid,
                task_states=[states.IMAGE_SNAPSHOT],
                task_state=states.IMAGE_UPLOADING,
            )
            disk_format = await agent.driver.snapshot(uuid, dest)
            if images is None:
                raise RuntimeError("the image service is not reachable from this host")
            await images.upload(image_id, dest, disk_format)
    except Exception as exc:
        error = str(exc) or type(exc).__name__
        log.warning("snapshot of %s failed: %s", uuid, error)
        if images is not None:
            await images.delete(image_id)
    await instances.cas(
        agent.db,
        uuid,
        task_states=[states.IMAGE_SNAPSHOT, states.IMAGE_UPLOADING],
        task_state=None,
    )
    await instances.finish_event(agent.db, event, error)
