"""Volume types (admin-managed), their extra specs and project access (private types)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, params, validation
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume.api import schemas, views
from ministack.volume.api.common import caller, core_of, route


async def _specs(s: AsyncSession, type_id: str) -> dict[str, str]:
    rows = await s.execute(
        select(m.VolumeTypeExtraSpec).where(m.VolumeTypeExtraSpec.type_id == type_id)
    )
    return {r.key: r.value for r in rows.scalars()}


async def _load(request: Request, s: AsyncSession, auth: Auth) -> m.VolumeType:
    type_id = request.path_params["type_id"]
    if type_id == "default":
        return await core_of(request).default_type(s)
    return await core_of(request).volume_type(s, auth, type_id)


async def list_types(request: Request) -> Response:
    auth = await caller(request, "volume_extension:type_get_all")
    query = validation.query(request)
    stmt = select(m.VolumeType).order_by(m.VolumeType.created_at, m.VolumeType.name)
    wanted = query.get("is_public")
    if not auth.is_admin:
        shared = select(m.VolumeTypeProject.type_id).where(
            m.VolumeTypeProject.project_id == (auth.project_id or "")
        )
        stmt = stmt.where(or_(m.VolumeType.is_public.is_(True), m.VolumeType.id.in_(shared)))
    elif wanted not in (None, "None", "none"):
        stmt = stmt.where(m.VolumeType.is_public.is_(params.to_bool(wanted)))
    async with core_of(request).db.session() as s:
        rows = (await s.execute(stmt)).scalars().all()
        items = [views.volume_type(r, await _specs(s, r.id), auth) for r in rows]
    return json_response({"volume_types": items})


async def show_type(request: Request) -> Response:
    auth = await caller(request, "volume_extension:type_get")
    async with core_of(request).db.session() as s:
        row = await _load(request, s, auth)
        return json_response({"volume_type": views.volume_type(row, await _specs(s, row.id), auth)})


async def create_type(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_manage")
    body = validation.body(request)["volume_type"]
    async with core_of(request).db.writer() as s:
        taken = await s.execute(select(m.VolumeType).where(m.VolumeType.name == body["name"]))
        if taken.scalars().first() is not None:
            raise errors.Conflict(f"Volume Type {body['name']} already exists.")
        now = utcnow()
        row = m.VolumeType(
            id=str(uuid.uuid4()),
            name=body["name"],
            description=body.get("description"),
            is_public=params.to_bool(body.get("os-volume-type-access:is_public", True)),
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        await s.flush()
        for key, value in (body.get("extra_specs") or {}).items():
            s.add(m.VolumeTypeExtraSpec(type_id=row.id, key=key, value=value))
        await s.flush()
        return json_response({"volume_type": views.volume_type(row, await _specs(s, row.id), auth)})


async def update_type(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_manage")
    body = validation.body(request)["volume_type"]
    async with core_of(request).db.writer() as s:
        row = await _load(request, s, auth)
        if body.get("name"):
            taken = await s.execute(
                select(m.VolumeType).where(
                    m.VolumeType.name == body["name"], m.VolumeType.id != row.id
                )
            )
            if taken.scalars().first() is not None:
                raise errors.Conflict(f"Volume Type {body['name']} already exists.")
            row.name = body["name"]
        if "description" in body:
            row.description = body["description"]
        if "is_public" in body:
            row.is_public = params.to_bool(body["is_public"])
        row.updated_at = utcnow()
        return json_response({"volume_type": views.volume_type(row, await _specs(s, row.id), auth)})


async def delete_type(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_manage")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await _load(request, s, auth)
        if row.name == core.settings.volume.default_volume_type:
            raise errors.BadRequest(
                "Invalid volume type: the default volume type cannot be deleted."
            )
        used = (
            await s.execute(
                select(func.count()).select_from(m.Volume).where(m.Volume.volume_type_id == row.id)
            )
        ).scalar_one()
        if used:
            raise errors.BadRequest(
                f"Target volume type is still in use: {used} volume(s) have type {row.name}."
            )
        await s.delete(row)
    return empty_response(202)


# --- extra specs -----------------------------------------------------------------------


async def list_specs(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_extra_specs:index")
    async with core_of(request).db.session() as s:
        row = await _load(request, s, auth)
        return json_response({"extra_specs": await _specs(s, row.id)})


async def set_specs(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_extra_specs:create")
    items = validation.body(request)["extra_specs"]
    async with core_of(request).db.writer() as s:
        row = await _load(request, s, auth)
        for key, value in items.items():
            await s.merge(m.VolumeTypeExtraSpec(type_id=row.id, key=key, value=value))
    return json_response({"extra_specs": items})


async def show_spec(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_extra_specs:show")
    key = request.path_params["key"]
    async with core_of(request).db.session() as s:
        row = await _load(request, s, auth)
        specs = await _specs(s, row.id)
    if key not in specs:
        raise errors.NotFound(f"Volume Type {row.id} has no extra specs with key {key}.")
    return json_response({key: specs[key]})


async def update_spec(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_extra_specs:update")
    key = request.path_params["key"]
    items = validation.body(request)
    if list(items) != [key]:
        raise errors.BadRequest("Request body and URI mismatch")
    async with core_of(request).db.writer() as s:
        row = await _load(request, s, auth)
        await s.merge(m.VolumeTypeExtraSpec(type_id=row.id, key=key, value=str(items[key])))
    return json_response(items)


async def delete_spec(request: Request) -> Response:
    auth = await caller(request, "volume_extension:types_extra_specs:delete")
    key = request.path_params["key"]
    async with core_of(request).db.writer() as s:
        row = await _load(request, s, auth)
        gone = await s.execute(
            delete(m.VolumeTypeExtraSpec).where(
                m.VolumeTypeExtraSpec.type_id == row.id, m.VolumeTypeExtraSpec.key == key
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise errors.NotFound(f"Volume Type {row.id} has no extra specs with key {key}.")
    return empty_response(202)


# --- access ----------------------------------------------------------------------------


async def list_access(request: Request) -> Response:
    auth = await caller(request, "volume_extension:volume_type_access:get_all_for_type")
    async with core_of(request).db.session() as s:
        row = await _load(request, s, auth)
        if row.is_public:
            raise errors.NotFound("Access list not available for public volume types.")
        rows = await s.execute(
            select(m.VolumeTypeProject).where(m.VolumeTypeProject.type_id == row.id)
        )
        items = [{"volume_type_id": r.type_id, "project_id": r.project_id} for r in rows.scalars()]
    return json_response({"volume_type_access": items})


async def type_action(request: Request) -> Response:
    body = validation.body(request)
    add = "addProjectAccess" in body
    rule = "addProjectAccess" if add else "removeProjectAccess"
    auth = await caller(request, f"volume_extension:volume_type_access:{rule}")
    project = body[rule]["project"]
    async with core_of(request).db.writer() as s:
        row = await _load(request, s, auth)
        if row.is_public:
            raise errors.BadRequest(
                "Invalid volume type: project access can only be given to a private type."
            )
        existing = await s.get(m.VolumeTypeProject, (row.id, project))
        if add and existing is not None:
            raise errors.Conflict(
                f"Volume type access for {row.id} / {project} combination already exists."
            )
        if not add and existing is None:
            raise errors.NotFound(f"Volume type access not found for {row.id} / {project}.")
        if add:
            s.add(m.VolumeTypeProject(type_id=row.id, project_id=project))
        else:
            await s.delete(existing)
    return empty_response(202)


P = "/v3/{project_id}/types"
T = P + "/{type_id}"
_types_query = params.query({"is_public": {"type": "string", "maxLength": 10}})
ROUTES = [
    route(P, list_types, "GET", query=_types_query),
    route(P, create_type, "POST", body=schemas.create_type),
    route(T, show_type, "GET"),
    route(T, update_type, "PUT", body=schemas.update_type),
    route(T, delete_type, "DELETE"),
    route(T + "/extra_specs", list_specs, "GET"),
    route(T + "/extra_specs", set_specs, "POST", body=schemas.extra_specs_body),
    route(T + "/extra_specs/{key:path}", show_spec, "GET"),
    route(T + "/extra_specs/{key:path}", update_spec, "PUT", body=schemas.extra_specs),
    route(T + "/extra_specs/{key:path}", delete_spec, "DELETE"),
    route(T + "/os-volume-type-access", list_access, "GET"),
    route(T + "/action", type_action, "POST", body=schemas.type_action),
]
