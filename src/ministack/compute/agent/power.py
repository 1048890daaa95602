"""Power actions on this host: stop, start, reboot, pause, unpause, suspend, resume.

The API has already moved task_state (compare-and-swap); here the driver acts and the
instance settles in its new vm_state/power_state, or, when the driver fails, returns to the
state it came from with the failure in the action's event.
"""

from __future__ import annotations

import logging

from ministack.compute import instances, states
from ministack.compute.agent.base import AgentBase
from ministack.compute.instances import Change

log = logging.getLogger("ministack.compute.agent")


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
    async with agent.locks[uuid]:
        event = await instances.start_event(agent.db, uuid, spec.event, agent.host)
        try:
            await _drive(agent, uuid, action)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("%s of %s failed on %s: %s", action, uuid, agent.host, reason)
            await instances.cas(
                agent.db,
                uuid,
                task_states=[spec.task_state],
                change=Change(vm_state=from_vm_state, task_state=None),
            )
            await instances.finish_event(agent.db, event, reason)
            return
        info = await agent.driver.get_info(uuid)
        await instances.cas(
            agent.db,
            uuid,
            task_states=[spec.task_state],
            change=Change(
                vm_state=spec.vm_state, task_state=None, power_state=int(info.power_state)
            ),
        )
        await instances.finish_event(agent.db, event)
