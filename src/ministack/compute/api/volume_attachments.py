"""os-volume_attachments: /servers/{id}/os-volume_attachments[/{volume_id}] as Nova serves
them (tag at 2.70, delete_on_termination at 2.79, attachment_id and bdm_uuid instead of id
at 2.89; PUT changes delete_on_termination at 2.85).

Request flow of an attach: check the volume through the volume client (the caller's project,
available or multiattach) → reserve a Cinder attachment → write the block device mapping
(attaching) → cast the server's host agent (compute.agent.volumes), which connects, plugs and
completes. The answer comes back before the disk is plugged, as in Nova; the volume shows
in-use once it is. Detach marks the mapping detaching and casts the agent (202).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common import params as p
from ministack.common.auth import Auth
from ministack.common.validation import Versions
from ministack.common.web import empty_response, json_response
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute.api.common import Api, api_of, caller, host_of, route, version
from ministack.compute.api.servers import load
from ministack.volume.client import VolumeApi

ATTACHING, ATTACHED, DETACHING = "attaching", "attached", "detaching"
_SETTLED = ("active", "paused", "stopped", "suspended", "resized")
_DEVICES = [f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwxyz"]
_device = p.nullable(
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._/-]*$"}
)


def _attach_schema(tag: bool, dot: bool) -> p.Schema:
    props: dict[str, p.Schema] = {"volumeId": p.uuid, "device": _device}
    if tag:
        props["tag"] = p.tag
    if dot:
        props["delete_on_termination"] = p.boolean
    return p.envelope("volumeAttachment", p.obj(props, required=("volumeId",)))


attach_body = Versions(
    {
        "2.1": _attach_schema(False, False),
        "2.49": _attach_schema(True, False),
        "2.79": _attach_schema(True, True),
    }
)
update_body = Versions(
    {
        "2.1": p.envelope("volumeAttachment", p.obj({"volumeId": p.uuid}, ("volumeId",))),
        "2.85": p.envelope(
            "volumeAttachment",
            p.obj(
                {
                    "volumeId": p.uuid,
                    "device": _device,
                    "tag": p.tag,
                    "delete_on_termination": p.boolean,
                    "id": p.uuid,
                    "serverId": p.uuid,
                },
                ("volumeId",),
            ),
        ),
    }
)
list_query = p.query({"limit": p.limit, "offset": p.query_int(0)})


def _truthy(value: Any) -> bool:
    return value is True or value in p.NOVA_TRUE_SPELLINGS


def view(request: Request, bdm: m.BlockDeviceMapping) -> dict[str, Any]:
    v = version(request)
    out: dict[str, Any] = {
        "device": bdm.device_name,
        "serverId": bdm.instance_uuid,
        "volumeId": bdm.volume_id,
    }
    if v < (2, 89):
        out["id"] = bdm.volume_id
    if v >= (2, 70):
        out["tag"] = bdm.tag
    if v >= (2, 79):
        out["delete_on_termination"] = bdm.delete_on_termination
    if v >= (2, 89):
        out["attachment_id"] = bdm.attachment_id
        out["bdm_uuid"] = bdm.uuid
    return out


def _client(api: Api) -> VolumeApi:
    if api.volumes is None:
        raise errors.ServiceUnavailable("No volume service is configured.")
    return api.volumes


async def _mappings(api: Api, uuid: str) -> list[m.BlockDeviceMapping]:
    async with api.db.session() as s:
        q = (
            select(m.BlockDeviceMapping)
            .where(m.BlockDeviceMapping.instance_uuid == uuid)
            .order_by(m.BlockDeviceMapping.id)
        )
        return list((await s.execute(q)).scalars().all())


async def _mapping(api: Api, inst: m.Instance, volume_id: str) -> m.BlockDeviceMapping:
    for bdm in await _mappings(api, inst.uuid):
        if bdm.volume_id == volume_id:
            return bdm
    raise errors.NotFound(f"volume_id not found: {volume_id}")


async def _server(request: Request, rule: str) -> tuple[Api, Auth, m.Instance]:
    auth = await caller(request, f"os_compute_api:os-volumes-attachments:{rule}")
    return api_of(request), auth, await load(request, auth)


def _settled(inst: m.Instance, action: str) -> None:
    if inst.vm_state not in _SETTLED or inst.task_state is not None:
        state = inst.task_state or inst.vm_state
        raise errors.Conflict(
            f"Cannot '{action}' instance {inst.uuid} while it is in state {state}"
        )


async def list_attachments(request: Request) -> Response:
    api, _auth, inst = await _server(request, "index")
    query = validation.query(request)
    rows = await _mappings(api, inst.uuid)
    offset = int(query.get("offset") or 0)
    limit = query.get("limit")
    rows = rows[offset:] if limit is None else rows[offset : offset + int(limit)]
    return json_response({"volumeAttachments": [view(request, b) for b in rows]})


async def show_attachment(request: Request) -> Response:
    api, _auth, inst = await _server(request, "show")
    bdm = await _mapping(api, inst, request.path_params["volume_id"])
    return json_response({"volumeAttachment": view(request, bdm)})


async def _check_volume(api: Api, inst: m.Instance, volume_id: str) -> None:
    """404 for a volume the server's project cannot see, 400 when it cannot be attached."""
    volume = await _client(api).get(inst.project_id, volume_id)
    if volume.get("project_id") != inst.project_id:
        raise errors.NotFound(f"Volume {volume_id} could not be found.")
    ok = ("available", "in-use", "reserved") if volume.get("multiattach") else ("available",)
    if volume["status"] not in ok:
        raise errors.BadRequest(
            f"Invalid volume: volume {volume_id} status must be 'available'; "
            f"it is '{volume['status']}'"
        )


