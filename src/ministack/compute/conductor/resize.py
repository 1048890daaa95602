"""The conductor's half of a resize: find a host for the new flavor, stop the guest on the
old host (which uploads its disk when the new host is another: agent/migration_disk.py),
move the instance, and let the new host start it (VERIFY_RESIZE). When no host fits,
the instance stays as it was and the reason is in the resize action's events.

With `[compute] allow_resize_to_same_host` the source host is a candidate too. On the same host
the scheduler's claim replaces the instance's allocation there with the new flavor's (one
consumer, one provider), so nothing is counted twice; revert claims the old flavor back."""

from __future__ import annotations

import logging
from typing import Any

from ministack.compute import instances, migration_records, states
from ministack.compute.claims import claim_flavor, hold_source, node_uuid, return_source
from ministack.compute.conductor.base import ConductorDeps
from ministack.compute.instances import Change
from ministack.compute.migration_records import MIGRATION_IMAGE_ID
from ministack.compute.rpcapi.scheduler import Selection

log = logging.getLogger("ministack.compute.conductor")


def _is_migrate(sysmeta: dict[str, Any]) -> bool:
    return bool(sysmeta.get("new_flavor", {}).get("id") == sysmeta.get("old_flavor", {}).get("id"))


async def schedule_resize(cond: ConductorDeps, uuid: str) -> None:
    """Never raises: every outcome is written to the instance and its events."""
    inst = await instances.get(cond.db, uuid)
    if inst is None or inst.task_state != states.RESIZE_PREP or inst.host is None:
        return
    sysmeta: dict[str, Any] = dict(inst.system_metadata)
    new_flavor = sysmeta["new_flavor"]
    event = await instances.start_event(
        cond.db, uuid, "conductor_migrate_server", cond.settings.hostname
    )
    spec = dict(inst.request_spec)
    spec["flavor"] = new_flavor
    spec.pop("force_host", None)
    if sysmeta.get(migration_records.REQUESTED_HOST):  # a cold migrate to a named host (2.56)
        spec["force_host"] = sysmeta.pop(migration_records.REQUESTED_HOST)
    source = inst.host
    # a cold migration never stays (Nova's drivers cannot migrate to the same host)
    same_host_ok = cond.settings.compute.allow_resize_to_same_host and not _is_migrate(sysmeta)
    try:
        answer = await cond.scheduler.select_destinations(
            [uuid], spec, [] if same_host_ok else [source]
        )
    except Exception as exc:
        answer = Selection(error=f"The scheduler did not answer: {exc}")
    if answer.error is not None:
        await migration_records.advance(cond.db, uuid, "error")
        await instances.finish_event(cond.db, event, answer.error)
        await instances.cas(
            cond.db, uuid, task_states=[states.RESIZE_PREP], change=Change(task_state=None)
        )
        return
    dest = answer.hosts[0].host
    await migration_records.advance(cond.db, uuid, "migrating", dest=dest)
    if dest != source:
        await hold_source(cond.placement, cond.db, uuid, source)
    try:
        await cond.agent(source).resize_instance(uuid)
    except Exception as exc:
        if dest == source:
            await claim_flavor(cond.placement, uuid, source, sysmeta["old_flavor"], inst)
        else:
            await cond.placement.release(uuid, node_uuid(dest))
            await return_source(cond.placement, cond.db, uuid, source)
        await migration_records.advance(cond.db, uuid, "error")
        await instances.finish_event(cond.db, event, f"Stopping the guest on {source}: {exc}")
        await instances.cas(
            cond.db,
            uuid,
            task_states=[states.RESIZE_PREP, states.RESIZE_MIGRATING],
            change=Change(task_state=None),
        )
        return
    sysmeta["source_host"] = source
    stopped = await instances.get(cond.db, uuid)  # the source recorded its disk's image
    disk_image = (stopped.system_metadata if stopped else {}).get(MIGRATION_IMAGE_ID)
    if disk_image:
        sysmeta[MIGRATION_IMAGE_ID] = disk_image
    await instances.cas(
        cond.db,
        uuid,
        change=Change(
            host=dest,
            node=dest,
            flavor=new_flavor,
            vcpus=new_flavor["vcpus"],
            memory_mb=new_flavor["ram"],
            root_gb=new_flavor["disk"],
            system_metadata=sysmeta,
            task_state=states.RESIZE_MIGRATING,
        ),
    )
    await instances.finish_event(cond.db, event)
    await cond.agent(dest).finish_resize(uuid, source)
