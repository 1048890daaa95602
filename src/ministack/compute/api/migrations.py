"""Migrations (Nova's /os-migrations, admin): every recorded move of a server between hosts
(compute.migration_records: resizes, cold and live migrations, evacuations), filtered by
status, host, source_compute, instance_uuid and migration_type. `migration_type` appears at
2.23, with `links` to /servers/{id}/migrations/{id} on a live migration in progress (that
resource: api/server_migrations.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.web import json_response
from ministack.compute import migration_records
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, base_url, caller, iso_micro, route, version

TYPES = (2, 23)


def _live_in_progress(mig: m.Migration) -> bool:
    return (
        mig.migration_type == "live-migration" and mig.status in migration_records.LIVE_IN_PROGRESS
    )


def render(
    mig: m.Migration, dest_ip: str | None, v: tuple[int, int], base: str = ""
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": mig.id,
        "instance_uuid": mig.instance_uuid,
        "status": mig.status,
        "source_compute": mig.source_compute,
        "source_node": mig.source_node,
        "dest_compute": mig.dest_compute,
        "dest_node": mig.dest_node,
        "dest_host": dest_ip,
        "old_instance_type_id": mig.old_instance_type_id,
        "new_instance_type_id": mig.new_instance_type_id,
        "created_at": iso_micro(mig.created_at),
        "updated_at": iso_micro(mig.updated_at),
    }
    if v >= TYPES:
        body["migration_type"] = mig.migration_type
        if base and _live_in_progress(mig):
            href = f"/servers/{mig.instance_uuid}/migrations/{mig.id}"
            body["links"] = [
                {"rel": "self", "href": f"{base}/v2.1{href}"},
                {"rel": "bookmark", "href": f"{base}{href}"},
            ]
    if v >= PAGING:
        body["uuid"] = mig.uuid
    if v >= OWNERS:
        body.update(user_id=mig.user_id, project_id=mig.project_id)
    return body


PAGING = (2, 59)  # uuid, limit/marker, changes-since
OWNERS = (2, 80)  # user_id and project_id, shown and filtered


async def list_migrations(request: Request) -> Response:
    await caller(request, "os_compute_api:os-migrations:index")
    params = validation.query(request)  # checked by schemas.list_migrations per version
    v = version(request)
    query = select(m.Migration)
    filters = [
        ("status", m.Migration.status),
        ("source_compute", m.Migration.source_compute),
        ("instance_uuid", m.Migration.instance_uuid),
        ("migration_type", m.Migration.migration_type),
    ]
    if v >= OWNERS:
        filters += [("user_id", m.Migration.user_id), ("project_id", m.Migration.project_id)]
    for key, column in filters:
        if params.get(key):
            query = query.where(column == params[key])
    if params.get("host"):
        host = params["host"]
        query = query.where(
            or_(m.Migration.source_compute == host, m.Migration.dest_compute == host)
        )
    query = _changes(query, params)
    # newest first once paged (Nova sorts by created_at desc, id desc from 2.59)
    order = (m.Migration.created_at.desc(), m.Migration.id.desc()) if v >= PAGING else ()
    async with api_of(request).db.session() as s:
        rows = list((await s.execute(query.order_by(*order, m.Migration.id))).scalars())
        ips = dict(
            (await s.execute(select(m.ComputeNode.host, m.ComputeNode.host_ip))).tuples().all()
        )
    if params.get("marker"):
        ids = [r.uuid for r in rows]
        if params["marker"] not in ids:
            raise errors.BadRequest(f"Marker {params['marker']} could not be found.")
        rows = rows[ids.index(params["marker"]) + 1 :]
    limit = int(params["limit"]) if params.get("limit") is not None else None
    if limit is not None:
        rows = rows[:limit]
    body: dict[str, Any] = {
        "migrations": [render(r, ips.get(r.dest_compute or ""), v, base_url(request)) for r in rows]
    }
    if limit and len(rows) == limit:
        href = f"{base_url(request)}/v2.1/os-migrations?limit={limit}&marker={rows[-1].uuid}"
        body["migrations_links"] = [{"rel": "next", "href": href}]
    return json_response(body)


def _changes(query: Any, params: dict[str, Any]) -> Any:
    since = validation.parse_time(params["changes-since"]) if "changes-since" in params else None
    before = validation.parse_time(params["changes-before"]) if "changes-before" in params else None
    if since and before and before < since:
        raise errors.BadRequest(
            "The value of changes-since must be less than or equal to changes-before."
        )
    if since:
        query = query.where(m.Migration.updated_at >= since)
    if before:
        query = query.where(m.Migration.updated_at <= before)
    return query


ROUTES: list[BaseRoute] = [
    route("/v2.1/os-migrations", list_migrations, "GET", query=schemas.list_migrations),
]
