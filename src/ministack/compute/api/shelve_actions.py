"""The shelve actions of POST /servers/{id}/action: shelve, shelveOffload and unshelve (Nova's
os-shelve), with unshelve's availability zone (2.77) and host (2.91).

shelve queues the image `<name>-shelved` (a server booted from a volume keeps none) and casts
to the server's host; shelveOffload casts there too; unshelve goes to the conductor, which
schedules an offloaded server again (compute/conductor/unshelve.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, policy
from ministack.common.auth import Auth
from ministack.common.web import empty_response
from ministack.compute import instances, servicegroup, states
from ministack.compute import models as m
from ministack.compute.api import zones
from ministack.compute.api.actions import begin, conflict
from ministack.compute.api.common import Api, host_of, version
from ministack.compute.instances import Change
from ministack.compute.policies import RULES
from ministack.compute.rpcapi.conductor import UnshelveInstance

TO_HOST_RULE = "os_compute_api:os-shelve:unshelve_to_host"


def snapshot_format(api: Api) -> str:
    """The disk format a snapshot of this cloud's driver is queued as."""
    return "raw" if api.settings.compute.virt_driver == "fake" else "qcow2"


async def queue_image(api: Api, inst: m.Instance, name: str, props: dict[str, str]) -> str:
    """A queued image for the instance's disk, with Nova's snapshot properties."""
    props = {**props, "instance_uuid": inst.uuid}
    if inst.image_ref:
        props["base_image_ref"] = inst.image_ref
    return await api.images.create_queued(name, inst.project_id, props, snapshot_format(api))


async def shelve(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    await begin(api, auth, inst, "shelve", "shelve", states.SHELVING)
    image_id: str | None = None
    if inst.image_ref:  # booted from a volume: the volume keeps the disk
        try:
            name = f"{inst.display_name}-shelved"
            image_id = await queue_image(api, inst, name, {"image_type": "snapshot"})
        except Exception:
            clear = Change(task_state=None)
            await instances.cas(api.db, inst.uuid, task_states=[states.SHELVING], change=clear)
            raise
    # Nova offloads a volume-backed server at once: nothing of it stays on the host
    offload = api.settings.compute.shelved_offload_time == 0 or not inst.image_ref
    await api.agent(host_of(inst)).shelve_instance(inst.uuid, image_id, offload)
    return empty_response(202)


async def shelve_offload(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    await begin(api, auth, inst, "shelveOffload", "shelveOffload", states.SHELVING_OFFLOADING)
    await api.agent(host_of(inst)).shelve_offload_instance(inst.uuid)
    return empty_response(202)


def _unshelve_args(request: Request, inst: m.Instance, body: Any) -> UnshelveInstance:
    """What the body asks (the schema checked it at the request's microversion)."""
    args = body if isinstance(body, dict) else {}
    v = version(request)
    zone_given = v >= (2, 77) and "availability_zone" in args
    host = args.get("host") if v >= (2, 91) else None
    return UnshelveInstance(
        inst.uuid,
        zone_given=zone_given,
        availability_zone=args.get("availability_zone") if zone_given else None,
        host=host,
    )


async def _check_target(api: Api, auth: Auth, inst: m.Instance, req: UnshelveInstance) -> None:
    """409/400/403 as Nova answers an availability zone or host it cannot honour."""
    if req.host is not None:
        policy.authorize(RULES, auth, TO_HOST_RULE, {"project_id": inst.project_id})
    if inst.vm_state == states.SHELVED and (req.zone_given or req.host is not None):
        raise errors.Conflict(
            "Specifying an availability zone or a host when unshelving server "
            f'{inst.uuid} with status "SHELVED" is not supported. The server status must '
            "be SHELVED_OFFLOADED."
        )
    host_zones = await zones.host_zones(api)
    zone_names = await zones.zone_names(api)
    if (
        req.zone_given
        and req.availability_zone is not None
        and req.availability_zone not in zone_names
    ):
        raise errors.BadRequest("The requested availability zone is not available")
    if req.host is None:
        return
    if req.host not in await servicegroup.compute_services(api.db):
        raise errors.BadRequest(f"Compute host {req.host} could not be found.")
    pinned = (inst.request_spec or {}).get("availability_zone")
    zone = req.availability_zone if req.zone_given else pinned
    if zone is not None and host_zones.get(req.host) != zone:
        raise errors.Conflict(f'Host "{req.host}" is not in the availability zone "{zone}".')


async def unshelve(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    req = _unshelve_args(request, inst, body)
    if inst.vm_state not in states.ALLOWED["unshelve"] or inst.task_state is not None:
        raise conflict(inst, "unshelve")
    await _check_target(api, auth, inst, req)
    won = await instances.cas(
        api.db,
        inst.uuid,
        vm_states=[inst.vm_state],
        task_states=[None],
        change=Change(task_state=states.UNSHELVING),
    )
    if not won:
        raise conflict(await instances.get(api.db, inst.uuid) or inst, "unshelve")
    await instances.add_action(api.db, inst.uuid, "unshelve", auth.user_id, inst.project_id)
    await api.conductor.unshelve_instance(req)
    return empty_response(202)
