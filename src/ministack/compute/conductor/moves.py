"""The conductor's half of a live migration and of an evacuation: choose the destination (the
scheduler, restricted to the named host when there is one; a forced host is claimed directly
in placement, bypassing the filters as Nova's `force`), then hand over to the agents
(compute/agent/migrate.py, compute/agent/evacuate.py).

When no destination fits, a live migration leaves the server as it was (ACTIVE or PAUSED on
its host, migration `error`); an evacuation leaves it ERROR on its down host (Nova's rule),
with the reason in the action's events."""

from __future__ import annotations

import logging
from dataclasses import replace

from ministack.compute import instances, migration_records, servicegroup, states
from ministack.compute import models as m
from ministack.compute.claims import hold_source, node_uuid, return_source
from ministack.compute.conductor.base import ConductorDeps
from ministack.compute.instances import Change
from ministack.compute.rpcapi.agent import MigrationStep
from ministack.compute.rpcapi.conductor import MoveInstance

log = logging.getLogger("ministack.compute.conductor")


async def _forced(cond: ConductorDeps, inst: m.Instance, host: str) -> str | None:
    """Claim the instance's flavor on `host` without the scheduler; the reason when not."""
    services = await servicegroup.compute_services(cond.db)
    rec = services.get(host)
    if rec is None or not servicegroup.is_up(rec, cond.settings.compute.service_down_time):
        return f"Compute service of {host} is unavailable at this time."
    flavor = inst.flavor
    resources = {
        "VCPU": int(flavor["vcpus"]),
        "MEMORY_MB": int(flavor["ram"]),
        "DISK_GB": int(flavor["disk"]) + int(flavor.get("ephemeral", 0) or 0),
    }
    problem = await cond.placement.claim(
        inst.uuid, node_uuid(host), resources, project_id=inst.project_id, user_id=inst.user_id
    )
    return None if problem is None else f"No valid host was found. {problem}"


async def destination(cond: ConductorDeps, inst: m.Instance, req: MoveInstance) -> str:
    """The host the instance moves to, its allocation there claimed; raises RuntimeError
    with the reason (the scheduler's "No valid host ...") when there is none."""
    source = inst.host or ""
    if req.host and req.force:
        problem = await _forced(cond, inst, req.host)
        if problem is not None:
            raise RuntimeError(problem)
        return req.host
    spec = dict(inst.request_spec)
    spec["flavor"] = dict(inst.flavor)
    spec.pop("force_host", None)
    if req.host:
        spec["force_host"] = req.host
    try:
        answer = await cond.scheduler.select_destinations([inst.uuid], spec, [source])
    except Exception as exc:
        raise RuntimeError(f"The scheduler did not answer: {exc}") from None
    if answer.error is not None:
        raise RuntimeError(answer.error)
    return answer.hosts[0].host


async def live_migrate(cond: ConductorDeps, req: MoveInstance) -> None:
    """Never raises: every outcome is written to the instance, its migration and events."""
    uuid = req.instance_uuid
    inst = await instances.get(cond.db, uuid)
    if inst is None or inst.task_state != states.MIGRATING or inst.host is None:
        return
    source = inst.host
    event = await instances.start_event(
        cond.db, uuid, "conductor_live_migrate_instance", cond.settings.hostname
    )
    back = Change(task_state=None)
    try:
        dest = await destination(cond, inst, req)
    except RuntimeError as exc:
        await migration_records.move_status(cond.db, req.migration_id, "error")
        await instances.finish_event(cond.db, event, str(exc))
        await instances.cas(cond.db, uuid, task_states=[states.MIGRATING], change=back)
        return
    await migration_records.advance(cond.db, uuid, "preparing", dest=dest)
    await hold_source(cond.placement, cond.db, uuid, source)
    step = MigrationStep(uuid, req.migration_id, source, dest, req.block_migration)
    try:
        incoming = await cond.agent(dest).pre_live_migration(step)
    except Exception as exc:
        await cond.placement.release(uuid, node_uuid(dest))
        await return_source(cond.placement, cond.db, uuid, source)
        await migration_records.move_status(cond.db, req.migration_id, "failed")
        await instances.finish_event(cond.db, event, f"Preparing {dest}: {exc}")
        await instances.cas(cond.db, uuid, task_states=[states.MIGRATING], change=back)
        return
    await instances.finish_event(cond.db, event)
    await cond.agent(source).live_migration(replace(step, dest_data=incoming))


async def evacuate(cond: ConductorDeps, req: MoveInstance) -> None:
    """Never raises: the instance moves to its new host, whose agent rebuilds it."""
    uuid = req.instance_uuid
    inst = await instances.get(cond.db, uuid)
    if inst is None or inst.task_state != states.REBUILDING or inst.host is None:
        return
    source = inst.host
    event = await instances.start_event(
        cond.db, uuid, "conductor_rebuild_server", cond.settings.hostname
    )
    try:
        dest = await destination(cond, inst, req)
    except RuntimeError as exc:
        await migration_records.move_status(cond.db, req.migration_id, "error")
        await instances.finish_event(cond.db, event, str(exc))
        if await instances.cas(cond.db, uuid, task_states=[states.REBUILDING]):
            await instances.set_error(cond.db, uuid, str(exc))
        return
    await migration_records.advance(cond.db, uuid, "pre-migrating", dest=dest)
    moved = Change(host=dest, node=dest)
    if not await instances.cas(cond.db, uuid, task_states=[states.REBUILDING], change=moved):
        await cond.placement.release(uuid, node_uuid(dest))  # deleted or reset meanwhile
        await migration_records.move_status(cond.db, req.migration_id, "error")
        await instances.finish_event(cond.db, event, "The instance left rebuilding meanwhile.")
        return
    await instances.finish_event(cond.db, event)
    await cond.agent(dest).evacuate_instance(MigrationStep(uuid, req.migration_id, source, dest))


async def evacuating(cond: ConductorDeps, uuid: str) -> bool:
    """Whether the instance's open migration is an evacuation: it is on its way off a down
    host, which the reaper must not hold against it."""
    mig = await migration_records.open_row(cond.db, uuid)
    return mig is not None and mig.migration_type == "evacuation"


async def abandon_live_migration(cond: ConductorDeps, uuid: str) -> None:
    """The reaper gives up a live migration (its source is down, or it outlived its timeout):
    the migration failed, the destination's allocation freed, the source's the server's again
    (the destination's incoming guest is reaped there as an orphan)."""
    mig = await migration_records.open_row(cond.db, uuid)
    if mig is None or mig.migration_type != "live-migration":
        return
    if mig.dest_compute:
        await cond.placement.release(uuid, node_uuid(mig.dest_compute))
    if mig.source_compute:
        await return_source(cond.placement, cond.db, uuid, mig.source_compute)
    await migration_records.move_status(cond.db, mig.id, "failed")
