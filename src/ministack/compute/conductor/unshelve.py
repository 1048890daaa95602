"""The conductor's half of unshelve: a server still on its host (SHELVED) is handed back to
that host's agent; an offloaded one (SHELVED_OFFLOADED, no host) goes through the scheduler
again, with the availability zone and host the request named, and is handed to the chosen
host's agent, which spawns it from the shelved image. When no host fits, the server stays
SHELVED_OFFLOADED and the scheduler's reason is in the unshelve action's events."""

from __future__ import annotations

from ministack.compute import instances, states
from ministack.compute.conductor.base import ConductorDeps
from ministack.compute.instances import Change
from ministack.compute.rpcapi.conductor import UnshelveInstance
from ministack.compute.rpcapi.scheduler import Selection

EVENT = "conductor_unshelve_instance"


async def unshelve_instance(cond: ConductorDeps, req: UnshelveInstance) -> None:
    """Never raises: every outcome is written to the instance and its events."""
    uuid = req.instance_uuid
    inst = await instances.get(cond.db, uuid)
    if inst is None or inst.task_state != states.UNSHELVING:
        return
    back = Change(task_state=None)
    if inst.vm_state == states.SHELVED and inst.host is not None:
        try:
            await cond.agent(inst.host).unshelve_instance(uuid)
        except Exception as exc:
            await instances.record_event(cond.db, uuid, EVENT, cond.settings.hostname, str(exc))
            await instances.cas(cond.db, uuid, task_states=[states.UNSHELVING], change=back)
        return
    event = await instances.start_event(cond.db, uuid, EVENT, cond.settings.hostname)
    spec = dict(inst.request_spec or {})
    spec["flavor"] = inst.flavor
    spec.pop("force_host", None)
    if req.zone_given:
        spec["availability_zone"] = req.availability_zone
    if req.host is not None:
        spec["force_host"] = req.host
    try:
        answer = await cond.scheduler.select_destinations([uuid], spec, [])
    except Exception as exc:
        answer = Selection(error=f"The scheduler did not answer: {exc}")
    if answer.error is not None:
        await instances.finish_event(cond.db, event, answer.error)
        await instances.cas(cond.db, uuid, task_states=[states.UNSHELVING], change=back)
        return
    dest = answer.hosts[0]
    placed = Change(host=dest.host, node=dest.node, availability_zone=dest.zone)
    if not await instances.cas(cond.db, uuid, task_states=[states.UNSHELVING], change=placed):
        await cond.placement.release(uuid)  # deleted meanwhile
        await instances.finish_event(cond.db, event, "The server changed while scheduling.")
        return
    await instances.finish_event(cond.db, event)
    try:
        await cond.agent(dest.host).unshelve_instance(uuid)
    except Exception as exc:
        await cond.placement.release(uuid)
        await instances.record_event(cond.db, uuid, EVENT, cond.settings.hostname, str(exc))
        offloaded = Change(task_state=None, host=None, node=None)
        await instances.cas(cond.db, uuid, task_states=[states.UNSHELVING], change=offloaded)
