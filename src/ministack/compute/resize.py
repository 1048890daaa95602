"""The conductor's half of a resize: find a host for the new flavor, stop the guest on the
old host, move the instance, and let the new host start it (VERIFY_RESIZE). When no host fits,
the instance stays as it was and the reason is in the resize action's events.

With `[compute] allow_resize_to_same_host` the source host is a candidate too. On the same host
the scheduler's claim replaces the instance's allocation there with the new flavor's (one
consumer, one provider), so nothing is counted twice; revert claims the old flavor back."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.placement.client import PlacementClient

if TYPE_CHECKING:
    from ministack.compute.conductor import Conductor

log = logging.getLogger("ministack.compute.conductor")


async def schedule_resize(cond: Conductor, uuid: str) -> None:
    """Never raises: every outcome is written to the instance and its events."""
    inst = await instances.get(cond.db, uuid)
    if inst is None or inst.task_state != states.RESIZE_PREP or inst.host is None:
        return
    sysmeta: dict[str, Any] = dict(inst.system_metadata)
    new_flavor = sysmeta["new_flavor"]
    event = await instances.start_event(cond.db, uuid, "conductor_migrate_server", None)
    spec = dict(inst.request_spec)
    spec["flavor"] = new_flavor
    spec.pop("force_host", None)
    source = inst.host
    same_host_ok = cond.settings.compute.allow_resize_to_same_host
    answer = await cond.bus.call(
        "scheduler",
        "select_destinations",
        instance_uuids=[uuid],
        spec=spec,
        ignore_hosts=[] if same_host_ok else [source],
    )
    if "error" in answer:
        await instances.finish_event(cond.db, event, answer["error"])
        await instances.cas(cond.db, uuid, task_states=[states.RESIZE_PREP], task_state=None)
        return
    dest = answer["hosts"][0]["host"]
    try:
        await cond.bus.call("compute", "resize_instance", server=source, instance_uuid=uuid)
    except Exception as exc:
        if dest == source:
            await claim_flavor(cond.placement, uuid, source, sysmeta["old_flavor"], inst)
        else:
            await cond.placement.release(uuid, _provider(dest))
        await instances.finish_event(cond.db, event, f"Stopping the guest on {source}: {exc}")
        await instances.cas(cond.db, uuid, task_states=[states.RESIZE_PREP], task_state=None)
        return
    sysmeta["source_host"] = source
    await instances.cas(
        cond.db,
        uuid,
        host=dest,
        node=dest,
        flavor=new_flavor,
        vcpus=new_flavor["vcpus"],
        memory_mb=new_flavor["ram"],
        root_gb=new_flavor["disk"],
        system_metadata=sysmeta,
        task_state=states.RESIZE_MIGRATING,
    )
    await instances.finish_event(cond.db, event)
    await cond.bus.cast(
        "compute", "finish_resize", server=dest, instance_uuid=uuid, source_host=source
    )


async def claim_flavor(
    placement: PlacementClient, uuid: str, host: str, flavor: dict[str, Any], inst: m.Instance
) -> None:
    """Make the instance's allocation on `host` that of `flavor` (replacing what it held
    there). Used on the same host to give back the old flavor's allocation; logged, never
    raised, when it no longer fits (the guest exists and runs with that flavor anyway)."""
    resources = {
        "VCPU": int(flavor["vcpus"]),
        "MEMORY_MB": int(flavor["ram"]),
        "DISK_GB": int(flavor["disk"]) + int(flavor.get("ephemeral", 0) or 0),
    }
    problem = await placement.claim(
        uuid,
        _provider(host),
        resources,
        project_id=inst.project_id,
        user_id=inst.user_id,
    )
    if problem is not None:
        log.warning("could not give %s its %s allocation back: %s", uuid, host, problem)


def _provider(host: str) -> str:
    from ministack.compute.agent.base import node_uuid

    return node_uuid(host)
