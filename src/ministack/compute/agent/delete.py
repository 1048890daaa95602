"""Deleting an instance on this host: destroy the guest, release its ports (compute's deleted,
the user's unbound and kept), free its placement allocation, mark the row deleted.
Idempotent: a guest already gone is fine, a second delete finds nothing."""

from __future__ import annotations

from ministack.compute import consoleauth, instances, network_info, states
from ministack.compute.agent import volumes
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.task import error_with, instance_task
from ministack.compute.claims import local_delete

EVENT = "compute_terminate_instance"


async def terminate(agent: AgentBase, uuid: str) -> None:
    """Finish the delete the API started (task_state deleting). On a driver failure the
    instance goes ERROR with the reason (a later delete retries); never raises."""
    failed = error_with("Delete failed on the host")
    deleted = False
    async with instance_task(agent, uuid, EVENT, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.DELETING:
            return
        await task.open()
        await agent.driver.destroy(uuid)
        await volumes.release_all(agent, uuid)
        await network_info.release(agent.deps.network, inst)
        await local_delete(agent.deps.placement, agent.db, uuid)
        await consoleauth.forget_instance(agent.db, uuid)  # its console tokens open nothing now
        deleted = True
    if deleted:
        agent.locks.pop(uuid, None)
