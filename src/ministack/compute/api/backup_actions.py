"""POST /servers/{id}/action createBackup (Nova's os-create-backup): a queued image with
image_type=backup, backup_type and instance_uuid, filled by the server's host, which then
keeps only the newest `rotation` backups of that type. 202; from 2.45 the body holds the image
id, before it the Location header does (when rotation is not 0)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, base_url, host_of, version
from ministack.compute.api.shelve_actions import queue_image
from ministack.compute.instances import Change
from ministack.compute.rpcapi.agent_lifecycle import Backup


async def create_backup(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    name: str = body["name"]
    backup_type: str = body["backup_type"]
    rotation = int(body["rotation"])  # an integer or digit string, checked by the schema
    if not inst.image_ref:
        raise errors.BadRequest("Backup is not supported for volume-backed instances.")
    props = {**body.get("metadata", {}), "image_type": "backup", "backup_type": backup_type}
    await begin(api, auth, inst, "createBackup", "createBackup", states.IMAGE_BACKUP)
    try:
        image_id = await queue_image(api, inst, name, props)
    except Exception:
        clear = Change(task_state=None)
        await instances.cas(api.db, inst.uuid, task_states=[states.IMAGE_BACKUP], change=clear)
        raise
    await api.agent(host_of(inst)).backup_instance(
        Backup(inst.uuid, image_id, backup_type, rotation)
    )
    if version(request) >= (2, 45):
        return json_response({"image_id": image_id}, status=202)
    if rotation == 0:
        return empty_response(202)
    location = f"{base_url(request)}/v2.1/images/{image_id}"
    return empty_response(202, headers={"Location": location})
