"""The rescue actions of POST /servers/{id}/action (Nova's os-rescue): rescue boots a rescue
image (the server's own image unless `rescue_image_ref` names another) with the server's disk
attached second (a volume-backed server from 2.87, with a stable device rescue image: one with
hw_rescue_bus and hw_rescue_device, whose root volume is then the second disk), and answers
the admin password of the rescue system; unrescue goes back."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import states
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, host_of, version
from ministack.compute.api.server_create import admin_pass
from ministack.compute.rpcapi.agent_lifecycle import Rescue

STABLE_RESCUE = ("hw_rescue_bus", "hw_rescue_device")


def _stable_rescue(image: dict[str, Any]) -> bool:
    """Whether the image asks for stable device rescue (Nova: both properties set)."""
    props = {**(image.get("properties") or {}), **image}
    return all(props.get(key) for key in STABLE_RESCUE)


async def rescue(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    args = body if isinstance(body, dict) else {}
    image_ref = args.get("rescue_image_ref") or inst.image_ref
    not_rescuable = errors.BadRequest(
        f"Instance {inst.uuid} cannot be rescued: Cannot rescue a volume-backed instance"
    )
    if not image_ref:
        raise not_rescuable
    image = await api.images.lookup(image_ref, auth.project_id, auth.is_admin)
    # a volume-backed server: from 2.87 only with a stable device rescue image (Nova)
    if not inst.image_ref and (version(request) < (2, 87) or not _stable_rescue(image)):
        raise not_rescuable
    password = admin_pass(args.get("adminPass"))
    await begin(api, auth, inst, "rescue", "rescue", states.RESCUING)
    req = Rescue(
        inst.uuid,
        str(image["id"]),
        image_format=str(image.get("disk_format") or "qcow2"),
        admin_password=password,
    )
    await api.agent(host_of(inst)).rescue_instance(req)
    return json_response({"adminPass": password})


async def unrescue(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    await begin(api, auth, inst, "unrescue", "unrescue", states.UNRESCUING)
    await api.agent(host_of(inst)).unrescue_instance(inst.uuid)
    return empty_response(202)
