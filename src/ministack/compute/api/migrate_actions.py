"""The server actions that move a server to another host (admin): `migrate` (a cold
migration, the resize machinery with the same flavor: VERIFY_RESIZE, then confirm or revert),
`os-migrateLive` (compute/agent/migrate.py) and `evacuate` (rebuild elsewhere when the host
is down: compute/agent/evacuate.py).

Each validates the body against Nova's rules (a named host must be a compute host other than
the server's own: 400), takes the server into its task_state by compare-and-swap (409 when
its state does not allow the action), records a migration, and casts to the conductor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response
from ministack.compute import migration_records, states
from ministack.compute import models as m
from ministack.compute.api import flavors
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, version
from ministack.compute.instances import Change


async def check_host(api: Api, host: str) -> None:
    """400 unless `host` is a compute host (Nova's ComputeHostNotFound)."""
    async with api.db.session() as s:
        found = await s.scalar(select(m.ComputeNode.id).where(m.ComputeNode.host == host))
    if found is None:
        raise errors.BadRequest(f"Compute host {host} could not be found.")


def not_self(inst: m.Instance, host: str | None) -> None:
    if host is not None and host == inst.host:
        raise errors.BadRequest(
            f"Unable to migrate instance ({inst.uuid}) to current host ({inst.host})."
        )


async def migrate(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    """Cold migration: the server is stopped, moved and started on another host (the named
    one from 2.56), then waits in VERIFY_RESIZE for confirm or revert."""
    host = (body or {}).get("host") if version(request) >= (2, 56) else None
    if host is not None:
        await check_host(api, host)
        not_self(inst, host)
    async with api.db.session() as s:
        flavor = await flavors.find(s, str(inst.flavor.get("id", "")))
    sysmeta = dict(inst.system_metadata or {})
    sysmeta.update(
        new_flavor=dict(inst.flavor), old_flavor=dict(inst.flavor), old_vm_state=inst.vm_state
    )
    sysmeta.pop(migration_records.REQUESTED_HOST, None)
    if host is not None:
        sysmeta[migration_records.REQUESTED_HOST] = host
    change = Change(system_metadata=sysmeta)
    await begin(api, auth, inst, "migrate", "migrate", states.RESIZE_PREP, change)
    type_id = flavor.id if flavor else None
    await migration_records.start(api.db, inst, type_id, type_id, kind="migration")
    await api.conductor.resize_instance(inst.uuid)
    return empty_response(202)
