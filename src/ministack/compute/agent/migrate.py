"""Live migration between two hosts' agents (os-migrateLive, after the conductor chose the
destination and moved the source allocation to the migration's uuid):

    dest   pre_live_migration                    the incoming guest is made (not running)
    source live_migration                        migration running; the driver copies
      ├─ done:   dest post_live_migration_at_destination (guest runs there, instance moves),
      │          source allocation freed, migration completed
      └─ failed / aborted: dest rollback_live_migration_at_destination (incoming guest and its
                 allocation removed), source allocation back to the server, migration failed /
                 cancelled, the server ACTIVE (or PAUSED) on the source as before

The running copy can be aborted (DELETE /servers/{id}/migrations/{mid}) or forced to complete
(POST .../action force_complete): both reach the source agent, which holds the job's events.
After a restart of the source agent its in-progress migrations are failed and rolled back
(`recover`); the instance's task_state `migrating` is cleared by the states table's rule.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select

from ministack.compute import instances, migration_records, states
from ministack.compute import models as m
from ministack.compute.agent import connections, networking
from ministack.compute.agent.base import AgentBase, guest_spec
from ministack.compute.agent.task import instance_task, reason_of
from ministack.compute.claims import drop_source, node_uuid, return_source
from ministack.compute.instances import Change
from ministack.compute.rpcapi.agent import MigrationStep
from ministack.compute.virt.driver import LiveMigration, LiveMigrationAborted, PowerState

log = logging.getLogger("ministack.compute.agent")
EVENT = "compute_live_migration"

_JOBS: dict[tuple[str, str], LiveMigration] = {}
"""The copies running in this process, by (source host, instance uuid)."""
_ABORTED: set[int] = set()
"""Migrations aborted before their copy began (queued or preparing)."""


def _power_for(vm_state: str) -> PowerState:
    return PowerState.PAUSED if vm_state == states.PAUSED else PowerState.RUNNING


async def pre_live_migration(agent: AgentBase, step: MigrationStep) -> dict[str, str]:
    """Destination: make the incoming guest; answers what the source's driver needs to
    reach it. Raises (the conductor rolls back)."""
    inst = await instances.get(agent.db, step.instance_uuid)
    if inst is None or inst.task_state != states.MIGRATING:
        raise RuntimeError(f"instance {step.instance_uuid} is no longer migrating")
    devices = await connections.current(agent, inst.uuid)
    return await agent.driver.prepare_incoming(replace(guest_spec(inst), block_devices=devices))


async def live_migration(agent: AgentBase, step: MigrationStep) -> None:
    """Source: run the copy and finish or roll back. Never raises."""
    uuid = step.instance_uuid
    job = LiveMigration(step.dest_host, step.block_migration, dict(step.dest_data or {}))
    async with instance_task(agent, uuid, EVENT, on_failure=None) as task:
        running = await migration_records.move_status(
            agent.db, step.migration_id, "running", from_statuses=("queued", "preparing")
        )
        if step.migration_id in _ABORTED or not running:
            _ABORTED.discard(step.migration_id)
            job.abort.set()
        _JOBS[(agent.host, uuid)] = job
        try:
            if job.abort.is_set():
                raise LiveMigrationAborted(f"live migration of {uuid} aborted")
            await agent.driver.live_migrate(uuid, job)
        except Exception as exc:
            task.error = reason_of(exc)
            aborted = isinstance(exc, LiveMigrationAborted)
            await rollback(agent, step, "cancelled" if aborted else "failed")
            return
        finally:
            _JOBS.pop((agent.host, uuid), None)
        await _post(agent, step)


async def _post(agent: AgentBase, step: MigrationStep) -> None:
    """The copy is done: the destination takes over, the source's allocation is freed."""
    uuid = step.instance_uuid
    if not await migration_records.move_status(
        agent.db, step.migration_id, "post-migrating", from_statuses=("running",)
    ):  # the conductor's reaper gave it up meanwhile (its claims are back on the source)
        await instances.set_error(
            agent.db,
            uuid,
            f"The live migration to {step.dest_host} was abandoned after its copy finished; "
            "delete this server or reset its state.",
        )
        return
    try:
        await agent.deps.agent(step.dest_host).post_live_migration_at_destination(step)
    except Exception as exc:
        await migration_records.move_status(agent.db, step.migration_id, "error")
        await instances.set_error(
            agent.db,
            uuid,
            f"Live migration to {step.dest_host} failed after the copy: {reason_of(exc)}",
        )
        return
    await drop_source(agent.deps.placement, agent.db, uuid, agent.host)
    await migration_records.move_status(agent.db, step.migration_id, "completed")


