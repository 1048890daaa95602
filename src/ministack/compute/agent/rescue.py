"""Rescue, unrescue and crash dumps on this host.

rescue (task_state rescuing): the driver boots the rescue image with the server's own disk
attached second (RESCUED, running); on a driver failure the server is back as it was, with
the reason in the action's event. unrescue (unrescuing) boots the original guest again:
ACTIVE, as Nova leaves it whatever it was before the rescue. trigger_crash_dump sends the
guest an NMI; its outcome is the action's event.
"""

from __future__ import annotations

from dataclasses import replace

from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.agent import connections
from ministack.compute.agent.base import AgentBase, guest_spec
from ministack.compute.agent.task import InstanceTask, instance_task
from ministack.compute.instances import Change
from ministack.compute.rpcapi.agent_lifecycle import Rescue
from ministack.compute.virt.driver import PowerState


async def rescue(agent: AgentBase, req: Rescue) -> None:
    """Never raises: every outcome is written to the instance and its events."""
    found: list[m.Instance] = []

    async def back(task: InstanceTask, exc: Exception) -> None:
        before = found[0].vm_state if found else states.ACTIVE
        await task.settle(Change(vm_state=before, task_state=None), task_states=[states.RESCUING])

    event = "compute_rescue_instance"
    async with instance_task(agent, req.instance_uuid, event, on_failure=back) as task:
        inst = await instances.get(agent.db, req.instance_uuid)
        if inst is None or inst.task_state != states.RESCUING:
            return
        found.append(inst)
        spec = replace(
            guest_spec(inst),
            image_id=req.image_id,
            image_format=req.image_format,
            admin_password=req.admin_password,
            block_devices=await connections.current(agent, inst.uuid),
        )
        await agent.driver.rescue(spec)
        rescued = Change(
            vm_state=states.RESCUED, task_state=None, power_state=int(PowerState.RUNNING)
        )
        await task.settle(rescued, task_states=[states.RESCUING])


async def unrescue(agent: AgentBase, uuid: str) -> None:
    """Never raises; on a driver failure the server stays RESCUED (the reason in the event)."""

    async def stay(task: InstanceTask, exc: Exception) -> None:
        await task.settle(Change(task_state=None), task_states=[states.UNRESCUING])

    async with instance_task(agent, uuid, "compute_unrescue_instance", on_failure=stay) as task:
        await agent.driver.unrescue(uuid)
        active = Change(
            vm_state=states.ACTIVE, task_state=None, power_state=int(PowerState.RUNNING)
        )
        await task.settle(active, task_states=[states.UNRESCUING])


async def trigger_crash_dump(agent: AgentBase, uuid: str) -> None:
    """Send the NMI; a failure is recorded in the action's event (the server is unchanged)."""
    event = "compute_trigger_crash_dump"
    async with instance_task(agent, uuid, event, on_failure=None):
        await agent.driver.inject_nmi(uuid)
