"""Power actions on this host: stop, start, reboot, pause, unpause, suspend, resume.

The API has already moved task_state (compare-and-swap); here the driver acts and the
instance settles in its new vm_state/power_state, or, when the driver fails, returns to the
state it came from with the failure in the action's event.
"""

from __future__ import annotations

from ministack.compute import states
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.task import InstanceTask, instance_task
from ministack.compute.instances import Change


async def _drive(agent: AgentBase, uuid: str, action: str) -> None:
    driver = agent.driver
    if action == "stop":
        await driver.power_off(uuid)
    elif action == "start":
        await driver.power_on(uuid)
    elif action in ("reboot", "reboot_hard"):
        await driver.reboot(uuid, hard=action == "reboot_hard")
    elif action == "pause":
        await driver.pause(uuid)
    elif action == "unpause":
        await driver.unpause(uuid)
    elif action == "suspend":
        await driver.suspend(uuid)
    elif action == "resume":
        await driver.resume(uuid)
    else:
        raise ValueError(f"unknown power action {action!r}")


async def power_action(agent: AgentBase, uuid: str, action: str, from_vm_state: str) -> None:
    """Run one power action the API started. Never raises: a driver failure puts the
    instance back in `from_vm_state` and is recorded in the action's event."""
    spec = states.POWER_ACTIONS[action]

    async def back(task: InstanceTask, exc: Exception) -> None:
        await task.settle(
            Change(vm_state=from_vm_state, task_state=None), task_states=[spec.task_state]
        )

    async with instance_task(agent, uuid, spec.event, on_failure=back) as task:
        await _drive(agent, uuid, action)
        info = await agent.driver.get_info(uuid)
        await task.settle(
            Change(vm_state=spec.vm_state, task_state=None, power_state=int(info.power_state)),
            task_states=[spec.task_state],
        )
