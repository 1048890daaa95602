"""Flavors, their extra specs, and access to private flavors (Nova's /flavors)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.pagination import paginate, parse_page
from ministack.common.web import empty_response, json_response, read_json
from ministack.compute import models as m
from ministack.compute.api.common import api_of, body_of, caller, check_name, int_field, links

MAX_FLAVOR = 2**31 - 1


def render(request: Request, f: m.Flavor, detail: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f.flavorid,
        "name": f.name,
        "links": links(request, "flavors", f.flavorid),
    }
    if detail:
        body.update(
            {
                "ram": f.memory_mb,
                "disk": f.root_gb,
                "vcpus": f.vcpus,
                "swap": f.swap or "",
                "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
                "OS-FLV-DISABLED:disabled": f.disabled,
                "os-flavor-access:is_public": f.is_public,
                "rxtx_factor": f.rxtx_factor,
            }
        )
    return body


def flavor_dict(f: m.Flavor) -> dict[str, Any]:
    """The copy of a flavor an instance keeps (as Nova embeds it in the instance)."""
    return {
        "id": f.flavorid,
        "name": f.name,
        "vcpus": f.vcpus,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "ephemeral": f.ephemeral_gb,
        "swap": f.swap,
        "extra_specs": dict(f.extra_specs or {}),
    }


async def find(s: AsyncSession, flavor_id: str, auth: Auth | None = None) -> m.Flavor | None:
    """The flavor by id, if the caller may see it (public, admin, or granted access)."""
    f = (
        await s.execute(select(m.Flavor).where(m.Flavor.flavorid == flavor_id))
    ).scalar_one_or_none()
    if f is None or auth is None or f.is_public or auth.is_admin:
        return f
    granted = await s.get(m.FlavorAccess, (f.id, auth.project_id or ""))
    return f if granted else None


async def _get(request: Request, auth: Auth, s: AsyncSession) -> m.Flavor:
    flavor_id = request.path_params["flavor_id"]
    f = await find(s, flavor_id, auth)
    if f is None:
        raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
    return f


async def _list(request: Request, detail: bool) -> Response:
    auth = await caller(request, "os_compute_api:flavors:index")
    params = request.query_params
    query = select(m.Flavor)
    raw_public = params.get("is_public", "true").lower() if auth.is_admin else "true"
    if raw_public in ("none", ""):
        pass
    elif raw_public in ("true", "1", "yes", "t", "on"):
        access = select(m.FlavorAccess.flavor_id).where(
            m.FlavorAccess.project_id == (auth.project_id or "")
        )
        query = query.where(or_(m.Flavor.is_public.is_(True), m.Flavor.id.in_(access)))
    else:
        query = query.where(m.Flavor.is_public.is_(False))
    if not auth.is_admin:
        query = query.where(m.Flavor.disabled.is_(False))
    if "minRam" in params:
        query = query.where(m.Flavor.memory_mb >= int_field(params["minRam"], "minRam"))
    if "minDisk" in params:
        query = query.where(m.Flavor.root_gb >= int_field(params["minDisk"], "minDisk"))
    sort_key = {
        "memory_mb": m.Flavor.memory_mb,
        "ram": m.Flavor.memory_mb,
        "name": m.Flavor.name,
        "vcpus": m.Flavor.vcpus,
        "root_gb": m.Flavor.root_gb,
        "flavorid": m.Flavor.flavorid,
        "id": m.Flavor.id,
    }.get(params.get("sort_key", "flavorid"))
    if sort_key is None:
        raise errors.BadRequest(f"Invalid sort_key {params.get('sort_key')!r}.")
    async with api_of(request).db.session() as s:
        query = await paginate(
            s,
            query,
            parse_page(params),
            m.Flavor.flavorid,
            sort_key,
            descending=params.get("sort_dir", "asc") == "desc",
        )
        rows = (await s.execute(query)).scalars().all()
    return json_response({"flavors": [render(request, f, detail) for f in rows]})


async def list_flavors(request: Request) -> Response:
    return await _list(request, detail=False)


async def list_flavors_detail(request: Request) -> Response:
    return await _list(request, detail=True)


async def show_flavor(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:flavors:show")
    async with api_of(request).db.session() as s:
        f = await _get(request, auth, s)
    return json_response({"flavor": render(request, f)})


async def create_flavor(request: Request) -> Response:
    await caller(request, "os_compute_api:os-flavor-manage:create")
    body = body_of(await read_json(request), "flavor")
    name = check_name(body.get("name"))
    flavorid = body.get("id") or str(uuid.uuid4())
    if not isinstance(flavorid, str) or len(flavorid) > 255:
        raise errors.BadRequest(f"Invalid input for field/attribute id. Value: {flavorid}.")
    is_public = body.get("os-flavor-access:is_public", True)
    if not isinstance(is_public, bool):
        raise errors.BadRequest("Invalid input for field/attribute os-flavor-access:is_public.")
    f = m.Flavor(
        flavorid=flavorid,
        name=name,
        vcpus=int_field(body.get("vcpus"), "vcpus", 1, MAX_FLAVOR),
        memory_mb=int_field(body.get("ram"), "ram", 1, MAX_FLAVOR),
        root_gb=int_field(body.get("disk"), "disk", 0, MAX_FLAVOR),
        ephemeral_gb=int_field(body.get("OS-FLV-EXT-DATA:ephemeral", 0), "ephemeral"),
        swap=int_field(body.get("swap", 0) or 0, "swap"),
        rxtx_factor=float(body.get("rxtx_factor", 1.0)),
        is_public=is_public,
        extra_specs={},
    )
    try:
        async with api_of(request).db.writer() as s:
            dup = (
                (
                    await s.execute(
                        select(m.Flavor).where(
                            or_(m.Flavor.name == name, m.Flavor.flavorid == flavorid)
                        )
                    )
                )
                .scalars()
                .first()
            )
            if dup is not None:
                what = f"name {name}" if dup.name == name else f"ID {flavorid}"
                raise errors.Conflict(f"Flavor with {what} already exists.")
            s.add(f)
    except IntegrityError:
        raise errors.Conflict(f"Flavor with name {name} already exists.") from None
    return json_response({"flavor": render(request, f)})


async def delete_flavor(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-manage:delete")
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        await s.delete(f)
    return empty_response(202)


async def list_extra_specs(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-extra-specs:index")
    async with api_of(request).db.session() as s:
        f = await _get(request, auth, s)
    return json_response({"extra_specs": dict(f.extra_specs or {})})


def _check_specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise errors.BadRequest(
            "Invalid input for field/attribute extra_specs: an object of "
            "string keys and values is required."
        )
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise errors.BadRequest(f"Invalid extra spec key {key!r}.")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise errors.BadRequest(f"Invalid extra spec value for {key!r}.")
        out[key] = str(item)
    return out


async def create_extra_specs(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-extra-specs:create")
    specs = _check_specs((await read_json(request)).get("extra_specs"))
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        f.extra_specs = {**(f.extra_specs or {}), **specs}
    return json_response({"extra_specs": specs})


async def show_extra_spec(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-extra-specs:show")
    key = request.path_params["key"]
    async with api_of(request).db.session() as s:
        f = await _get(request, auth, s)
    if key not in (f.extra_specs or {}):
        raise errors.NotFound(f"Flavor {f.flavorid} has no extra specs with key {key}.")
    return json_response({key: f.extra_specs[key]})


async def update_extra_spec(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-extra-specs:update")
    key = request.path_params["key"]
    specs = _check_specs(await read_json(request))
    if list(specs) != [key]:
        raise errors.BadRequest("Request body and URI mismatch")
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        f.extra_specs = {**(f.extra_specs or {}), **specs}
    return json_response(specs)


async def delete_extra_spec(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-extra-specs:delete")
    key = request.path_params["key"]
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        if key not in (f.extra_specs or {}):
            raise errors.NotFound(f"Flavor {f.flavorid} has no extra specs with key {key}.")
        f.extra_specs = {k: v for k, v in f.extra_specs.items() if k != key}
    return empty_response(202)


async def _access_list(s: AsyncSession, f: m.Flavor) -> dict[str, Any]:
    rows = (
        await s.execute(select(m.FlavorAccess.project_id).where(m.FlavorAccess.flavor_id == f.id))
    ).scalars()
    return {"flavor_access": [{"flavor_id": f.flavorid, "tenant_id": p} for p in sorted(rows)]}


async def list_flavor_access(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-access")
    async with api_of(request).db.session() as s:
        f = await _get(request, auth, s)
        if f.is_public:
            raise errors.NotFound("Access list not available for public flavors.")
        return json_response(await _access_list(s, f))


async def flavor_action(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-access:add_tenant_access")
    data = await read_json(request)
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        if "addTenantAccess" in data:
            tenant = str(body_of(data, "addTenantAccess").get("tenant", ""))
            if f.is_public:
                raise errors.Conflict("Can not add access to a public flavor.")
            if await s.get(m.FlavorAccess, (f.id, tenant)):
                raise errors.Conflict(
                    f"Flavor access already exists for flavor {f.flavorid} and project {tenant} "
                    "combination."
                )
            s.add(m.FlavorAccess(flavor_id=f.id, project_id=tenant))
        elif "removeTenantAccess" in data:
            tenant = str(body_of(data, "removeTenantAccess").get("tenant", ""))
            result = await s.execute(
                delete(m.FlavorAccess).where(
                    m.FlavorAccess.flavor_id == f.id, m.FlavorAccess.project_id == tenant
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise errors.NotFound(
                    f"Flavor access not found for {f.flavorid} / {tenant} combination."
                )
        else:
            raise errors.BadRequest(
                "Unknown flavor action: use addTenantAccess or removeTenantAccess."
            )
        await s.flush()
        return json_response(await _access_list(s, f))


ROUTES = [
    Route("/v2.1/flavors", list_flavors, methods=["GET"]),
    Route("/v2.1/flavors", create_flavor, methods=["POST"]),
    Route("/v2.1/flavors/detail", list_flavors_detail, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}", show_flavor, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}", delete_flavor, methods=["DELETE"]),
    Route("/v2.1/flavors/{flavor_id}/action", flavor_action, methods=["POST"]),
    Route("/v2.1/flavors/{flavor_id}/os-flavor-access", list_flavor_access, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}/os-extra_specs", list_extra_specs, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}/os-extra_specs", create_extra_specs, methods=["POST"]),
    Route("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", show_extra_spec, methods=["GET"]),
    Route("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", update_extra_spec, methods=["PUT"]),
    Route("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", delete_extra_spec, methods=["DELETE"]),
]
