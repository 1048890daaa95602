"""A server's live migrations in progress (admin, Nova's /servers/{id}/migrations): list and
show (2.23), force_complete (2.22) and abort (DELETE, 2.24; queued and preparing ones too from
2.65). Both actions are casts to the source host's agent, which holds the running copy
(compute/agent/migrate.py); the answer is 202 and the migration's status tells the outcome.

Nova's errors: the server not migrating → 409; no such live migration of this server → 404
(400 for force_complete, as Nova); a migration not in a state the action allows → 400."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.web import empty_response, json_response
from ministack.compute import migration_records, states
from ministack.compute import models as m
from ministack.compute.api import move_schemas
from ministack.compute.api.actions import conflict
from ministack.compute.api.common import api_of, caller, iso_micro, route, version
from ministack.compute.api.servers import load
from ministack.compute.rpcapi.agent import MigrationStep

LIST = (2, 23)
FORCE = (2, 22)
ABORT = (2, 24)
ABORT_QUEUED = (2, 65)
PAGING = (2, 59)
OWNERS = (2, 80)


def render(mig: m.Migration, dest_ip: str | None, v: tuple[int, int]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": mig.id,
        "server_uuid": mig.instance_uuid,
        "status": mig.status,
        "source_compute": mig.source_compute,
        "source_node": mig.source_node,
        "dest_compute": mig.dest_compute,
        "dest_node": mig.dest_node,
        "dest_host": dest_ip,
        "created_at": iso_micro(mig.created_at),
        "updated_at": iso_micro(mig.updated_at),
        # the fake copy reports no progress counters (Nova's are null until libvirt reports)
        "memory_total_bytes": None,
        "memory_processed_bytes": None,
        "memory_remaining_bytes": None,
        "disk_total_bytes": None,
        "disk_processed_bytes": None,
        "disk_remaining_bytes": None,
    }
    if v >= PAGING:
        body["uuid"] = mig.uuid
    if v >= OWNERS:
        body.update(user_id=mig.user_id, project_id=mig.project_id)
    return body


async def _in_progress(request: Request, server: str) -> list[m.Migration]:
    async with api_of(request).db.session() as s:
        query = select(m.Migration).where(
            m.Migration.instance_uuid == server,
            m.Migration.migration_type == "live-migration",
            m.Migration.status.in_(migration_records.LIVE_IN_PROGRESS),
        )
        return list((await s.execute(query.order_by(m.Migration.id))).scalars())


async def _dest_ips(request: Request) -> dict[str, str]:
    async with api_of(request).db.session() as s:
        rows = await s.execute(select(m.ComputeNode.host, m.ComputeNode.host_ip))
        return {h: ip for h, ip in rows.tuples().all() if ip}


def _path_id(request: Request) -> int | None:
    text = request.path_params["migration_id"]
    return int(text) if text.isdigit() else None


async def list_server_migrations(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:migrations:index")
    if version(request) < LIST:
        raise errors.NotFound("The resource could not be found.")
    inst = await load(request, auth)
    rows, ips = await _in_progress(request, inst.uuid), await _dest_ips(request)
    v = version(request)
    return json_response(
        {"migrations": [render(r, ips.get(r.dest_compute or ""), v) for r in rows]}
    )


async def show_server_migration(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:migrations:show")
    if version(request) < LIST:
        raise errors.NotFound("The resource could not be found.")
    inst = await load(request, auth)
    ident = _path_id(request)
    found = [r for r in await _in_progress(request, inst.uuid) if r.id == ident]
    if not found:
        raise errors.NotFound(
            f"In-progress live migration {request.path_params['migration_id']} is not found "
            f"for server {inst.uuid}."
        )
    ip = (await _dest_ips(request)).get(found[0].dest_compute or "")
    return json_response({"migration": render(found[0], ip, version(request))})


async def _live_migration(
    request: Request, inst: m.Instance, action: str, missing: type[errors.ApiError]
) -> m.Migration:
    """The server's live migration of the path; 409 unless the server is migrating."""
    if inst.task_state != states.MIGRATING:
        raise conflict(inst, action)
    ident = _path_id(request)
    mig = await migration_records.get(api_of(request).db, ident) if ident is not None else None
    if mig is None or mig.instance_uuid != inst.uuid or mig.migration_type != "live-migration":
        raise missing(
            f"Migration {request.path_params['migration_id']} not found for instance {inst.uuid}"
        )
    return mig


def _wrong_state(mig: m.Migration, method: str) -> errors.BadRequest:
    return errors.BadRequest(
        f"Migration {mig.id} state of instance {mig.instance_uuid} is {mig.status}. Cannot "
        f"{method} while the migration is in this state."
    )


async def force_complete(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:migrations:force_complete")
    if version(request) < FORCE:
        raise errors.NotFound("The resource could not be found.")
    validation.body(request)
    inst = await load(request, auth)
    mig = await _live_migration(request, inst, "force_complete", errors.BadRequest)
    if mig.status != "running":
        raise _wrong_state(mig, "force_complete")
    step = MigrationStep(inst.uuid, mig.id, mig.source_compute or "", mig.dest_compute or "")
    await api_of(request).agent(step.source_host).live_migration_force_complete(step)
    return empty_response(202)


async def abort(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:migrations:delete")
    v = version(request)
    if v < ABORT:
        raise errors.NotFound("The resource could not be found.")
    inst = await load(request, auth)
    mig = await _live_migration(request, inst, "abort live migration", errors.NotFound)
    allowed = ("queued", "preparing", "running") if v >= ABORT_QUEUED else ("running",)
    if mig.status not in allowed:
        raise _wrong_state(mig, "abort live migration")
    step = MigrationStep(inst.uuid, mig.id, mig.source_compute or "", mig.dest_compute or "")
    await api_of(request).agent(step.source_host).live_migration_abort(step)
    return empty_response(202)


ROUTES: list[BaseRoute] = [
    route("/v2.1/servers/{server_id}/migrations", list_server_migrations, "GET"),
    route("/v2.1/servers/{server_id}/migrations/{migration_id}", show_server_migration, "GET"),
    route("/v2.1/servers/{server_id}/migrations/{migration_id}", abort, "DELETE"),
    route(
        "/v2.1/servers/{server_id}/migrations/{migration_id}/action",
        force_complete,
        "POST",
        body=move_schemas.force_complete,
    ),
]
