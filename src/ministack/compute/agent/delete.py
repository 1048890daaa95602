"""Deleting an instance on this host: destroy the guest, free its placement allocation, mark
the row deleted. Idempotent: a guest already gone is fine, a second delete finds nothing."""

from __future__ import annotations

import logging

from sqlalchemy import select

from ministack.common.db import Database
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.agent.base import AgentBase
from ministack.placement.client import PlacementClient

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


async def local_delete(placement: PlacementClient, db: Database, uuid: str) -> None:
    """Free everything the instance holds in the database: placement allocations, server
    group membership and (by marking the row deleted) its quota. Idempotent."""
    await placement.release(uuid)
    async with db.writer() as s:
        for group in (await s.execute(select(m.ServerGroup))).scalars():
            if uuid in group.members:
                group.members = [u for u in group.members if u != uuid]
    await instances.mark_deleted(db, uuid)