async def post_live_migration_at_destination(agent: AgentBase, step: MigrationStep) -> None:
    """Destination: the guest runs here and the instance is this host's. Raises."""
    inst = await instances.get(agent.db, step.instance_uuid)
    if inst is None:
        raise RuntimeError(f"instance {step.instance_uuid} is gone")
    power = _power_for(inst.vm_state)
    await networking.rebind(agent, inst)
    await connections.connect(agent, inst.uuid)  # the attachments follow to this host
    await agent.driver.finish_incoming(inst.uuid, power)
    moved = Change(host=agent.host, node=agent.node, task_state=None, power_state=int(power))
    await instances.cas(agent.db, inst.uuid, task_states=[states.MIGRATING], change=moved)


async def rollback(
    agent: AgentBase, step: MigrationStep, status: str, *, tell_dest: bool = True
) -> None:
    """Source: undo a migration that did not complete; the server stays here as it was. The
    destination's allocation is freed from here too (placement is shared), so a destination
    that does not answer keeps only its incoming guest, which its orphan reaping removes once
    the server is no longer migrating."""
    uuid = step.instance_uuid
    if tell_dest:
        try:
            await agent.deps.agent(step.dest_host).rollback_live_migration_at_destination(step)
        except Exception as exc:
            log.warning("rollback of %s on %s failed: %s", uuid, step.dest_host, reason_of(exc))
    await agent.deps.placement.release(uuid, node_uuid(step.dest_host))
    await return_source(agent.deps.placement, agent.db, uuid, agent.host)
    await migration_records.move_status(agent.db, step.migration_id, status)
    inst = await instances.get(agent.db, uuid)
    back = Change(task_state=None)
    if inst is not None:
        back = Change(task_state=None, power_state=int(_power_for(inst.vm_state)))
    await instances.cas(agent.db, uuid, task_states=[states.MIGRATING], change=back)


async def rollback_at_destination(agent: AgentBase, step: MigrationStep) -> None:
    """Destination: remove the incoming guest and this host's allocation. Idempotent."""
    await agent.driver.destroy(step.instance_uuid)
    await agent.deps.placement.release(step.instance_uuid, agent.provider_uuid)


def abort(agent: AgentBase, step: MigrationStep) -> None:
    """Abort the copy (or, before it runs, the migration)."""
    job = _JOBS.get((agent.host, step.instance_uuid))
    if job is None:
        _ABORTED.add(step.migration_id)
    else:
        job.abort.set()


def force_complete(agent: AgentBase, step: MigrationStep) -> None:
    job = _JOBS.get((agent.host, step.instance_uuid))
    if job is not None:
        job.force_complete.set()


def migrating_here(agent: AgentBase, inst: m.Instance | None) -> bool:
    """Whether the guest of `inst` on this host belongs to a live migration in progress
    (the incoming guest on the destination): not an orphan to reap."""
    return inst is not None and inst.task_state == states.MIGRATING


async def recover(agent: AgentBase) -> None:
    """After a restart: fail and roll back the live migrations this host was the source of
    (the guest is still here; the copy died with the process)."""
    async with agent.db.session() as s:
        rows = list(
            (
                await s.execute(
                    select(m.Migration).where(
                        m.Migration.migration_type == "live-migration",
                        m.Migration.source_compute == agent.host,
                        m.Migration.status.in_(migration_records.LIVE_IN_PROGRESS),
                    )
                )
            ).scalars()
        )
    for row in rows:
        step = MigrationStep(row.instance_uuid, row.id, agent.host, row.dest_compute or "")
        if step.dest_host:  # not waiting on a destination that may be restarting too
            await rollback(agent, step, "failed", tell_dest=False)
        else:
            await migration_records.move_status(agent.db, row.id, "failed")
