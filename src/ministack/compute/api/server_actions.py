"""POST /servers/{id}/action: power actions, lock, rebuild, resize (+ confirm/revert),
createImage and os-getConsoleOutput.

Each state-changing action is one compare-and-swap from the states Nova allows into the
action's task_state (409 otherwise, so of two racing actions exactly one wins), then one cast
to the agent of the server's host. Answers 202; the work continues asynchronously.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.api import (
    lifecycle_actions,
    migrate_actions,
    remote_consoles,
    resize_actions,
    schemas,
)
from ministack.compute.api.actions import Handler, begin
from ministack.compute.api.common import Api, api_of, caller, host_of, route, version
from ministack.compute.api.servers import check_unlocked, load
from ministack.compute.api.views import LOCKED_REASON_KEY
from ministack.compute.instances import Change


def _power(name: str, action: str) -> Handler:
    async def run(request: Request, api: Api, auth: Auth, inst: m.Instance, _b: Any) -> Response:
        await begin(api, auth, inst, name, action, states.POWER_ACTIONS[action].task_state)
        await api.agent(host_of(inst)).power_action(inst.uuid, action, inst.vm_state)
        return empty_response(202)

    return run


async def _reboot(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    kind: str = body["type"]  # SOFT or HARD, checked by the schema
    action = "reboot_hard" if kind.upper() == "HARD" else "reboot"
    return await _power("reboot", action)(request, api, auth, inst, body)


async def _lock(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    sysmeta = dict(inst.system_metadata or {})
    # a reason from 2.73 (before, Nova reads no lock body at all)
    reason = (body or {}).get("locked_reason") if version(request) >= (2, 73) else None
    if reason is not None:
        sysmeta[LOCKED_REASON_KEY] = reason
    await instances.cas(
        api.db,
        inst.uuid,
        change=Change(
            locked=True, locked_by="admin" if auth.is_admin else "owner", system_metadata=sysmeta
        ),
    )
    await instances.add_action(api.db, inst.uuid, "lock", auth.user_id, inst.project_id)
    return empty_response(202)


async def _unlock(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    if inst.locked_by == "admin" and not auth.is_admin:
        raise errors.Forbidden("The server was locked by an admin; only an admin may unlock it.")
    sysmeta = {k: v for k, v in (inst.system_metadata or {}).items() if k != LOCKED_REASON_KEY}
    change = Change(locked=False, locked_by=None, system_metadata=sysmeta)
    await instances.cas(api.db, inst.uuid, change=change)
    await instances.add_action(api.db, inst.uuid, "unlock", auth.user_id, inst.project_id)
    return empty_response(202)


async def _console(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    length = (body or {}).get("length")  # an integer or digit string, checked by the schema
    if length is not None:
        length = None if int(length) < 0 else int(length)
    if inst.host is None or inst.vm_state == states.BUILDING:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready: it is still building.")
    try:
        output = await api.agent(inst.host).get_console_output(inst.uuid, length)
    except Exception:
        raise errors.Conflict(
            f"The console of instance {inst.uuid} is unavailable: its host {inst.host} does "
            "not answer."
        ) from None
    return json_response({"output": output})


async def _reset_state(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    """Admin: force vm_state to active or error and clear the task (Nova's os-resetState,
    recorded as the action resetState); what the hypervisor holds is left as it is."""
    state = states.ACTIVE if body["state"] == "active" else states.ERROR
    await instances.cas(api.db, inst.uuid, change=Change(vm_state=state, task_state=None))
    await instances.add_action(api.db, inst.uuid, "resetState", auth.user_id, inst.project_id)
    return empty_response(202)


ACTION_HANDLERS: dict[str, Handler] = {
    "os-start": _power("start", "start"),
    "os-stop": _power("stop", "stop"),
    "pause": _power("pause", "pause"),
    "unpause": _power("unpause", "unpause"),
    "suspend": _power("suspend", "suspend"),
    "resume": _power("resume", "resume"),
    "reboot": _reboot,
    "lock": _lock,
    "unlock": _unlock,
    "os-getConsoleOutput": _console,
    "rebuild": resize_actions.rebuild,
    "resize": resize_actions.resize,
    "confirmResize": resize_actions.confirm_resize,
    "revertResize": resize_actions.revert_resize,
    "createImage": resize_actions.create_image,
    "os-resetState": _reset_state,
    "migrate": migrate_actions.migrate,
    "os-migrateLive": migrate_actions.live_migrate,
    "evacuate": migrate_actions.evacuate,
    **{name: remote_consoles.console_action for name in remote_consoles.ACTION_TYPES},
    **lifecycle_actions.HANDLERS,
}
NO_LOCK_CHECK = (
    "lock",
    "unlock",
    "os-getConsoleOutput",
    "os-resetState",
    *remote_consoles.ACTION_TYPES,
    *lifecycle_actions.NO_LOCK_CHECK,
)
# each action's policy rule (Nova's names; defaults in compute/policies.py)
ACTION_RULES: dict[str, str] = {
    "os-start": "os_compute_api:servers:start",
    "os-stop": "os_compute_api:servers:stop",
    "pause": "os_compute_api:os-pause-server:pause",
    "unpause": "os_compute_api:os-pause-server:unpause",
    "suspend": "os_compute_api:os-suspend-server:suspend",
    "resume": "os_compute_api:os-suspend-server:resume",
    "reboot": "os_compute_api:servers:reboot",
    "lock": "os_compute_api:os-lock-server:lock",
    "unlock": "os_compute_api:os-lock-server:unlock",
    "os-getConsoleOutput": "os_compute_api:os-console-output",
    "rebuild": "os_compute_api:servers:rebuild",
    "resize": "os_compute_api:servers:resize",
    "confirmResize": "os_compute_api:servers:confirm_resize",
    "revertResize": "os_compute_api:servers:revert_resize",
    "createImage": "os_compute_api:servers:create_image",
    "os-resetState": "os_compute_api:os-admin-actions:reset_state",
    "migrate": "os_compute_api:os-migrate-server:migrate",
    "os-migrateLive": "os_compute_api:os-migrate-server:migrate_live",
    "evacuate": "os_compute_api:os-evacuate",
    **{name: remote_consoles.RULE for name in remote_consoles.ACTION_TYPES},
    **lifecycle_actions.RULES,
}


async def server_action(request: Request) -> Response:
    data = validation.body(request)  # one action, its body checked by schemas.server_action
    name, body = next(iter(data.items()))
    handler = ACTION_HANDLERS.get(name)
    if handler is None:
        raise errors.BadRequest(f"There is no such action: {name}")
    auth = await caller(request, ACTION_RULES[name])
    inst = await load(request, auth)
    if name not in NO_LOCK_CHECK:
        check_unlocked(inst, auth)
    return await handler(request, api_of(request), auth, inst, body)


ROUTES: list[BaseRoute] = [
    route("/v2.1/servers/{server_id}/action", server_action, "POST", body=schemas.server_action)
]
