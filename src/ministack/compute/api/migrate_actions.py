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
from ministack.common.params import to_bool
from ministack.common.web import empty_response, json_response
from ministack.compute import instances, migration_records, servicegroup, states
from ministack.compute import models as m
from ministack.compute.api import flavors
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, version
from ministack.compute.api.server_create import admin_pass
from ministack.compute.instances import Change
from ministack.compute.rpcapi.conductor import MoveInstance


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
    sysmeta = dict(inst.system_metadata or {})
    sysmeta.update(
        new_flavor=dict(inst.flavor), old_flavor=dict(inst.flavor), old_vm_state=inst.vm_state
    )
    sysmeta.pop(migration_records.REQUESTED_HOST, None)
    if host is not None:
        sysmeta[migration_records.REQUESTED_HOST] = host
    change = Change(system_metadata=sysmeta)
    await begin(api, auth, inst, "migrate", "migrate", states.RESIZE_PREP, change)
    type_id = await _flavor_id(api, inst)
    await migration_records.start(api.db, inst, type_id, type_id, kind="migration")
    await api.conductor.resize_instance(inst.uuid)
    return empty_response(202)


async def _check_up(api: Api, host: str) -> bool:
    """Whether `host`'s compute service is up (heartbeat fresh, not forced down)."""
    rec = (await servicegroup.compute_services(api.db)).get(host)
    return rec is not None and servicegroup.is_up(rec, api.settings.compute.service_down_time)


def _block_migration(value: Any) -> bool:
    """2.25's "auto": the disks are local to each host here, so they are copied."""
    return True if value == "auto" else to_bool(value)


async def live_migrate(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    """os-migrateLive: the server keeps running while it moves (MIGRATING), to the named host
    or one the scheduler picks; `force` (2.30-2.67, or a host before 2.30) skips the filters."""
    v = version(request)
    host: str | None = body.get("host")
    if (2, 30) <= v < (2, 68):
        force = to_bool(body.get("force", False))
    else:
        force = host is not None and v < (2, 30)
    if host is not None:
        await check_host(api, host)
        not_self(inst, host)
        if not await _check_up(api, host):
            raise errors.BadRequest(f"Compute service of {host} is unavailable at this time.")
    await begin(api, auth, inst, "live-migration", "live-migration", states.MIGRATING)
    type_id = await _flavor_id(api, inst)
    mig = await migration_records.start(
        api.db, inst, type_id, type_id, kind="live-migration", status="queued", dest=host
    )
    block = _block_migration(body.get("block_migration", False))
    await api.conductor.live_migrate_instance(MoveInstance(inst.uuid, mig.id, host, force, block))
    return empty_response(202)


async def _flavor_id(api: Api, inst: m.Instance) -> int | None:
    async with api.db.session() as s:
        flavor = await flavors.find(s, str(inst.flavor.get("id", "")))
    return flavor.id if flavor else None


async def evacuate(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    """Rebuild a down host's server on another host (the named one, or the scheduler's);
    400 while its host's compute service is up. From 2.95 the server ends stopped."""
    v = version(request)
    host: str | None = body.get("host")
    if host is not None:
        await check_host(api, host)
        if host == inst.host:
            raise errors.BadRequest("The target host can't be the same one.")
    if inst.host is not None and await _check_up(api, inst.host):
        raise errors.BadRequest(f"Compute service of {inst.host} is still in use.")
    force = to_bool(body.get("force", False)) if (2, 29) <= v < (2, 68) else False
    password = admin_pass(body.get("adminPass"))
    sysmeta = {**(inst.system_metadata or {}), instances.ADMIN_PASS_KEY: password}
    if v >= (2, 95):
        sysmeta[migration_records.EVACUATE_STOPPED] = True
    change = Change(system_metadata=sysmeta)
    type_id = await _flavor_id(api, inst)
    # recorded before the compare-and-swap: the conductor's reaper spares a server on a down
    # host only while an evacuation of it is open
    mig = await migration_records.start(
        api.db, inst, type_id, type_id, kind="evacuation", status="accepted", dest=host
    )
    try:
        await begin(api, auth, inst, "evacuate", "evacuate", states.REBUILDING, change)
    except Exception:
        await migration_records.discard(api.db, mig.id)
        raise
    await api.conductor.evacuate_instance(MoveInstance(inst.uuid, mig.id, host, force))
    if v < (2, 14):
        return json_response({"adminPass": password})
    return empty_response(200)