async def attach(request: Request) -> Response:
    api, auth, inst = await _server(request, "create")
    req = validation.body(request)["volumeAttachment"]
    volume_id = req["volumeId"]
    _settled(inst, "attach_volume")
    host = host_of(inst)
    taken = await _mappings(api, inst.uuid)
    if any(b.volume_id == volume_id for b in taken):
        raise errors.BadRequest(f"Invalid volume: volume {volume_id} is already attached.")
    free = [d for d in _DEVICES if d not in {b.device_name for b in taken}]
    if not free:
        raise errors.BadRequest("The server has no free device name left.")
    await _check_volume(api, inst, volume_id)
    client = _client(api)
    att = await client.attachment_create(inst.project_id, volume_id, inst.uuid, None)
    bdm = m.BlockDeviceMapping(
        uuid=str(uuidlib.uuid4()),
        instance_uuid=inst.uuid,
        project_id=inst.project_id,
        volume_id=volume_id,
        attachment_id=att["id"],
        device_name=free[0],
        tag=req.get("tag"),
        delete_on_termination=_truthy(req.get("delete_on_termination", False)),
        status=ATTACHING,
    )
    try:
        async with api.db.writer() as s:
            s.add(bdm)
        await instances.add_action(
            api.db, inst.uuid, "attach_volume", auth.user_id, inst.project_id
        )
        await api.agent(host).attach_volume(inst.uuid, volume_id)
    except Exception:
        await client.attachment_delete(inst.project_id, att["id"])
        async with api.db.writer() as s:
            await s.execute(
                delete(m.BlockDeviceMapping).where(m.BlockDeviceMapping.uuid == bdm.uuid)
            )
        raise
    return json_response({"volumeAttachment": view(request, bdm)})


async def update(request: Request) -> Response:
    """2.85: change delete_on_termination. Swapping to another volume is not offered."""
    api, _auth, inst = await _server(request, "update")
    req = validation.body(request)["volumeAttachment"]
    bdm = await _mapping(api, inst, request.path_params["volume_id"])
    if req["volumeId"] != bdm.volume_id:
        raise errors.BadRequest("Swapping a server's volume for another is not supported.")
    for key in ("device", "tag", "id", "serverId"):
        if key in req and req[key] != view(request, bdm).get(key):
            raise errors.BadRequest(f"The {key} of a volume attachment cannot be changed.")
    if "delete_on_termination" in req:
        async with api.db.writer() as s:
            row = await s.get(m.BlockDeviceMapping, bdm.id)
            if row is not None:
                row.delete_on_termination = _truthy(req["delete_on_termination"])
    return empty_response(202)


async def detach(request: Request) -> Response:
    api, auth, inst = await _server(request, "delete")
    bdm = await _mapping(api, inst, request.path_params["volume_id"])
    if bdm.boot_index == 0:
        raise errors.BadRequest("Cannot detach a root device volume")
    _settled(inst, "detach_volume")
    if bdm.status != ATTACHED:
        raise errors.BadRequest(
            f"Invalid volume: volume {bdm.volume_id} is {bdm.status}, not attached."
        )
    host = host_of(inst)
    async with api.db.writer() as s:
        row = await s.get(m.BlockDeviceMapping, bdm.id)
        if row is None or row.status != ATTACHED:
            raise errors.BadRequest(f"Invalid volume: volume {bdm.volume_id} is not attached.")
        row.status = DETACHING
    await instances.add_action(api.db, inst.uuid, "detach_volume", auth.user_id, inst.project_id)
    await api.agent(host).detach_volume(inst.uuid, str(bdm.volume_id))
    return empty_response(202)


_BASE = "/v2.1/servers/{server_id}/os-volume_attachments"
ROUTES = [
    route(_BASE, list_attachments, "GET", query=list_query),
    route(_BASE, attach, "POST", body=attach_body),
    route(_BASE + "/{volume_id}", show_attachment, "GET"),
    route(_BASE + "/{volume_id}", update, "PUT", body=update_body),
    route(_BASE + "/{volume_id}", detach, "DELETE"),
]
