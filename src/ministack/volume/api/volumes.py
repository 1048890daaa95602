"""Volumes: create (blank, from an image, a snapshot or another volume), list and detail with
filters, sort and limit/marker, show, update, delete (and cascade/force), summary."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, params, validation
from ministack.common.pagination import MAX_LIMIT, Page, paginate
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume.api import render, schemas, views
from ministack.volume.api.common import at_least, caller, core_of, route
from ministack.volume.core import NewVolume

SORT_KEYS = {
    "created_at": m.Volume.created_at,
    "updated_at": m.Volume.updated_at,
    "id": m.Volume.id,
    "name": m.Volume.name,
    "size": m.Volume.size,
    "status": m.Volume.status,
    "availability_zone": m.Volume.availability_zone,
    "bootable": m.Volume.bootable,
}
FILTERS = {
    "name": m.Volume.name,
    "status": m.Volume.status,
    "availability_zone": m.Volume.availability_zone,
    "volume_type_id": m.Volume.volume_type_id,
    "snapshot_id": m.Volume.snapshot_id,
    "source_volid": m.Volume.source_volid,
}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


async def create_volume(request: Request) -> Response:
    auth = await caller(request, "volume:create")
    body = validation.body(request)["volume"]
    image_ref = body.get("imageRef") or body.get("image_id")
    if image_ref:
        await caller(request, "volume:create_from_image")
    size = body.get("size")
    req = NewVolume(
        size=int(size) if size is not None else None,
        name=_text(body.get("name", body.get("display_name"))),
        description=_text(body.get("description", body.get("display_description"))),
        volume_type=body.get("volume_type"),
        availability_zone=body.get("availability_zone"),
        metadata=body.get("metadata") or {},
        snapshot_id=body.get("snapshot_id"),
        source_volid=body.get("source_volid"),
        image_ref=image_ref,
        multiattach=params.to_bool(body.get("multiattach") or False),
        bootable=params.to_bool(body.get("bootable") or False),
    )
    core = core_of(request)
    row = await core.create(auth, req)
    async with core.db.session() as s:
        fresh = await s.get(m.Volume, row.id) or row
        return json_response({"volume": await render.volume(s, request, auth, fresh)}, 202)


def _filtered(request: Request, query: dict[str, Any], all_projects: bool) -> Select[Any]:
    stmt = select(m.Volume)
    if not all_projects:
        stmt = stmt.where(m.Volume.project_id == request.path_params["project_id"])
    elif query.get("project_id"):
        stmt = stmt.where(m.Volume.project_id == query["project_id"])
    for key, column in FILTERS.items():
        if query.get(key) is not None:
            stmt = stmt.where(column == query[key])
    if query.get("bootable") is not None:
        stmt = stmt.where(m.Volume.bootable.is_(params.to_bool(query["bootable"])))
    if query.get("metadata"):
        stmt = _metadata_filter(stmt, query["metadata"])
    return stmt


def _metadata_filter(stmt: Select[Any], raw: str) -> Select[Any]:
    try:
        wanted = json.loads(raw) if raw.startswith("{") else dict([raw.split("=", 1)])
    except (ValueError, TypeError):
        raise errors.BadRequest(
            f"Invalid filter metadata={raw!r}: a JSON object is expected."
        ) from None
    for key, value in wanted.items():
        sub = select(m.VolumeMetadata.volume_id).where(
            m.VolumeMetadata.kind == "user",
            m.VolumeMetadata.key == key,
            m.VolumeMetadata.value == str(value),
        )
        stmt = stmt.where(m.Volume.id.in_(sub))
    return stmt


def _sort(query: dict[str, Any]) -> tuple[str, bool]:
    """The first sort key and direction (Cinder: sort=key:dir,... or sort_key/sort_dir;
    default created_at desc)."""
    key, direction = "created_at", "desc"
    if query.get("sort"):
        first = query["sort"].split(",")[0]
        key, _, direction = first.partition(":")
        direction = direction or "desc"
    elif query.get("sort_key"):
        key, direction = query["sort_key"], query.get("sort_dir") or "desc"
    if key not in SORT_KEYS or direction not in ("asc", "desc"):
        raise errors.BadRequest(
            f"Invalid input received: sort key {key!r} or direction {direction!r} is not "
            f"supported; keys: {', '.join(SORT_KEYS)}; directions: asc, desc."
        )
    return key, direction == "desc"


async def _list(request: Request, detail: bool) -> Response:
    auth = await caller(request, "volume:get_all")
    query = validation.query(request)
    all_projects = params.to_bool(query.get("all_tenants", "false")) and auth.reads_all
    stmt = _filtered(request, query, all_projects)
    key, desc = _sort(query)
    limit = min(int(query["limit"]), MAX_LIMIT) if query.get("limit") else None
    core = core_of(request)
    async with core.db.session() as s:
        count = None
        if at_least(request, "3.45") and params.to_bool(query.get("with_count", "false")):
            count = (await s.execute(select(func.count()).select_from(stmt.subquery()))).scalar()
        page = await paginate(
            s, stmt, Page(limit, query.get("marker")), m.Volume.id, SORT_KEYS[key], desc
        )
        rows = list((await s.execute(page)).scalars())
        if detail:
            items = await render.volumes(s, request, auth, rows)
        else:
            items = [views.volume_summary(request, r) for r in rows]
    body: dict[str, Any] = {"volumes": items}
    if limit is not None and len(rows) == limit and rows:
        path = "/volumes/detail" if detail else "/volumes"
        href = f"{request.url.scheme}://{request.url.netloc}/v3/{request.path_params['project_id']}"
        body["volumes_links"] = [
            {"rel": "next", "href": f"{href}{path}?limit={limit}&marker={rows[-1].id}"}
        ]
    if count is not None:
        body["count"] = count
    return json_response(body)


async def list_volumes(request: Request) -> Response:
    return await _list(request, detail=False)


async def list_volumes_detail(request: Request) -> Response:
    return await _list(request, detail=True)


async def show_volume(request: Request) -> Response:
    auth = await caller(request, "volume:get")
    core = core_of(request)
    async with core.db.session() as s:
        row = await core.volume(s, auth, request.path_params["volume_id"])
        return json_response({"volume": await render.volume(s, request, auth, row)})


async def update_volume(request: Request) -> Response:
    auth = await caller(request, "volume:update")
    body = validation.body(request)["volume"]
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, request.path_params["volume_id"])
        if "name" in body or "display_name" in body:
            row.name = _text(body.get("name", body.get("display_name")))
        if "description" in body or "display_description" in body:
            row.description = _text(body.get("description", body.get("display_description")))
        if body.get("metadata") is not None:
            await core.set_metadata(s, row.id, "user", body["metadata"], replace=True)
        await s.flush()
        return json_response({"volume": await render.volume(s, request, auth, row)})


async def delete_volume(request: Request) -> Response:
    auth = await caller(request, "volume:delete")
    query = validation.query(request)
    force = params.to_bool(query.get("force", "false"))
    if force:
        await caller(request, "volume:force_delete")
    cascade = params.to_bool(query.get("cascade", "false"))
    await core_of(request).delete(
        auth, request.path_params["volume_id"], force=force, cascade=cascade
    )
    return empty_response(202)


async def volume_summary(request: Request) -> Response:
    auth = await caller(request, "volume:get_all")
    if not at_least(request, "3.12"):
        raise errors.NotFound("The resource could not be found.")
    query = validation.query(request)
    all_projects = params.to_bool(query.get("all_tenants", "false")) and auth.reads_all
    stmt = _filtered(request, query, all_projects).subquery()
    async with core_of(request).db.session() as s:
        count, total = (
            await s.execute(select(func.count(), func.coalesce(func.sum(stmt.c.size), 0)))
        ).one()
    summary: dict[str, Any] = {"total_size": int(total), "total_count": int(count)}
    if at_least(request, "3.36"):
        summary["metadata"] = {}
    return json_response({"volume-summary": summary})


_delete_query = params.query({"force": params.query_bool, "cascade": params.query_bool})
P = "/v3/{project_id}/volumes"
ROUTES = [
    route(P, create_volume, "POST", body=schemas.create_volume),
    route(P, list_volumes, "GET", query=schemas.list_query),
    route(f"{P}/detail", list_volumes_detail, "GET", query=schemas.list_query),
    route(f"{P}/summary", volume_summary, "GET", query=schemas.list_query),
    route(P + "/{volume_id}", show_volume, "GET"),
    route(P + "/{volume_id}", update_volume, "PUT", body=schemas.update_volume),
    route(P + "/{volume_id}", delete_volume, "DELETE", query=_delete_query),
]
