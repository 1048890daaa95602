"""What every server action shares: the compare-and-swap into the action's task_state with its
instance-action record (`begin`), and the 409 a refused action gets (`conflict`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.api.common import Api
from ministack.compute.instances import NO_CHANGE, Change

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
    change: Change = NO_CHANGE,
) -> None:
    """The compare-and-swap into `task_state` (with `change`) plus the action record; 409 when
    the server is not in a state that allows `action` (or another action got there first)."""
    if inst.vm_state not in states.ALLOWED[allowed_key] or inst.task_state is not None:
        raise conflict(inst, action)
    if inst.host is None:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready: it has no host.")
    won = await instances.cas(
        api.db,
        inst.uuid,
        vm_states=[inst.vm_state],
        task_states=[None],
        change=dataclasses.replace(change, task_state=task_state),
    )
    if not won:
        fresh = await instances.get(api.db, inst.uuid)
        raise conflict(fresh or inst, action)
    await instances.add_action(api.db, inst.uuid, action, auth.user_id, inst.project_id)
