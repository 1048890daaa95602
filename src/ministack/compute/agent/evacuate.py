"""Evacuation, the agents' half: the destination rebuilds the instance of a down host from its
image (its ports bound here), and the source, once it is back, reaps the guest it still holds.

    conductor   (source down) host chosen, instance moved to it, migration pre-migrating
    dest        evacuate_instance: spawn (stopped again when it was stopped, or from 2.95),
                migration done
    source      when it comes back (agent start, or a power-sync pass once it is no longer
                forced down): the old guest destroyed, its allocation there freed, migration
                completed — nothing is left behind

A failed rebuild puts the instance back on the source as ERROR with the reason as fault, frees
the destination's allocation and fails the migration.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select

from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import instances, migration_records, states
from ministack.compute import models as m
from ministack.compute.agent import connections, networking
from ministack.compute.agent.base import AgentBase, guest_spec
from ministack.compute.agent.task import InstanceTask, error_with, instance_task
from ministack.compute.instances import Change
from ministack.compute.rpcapi.agent import MigrationStep

log = logging.getLogger("ministack.compute.agent")
EVENT = "compute_rebuild_instance"
STOP_AFTER = migration_records.EVACUATE_STOPPED


async def evacuate(agent: AgentBase, step: MigrationStep) -> None:
    """Rebuild the evacuated instance here. Never raises: failures are on the instance."""
    uuid = step.instance_uuid

    async def failed(task: InstanceTask, exc: Exception) -> None:
        await agent.driver.destroy(uuid)
        await agent.deps.placement.release(uuid, agent.provider_uuid)
        # ERROR (out of its task) before it is back on its down host, where the conductor's
        # reaper would otherwise fail it for that host's being down
        await error_with("Evacuation failed")(task, exc)
        back = Change(host=step.source_host, node=step.source_host)
        await instances.cas(agent.db, uuid, change=back)
        await migration_records.move_status(agent.db, step.migration_id, "failed")

    async with instance_task(agent, uuid, EVENT, on_failure=failed, open_event=False) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None or inst.task_state != states.REBUILDING or inst.host != agent.host:
            return
        await task.open()
        await networking.rebind(agent, inst)
        await task.settle(
            Change(task_state=states.REBUILD_SPAWNING), task_states=[states.REBUILDING]
        )
        devices = await connections.connect(agent, uuid)  # the source host is down
        await agent.driver.spawn(replace(guest_spec(inst), block_devices=devices))
        sysmeta = {
            k: v
            for k, v in (inst.system_metadata or {}).items()
            if k not in (instances.ADMIN_PASS_KEY, STOP_AFTER)
        }
        stopped_wanted = bool((inst.system_metadata or {}).get(STOP_AFTER))
        stop = stopped_wanted or inst.vm_state == states.STOPPED
        if stop:
            await agent.driver.power_off(uuid)
        final = states.STOPPED if stop else states.ACTIVE
        power = int(states.power_state_for(final))
        await task.settle(
            Change(
                vm_state=final,
                task_state=None,
                power_state=power,
                fault=None,
                launched_at=utcnow(),
                system_metadata=sysmeta,
            ),
            task_states=[states.REBUILD_SPAWNING],
        )
        await migration_records.move_status(agent.db, step.migration_id, "done")


async def _from_here(agent: AgentBase, *statuses: str) -> list[m.Migration]:
    async with agent.db.session() as s:
        query = select(m.Migration).where(
            m.Migration.migration_type == "evacuation",
            m.Migration.source_compute == agent.host,
            m.Migration.status.in_(statuses),
        )
        return list((await s.execute(query)).scalars())


async def _done_from_here(agent: AgentBase) -> list[m.Migration]:
    return await _from_here(agent, "done")


async def awaits_reap(agent: AgentBase, uuid: str) -> bool:
    """Whether this host's guest `uuid` is an evacuated one left for `reap` (not an orphan
    to destroy while the host is still fenced). The evacuation may still be under way: the
    instance names its new host before the rebuild there is done (Nova's filter is the same:
    accepted, pre-migrating or done)."""
    open_ = await _from_here(agent, "accepted", "pre-migrating", "done")
    return any(row.instance_uuid == uuid for row in open_)


async def back_up(agent: AgentBase) -> bool:
    """Whether this host's compute service is no longer forced down."""
    async with agent.db.session() as s:
        forced = await s.scalar(
            select(ServiceRecord.forced_down).where(
                ServiceRecord.host == agent.host, ServiceRecord.binary == "nova-compute"
            )
        )
    return forced is not None and not forced


async def reap(agent: AgentBase) -> None:
    """The host is back: destroy the guests evacuated from it, free their allocations here
    and complete their migrations (Nova's _destroy_evacuated_instances)."""
    for row in await _done_from_here(agent):
        log.info("reaping evacuated guest %s on %s", row.instance_uuid, agent.host)
        await agent.driver.destroy(row.instance_uuid)
        await agent.deps.placement.release(row.instance_uuid, agent.provider_uuid)
        await migration_records.move_status(agent.db, row.id, "completed", from_statuses=("done",))
