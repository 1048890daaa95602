"""POST /servers/{id}/action: power actions, lock, rebuild, resize (+ confirm/revert),
createImage and os-getConsoleOutput.

Each state-changing action is one compare-and-swap from the states Nova allows into the
action's task_state (409 otherwise, so of two racing actions exactly one wins), then one cast
to the agent of the server's host. Answers 202; the work continues asynchronously.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response, read_json
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.agent.power import ACTIONS
from ministack.compute.api import resize_actions
from ministack.compute.api.common import Api, api_of, caller
from ministack.compute.api.servers import check_unlocked, load

Handler = Callable[[Request, Api, Auth, m.Instance, Any], Awaitable[Response]]


def conflict(inst: m.Instance, action: str) -> errors.Conflict:
    if inst.task_state is not None:
        return errors.Conflict(
            f"Cannot '{action}' instance {inst.uuid} while it is in task_state {inst.task_state}"
        )
    return errors.Conflict(
        f"Cannot '{action}' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
    )


async def begin(
    api: Api,
    auth: Auth,
    inst: m.Instance,
    action: str,
    allowed_key: str,
    task_state: str,
    **values: Any,
) -> None:
    """The compare-and-swap into `task_state` plus the action record; 409 when the server is
    not in a state that allows `action` (or another action got there first)."""
    if inst.vm_state not in states.ALLOWED[allowed_key] or inst.task_state is not None:
        raise conflict(inst, action)
    if inst.host is None:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready: it has no host.")
    won = await instances.cas(
        api.db,
        inst.uuid,
        vm_states=[inst.vm_state],
        task_states=[None],
        task_state=task_state,
        **values,
    )
    if not won:
        fresh = await instances.get(api.db, inst.uuid)
        raise conflict(fresh or inst, action)
    await instances.add_action(api.db, inst.uuid, action, auth.user_id, inst.project_id)


def _power(name: str, action: str) -> Handler:
    async def run(request: Request, api: Api, auth: Auth, inst: m.Instance, _b: Any) -> Response:
        await begin(api, auth, inst, name, action, ACTIONS[action].task_state)
        await api.bus.cast(
            "compute",
            "power_action",
            server=inst.host,
            instance_uuid=inst.uuid,
            action=action,
            from_vm_state=inst.vm_state,
        )
        return empty_response(202)

    return run


async def _reboot(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    kind = (body or {}).get("type") if isinstance(body, dict) else None
    if kind not in ("SOFT", "HARD", "soft", "hard"):
        raise errors.BadRequest(
            f"Invalid input for field/attribute type. Value: {kind}. It must be SOFT or HARD."
        )
    action = "reboot_hard" if kind.upper() == "HARD" else "reboot"
    return await _power("reboot", action)(request, api, auth, inst, body)


async def _lock(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    await instances.cas(
        api.db, inst.uuid, locked=True, locked_by="admin" if auth.is_admin else "owner"
    )
    await instances.add_action(api.db, inst.uuid, "lock", auth.user_id, inst.project_id)
    return empty_response(202)


async def _unlock(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    if inst.locked_by == "admin" and not auth.is_admin:
        raise errors.Forbidden("The server was locked by an admin; only an admin may unlock it.")
    await instances.cas(api.db, inst.uuid, locked=False, locked_by=None)
    await instances.add_action(api.db, inst.uuid, "unlock", auth.user_id, inst.project_id)
    return empty_response(202)


async def _console(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    length = (body or {}).get("length") if isinstance(body, dict) else None
    if length is not None:
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise errors.BadRequest("Invalid input for field/attribute length.") from None
        length = None if length < 0 else length
    if inst.host is None or inst.vm_state == states.BUILDING:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready: it is still building.")
    try:
        output = await api.bus.call(
            "compute",
            "get_console_output",
            server=inst.host,
            timeout=10.0,
            instance_uuid=inst.uuid,
            length=length,
        )
    except Exception:
        raise errors.Conflict(
            f"The console of instance {inst.uuid} is unavailable: its host {inst.host} does "
            "not answer."
        ) from None
    return json_response({"output": output})


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
}
NO_LOCK_CHECK = ("lock", "unlock", "os-getConsoleOutput")
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
}


async def server_action(request: Request) -> Response:
    data = await read_json(request)
    if len(data) != 1:
        raise errors.BadRequest("There is no such action: give exactly one action.")
    name, body = next(iter(data.items()))
    handler = ACTION_HANDLERS.get(name)
    if handler is None:
        raise errors.BadRequest(f"There is no such action: {name}")
    auth = await caller(request, ACTION_RULES[name])
    inst = await load(request, auth)
    if name not in NO_LOCK_CHECK:
        check_unlocked(inst, auth)
    return await handler(request, api_of(request), auth, inst, body)


ROUTES = [Route("/v2.1/servers/{server_id}/action", server_action, methods=["POST"])]
