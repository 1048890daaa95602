"""The deferred-delete actions of POST /servers/{id}/action (Nova's os-deferred-delete):
restore a SOFT_DELETED server (it starts again), forceDelete any server at once."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common.auth import Auth
from ministack.common.web import empty_response
from ministack.compute import models as m
from ministack.compute import states
from ministack.compute.api import servers
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, host_of


async def restore(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    await begin(api, auth, inst, "restore", "restore", states.RESTORING)
    await api.agent(host_of(inst)).restore_instance(inst.uuid)
    return empty_response(202)


async def force_delete(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    await servers.hard_delete(api, auth, inst)
    return empty_response(202)
