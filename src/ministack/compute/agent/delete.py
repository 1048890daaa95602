"""Deleting an instance on this host: destroy the guest, free its placement allocation, mark
the row deleted. Idempotent: a guest already gone is fine, a second delete finds nothing."""

from __future__ import annotations

import logging

from ministack.compute import instances, states
from ministack.compute.agent.base import AgentBase
from ministack.compute.claims import local_delete

log = logging.getLogger("ministack.compute.agent")
EVENT = "compute_terminate_instance"


async def terminate(agent: AgentBase, uuid: str) -> None:
    """Finish the delete the API started (task_state deleting). On a driver failure the
    instance goes ERROR with the reason (a later delete retries); never raises."""
    async with agent.locks[uuid]:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.DELETING:
            return
        event = await instances.start_event(agent.db, uuid, EVENT, agent.host)
        try:
            await agent.driver.destroy(uuid)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("delete of %s failed on %s: %s", uuid, agent.host, reason)
            await instances.finish_event(agent.db, event, reason)
            await instances.set_error(agent.db, uuid, f"Delete failed on the host: {reason}")
            return
        await local_delete(agent.deps.placement, agent.db, uuid)
        await instances.finish_event(agent.db, event)
    agent.locks.pop(uuid, None)
