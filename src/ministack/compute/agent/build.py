"""Building an instance on this host: spawn through the driver, or give the instance back to
the conductor for another host (up to max_attempts), or ERROR with a fault saying why. An image
that cannot be booted (ImageUnusable) would fail on every host: that build is aborted at once
with the driver's reason as the fault (Nova's BuildAbortException for image errors); so is a
port never reported plugged (Nova does not reschedule VirtualInterfaceCreateException).

A server with NICs gets its ports made and bound here (agent/networking.py) before the spawn,
and is ACTIVE only once each port is reported plugged (network-vif-plugged) or, past
`vif_plugging_timeout`, fails with a fault naming the port.

On failure nothing is left behind on the host: the guest is destroyed, the ports compute made
deleted (the user's unbound) and this host's placement allocation released before the
instance moves on.
"""

from __future__ import annotations

import dataclasses
import logging

from ministack.common.db import utcnow
from ministack.compute import instances, network_info, states
from ministack.compute.agent import block_devices, networking
from ministack.compute.agent.base import AgentBase, guest_spec
from ministack.compute.agent.task import InstanceTask, instance_task, reason_of
from ministack.compute.instances import Change
from ministack.compute.virt.driver import ImageUnusable, PowerState

log = logging.getLogger("ministack.compute.agent")
EVENT = "compute__do_build_and_run_instance"
BUILT = Change(vm_state=states.ACTIVE, task_state=None, power_state=int(PowerState.RUNNING))


async def build_and_run(agent: AgentBase, uuid: str, attempt: int, tried: list[str]) -> None:
    """Spawn the instance here. Never raises: every outcome is written to the instance."""

    async def failed(task: InstanceTask, exc: Exception) -> None:
        await _undo(agent, uuid)
        # Nova's BuildAbortException: another host would fail the same way
        aborts = ImageUnusable | networking.VifPlugTimeout | block_devices.VolumeSetupFailed
        if isinstance(exc, aborts):
            await _abort(agent, uuid, reason_of(exc))
        else:
            await _retry_or_fail(agent, uuid, attempt, [*tried, agent.host], reason_of(exc))

    async with instance_task(agent, uuid, EVENT, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.host != agent.host or inst.task_state != states.SCHEDULING:
            # Deleted (or moved) while it was on its way here: drop what was claimed for it.
            await agent.deps.placement.release(uuid, agent.provider_uuid)
            return
        spec = guest_spec(inst)
        if not await task.open(
            Change(task_state=states.SPAWNING),
            vm_states=[states.BUILDING],
            task_states=[states.SCHEDULING],
            on_host=agent.host,
        ):
            return
        devices = await block_devices.prepare(agent, inst)
        if devices:
            spec = dataclasses.replace(spec, block_devices=devices)
        info = await networking.allocate(agent, inst)
        if info:
            await networking.remember(agent, uuid, info)
        async with networking.plugged(agent, uuid, info):
            await agent.driver.spawn(networking.with_network(spec, info))
        # The guest holds the admin password now; it is kept nowhere else (a reschedule
        # before this point still needs it).
        fresh = await instances.get(agent.db, uuid)
        forget = instances.without_admin_pass(fresh or inst)
        await task.finish(
            Change(**BUILT.values(), launched_at=utcnow(), system_metadata=forget),
            vm_states=[states.BUILDING],
            task_states=[states.SPAWNING],
        )


async def _undo(agent: AgentBase, uuid: str) -> None:
    try:
        await agent.driver.destroy(uuid)
    except Exception:
        log.exception("could not clean up failed build of %s", uuid)
    inst = await instances.get(agent.db, uuid)
    try:
        if inst is not None:
            await network_info.release(agent.deps.network, inst)
            await networking.remember(agent, uuid, [])
    except Exception:
        log.exception("could not release the ports of failed build of %s", uuid)
    await block_devices.detach(agent, uuid)
    await agent.deps.placement.release(uuid, agent.provider_uuid)


async def _abort(agent: AgentBase, uuid: str, reason: str) -> None:
    """ERROR without a reschedule: `reason` (an ImageUnusable message) is the fault."""
    if await instances.cas(
        agent.db, uuid, vm_states=[states.BUILDING], task_states=[states.SPAWNING]
    ):
        await instances.set_error(agent.db, uuid, f"Build of instance {uuid} aborted: {reason}")
        await block_devices.discard(agent, uuid)


async def _retry_or_fail(
    agent: AgentBase, uuid: str, attempt: int, tried: list[str], reason: str
) -> None:
    max_attempts = agent.deps.settings.compute.max_attempts
    if attempt < max_attempts and await instances.cas(
        agent.db,
        uuid,
        vm_states=[states.BUILDING],
        task_states=[states.SPAWNING],
        change=Change(task_state=states.SCHEDULING, host=None, node=None),
    ):
        await agent.deps.conductor.build_instances([uuid], attempt + 1, tried)
        return
    message = (
        "Exceeded maximum number of retries. Exceeded max scheduling attempts "
        f"{max_attempts} for instance {uuid}. Last exception: {reason}"
    )
    if await instances.cas(
        agent.db, uuid, vm_states=[states.BUILDING], task_states=[states.SPAWNING]
    ):
        await instances.set_error(agent.db, uuid, message)
        await block_devices.discard(agent, uuid)
