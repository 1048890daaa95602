"""POST /servers/{id}/action trigger_crash_dump (2.17; Nova's servers controller): the host's
driver sends the guest an NMI (libvirt's virDomainInjectNMI; the fake driver logs it on the
console). No task_state: the action's event records how it went."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.api.actions import conflict
from ministack.compute.api.common import Api, host_of, version
from ministack.compute.states import PowerState


async def trigger_crash_dump(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    if version(request) < (2, 17):
        raise errors.NotFound("The resource could not be found.")
    allowed = states.ALLOWED["trigger_crash_dump"]
    if inst.vm_state not in allowed or inst.task_state is not None:
        raise conflict(inst, "trigger_crash_dump")
    if inst.power_state != int(PowerState.RUNNING):
        raise errors.Conflict(f"Instance {inst.uuid} is not ready")
    host = host_of(inst)
    await instances.add_action(
        api.db, inst.uuid, "trigger_crash_dump", auth.user_id, inst.project_id
    )
    await api.agent(host).trigger_crash_dump(inst.uuid)
    return empty_response(202)
