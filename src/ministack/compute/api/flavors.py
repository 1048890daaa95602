"""Flavors, their extra specs, and access to private flavors (Nova's /flavors)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, policy, validation
from ministack.common.auth import Auth
from ministack.common.pagination import paginate, parse_page
from ministack.common.params import to_bool
from ministack.common.web import empty_response, json_response
from ministack.compute import extra_specs
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, links, route, version
from ministack.compute.policies import RULES

VALIDATED = (2, 86)  # extra specs checked against the known ones from this microversion


def render(
    request: Request, f: m.Flavor, detail: bool = True, auth: Auth | None = None
) -> dict[str, Any]:
    """A flavor at the request's microversion: description from 2.55, extra_specs from 2.61
    (when policy lets `auth` read them), swap 0 instead of '' from 2.75."""
    v = version(request)
    body: dict[str, Any] = {
        "id": f.flavorid,
        "name": f.name,
        "links": links(request, "flavors", f.flavorid),
    }
    if v >= (2, 55):
        body["description"] = f.description
    if detail:
        body.update(
            {
                "ram": f.memory_mb,
                "disk": f.root_gb,
                "vcpus": f.vcpus,
                "swap": f.swap or (0 if v >= (2, 75) else ""),
                "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
                "OS-FLV-DISABLED:disabled": f.disabled,
                "os-flavor-access:is_public": f.is_public,
                "rxtx_factor": f.rxtx_factor,
            }
        )
        rule = RULES["os_compute_api:os-flavor-extra-specs:index"]
        if v >= (2, 61) and auth is not None and policy.check(auth, rule, _target(auth)):
            body["extra_specs"] = dict(f.extra_specs or {})
    return body


def _target(auth: Auth) -> dict[str, Any]:
    return {"project_id": auth.project_id, "user_id": auth.user_id}


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
        query = query.where(m.Flavor.memory_mb >= int(params["minRam"]))
    if "minDisk" in params:
        query = query.where(m.Flavor.root_gb >= int(params["minDisk"]))
    sort_key = {
        "memory_mb": m.Flavor.memory_mb,
        "ram": m.Flavor.memory_mb,
        "name": m.Flavor.name,
        "vcpus": m.Flavor.vcpus,
        "root_gb": m.Flavor.root_gb,
        "flavorid": m.Flavor.flavorid,
        "id": m.Flavor.id,
        "swap": m.Flavor.swap,
        "ephemeral_gb": m.Flavor.ephemeral_gb,
        "rxtx_factor": m.Flavor.rxtx_factor,
        "is_public": m.Flavor.is_public,
        "disabled": m.Flavor.disabled,
        "description": m.Flavor.description,
        "created_at": m.Flavor.created_at,
    }.get(params.get("sort_key", "flavorid"), m.Flavor.flavorid)  # the schema whitelists keys
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
    return json_response({"flavors": [render(request, f, detail, auth) for f in rows]})


async def list_flavors(request: Request) -> Response:
    return await _list(request, detail=False)


async def list_flavors_detail(request: Request) -> Response:
    return await _list(request, detail=True)


async def show_flavor(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:flavors:show")
    async with api_of(request).db.session() as s:
        f = await _get(request, auth, s)
    return json_response({"flavor": render(request, f, auth=auth)})


async def update_flavor(request: Request) -> Response:
    """2.55: PUT /flavors/{id} changes the description, the only mutable field."""
    auth = await caller(request, "os_compute_api:os-flavor-manage:update")
    if version(request) < (2, 55):
        raise errors.NotFound("The resource could not be found.")
    description = validation.body(request)["flavor"]["description"]  # schemas.update_flavor
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        f.description = description
    return json_response({"flavor": render(request, f, auth=auth)})


async def create_flavor(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-manage:create")
    body = validation.body(request)["flavor"]  # checked by schemas.create_flavor
    name = body["name"]
    # Nova: a number is kept as its text; null, missing (or 0) lets the service pick a UUID
    given = body.get("id")
    flavorid = str(given) if given else str(uuid.uuid4())
    f = m.Flavor(
        flavorid=flavorid,
        name=name,
        vcpus=int(body["vcpus"]),
        memory_mb=int(body["ram"]),
        root_gb=int(body["disk"]),
        ephemeral_gb=int(body.get("OS-FLV-EXT-DATA:ephemeral", 0)),
        swap=int(body.get("swap") or 0),
        rxtx_factor=float(body.get("rxtx_factor", 1.0)),
        is_public=to_bool(body.get("os-flavor-access:is_public", True)),
        description=body.get("description"),  # the schema allows it from 2.55
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
    return json_response({"flavor": render(request, f, auth=auth)})


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


def _specs(request: Request, value: dict[str, Any]) -> dict[str, str]:
    """Extra specs as stored: every value as text (the schema allowed strings and numbers);
    from 2.86 each key and value is checked against the extra specs Nova knows (400)."""
    specs = {key: str(item) for key, item in value.items()}
    if version(request) >= VALIDATED:
        for key, item in specs.items():
            extra_specs.validate(key, item)
    return specs


async def create_extra_specs(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-flavor-extra-specs:create")
    specs = _specs(request, validation.body(request)["extra_specs"])
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
    specs = _specs(request, validation.body(request))
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
    data = validation.body(request)  # exactly one of the two actions (schemas.flavor_action)
    async with api_of(request).db.writer() as s:
        f = await _get(request, auth, s)
        if "addTenantAccess" in data:
            tenant = data["addTenantAccess"]["tenant"]
            if f.is_public:
                raise errors.Conflict("Can not add access to a public flavor.")
            if await s.get(m.FlavorAccess, (f.id, tenant)):
                raise errors.Conflict(
                    f"Flavor access already exists for flavor {f.flavorid} and project {tenant} "
                    "combination."
                )
            s.add(m.FlavorAccess(flavor_id=f.id, project_id=tenant))
        elif "removeTenantAccess" in data:
            tenant = data["removeTenantAccess"]["tenant"]
            result = await s.execute(
                delete(m.FlavorAccess).where(
                    m.FlavorAccess.flavor_id == f.id, m.FlavorAccess.project_id == tenant
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise errors.NotFound(
                    f"Flavor access not found for {f.flavorid} / {tenant} combination."
                )
        await s.flush()
        return json_response(await _access_list(s, f))


_ONE = "/v2.1/flavors/{flavor_id}"
_SPECS = _ONE + "/os-extra_specs"
ROUTES: list[BaseRoute] = [
    route("/v2.1/flavors", list_flavors, "GET", query=schemas.list_flavors),
    route("/v2.1/flavors", create_flavor, "POST", body=schemas.create_flavor),
    route("/v2.1/flavors/detail", list_flavors_detail, "GET", query=schemas.list_flavors),
    route(_ONE, show_flavor, "GET"),
    route(_ONE, delete_flavor, "DELETE"),
    route(_ONE, update_flavor, "PUT", body=schemas.update_flavor),
    route(_ONE + "/action", flavor_action, "POST", body=schemas.flavor_action),
    route(_ONE + "/os-flavor-access", list_flavor_access, "GET"),
    route(_SPECS, list_extra_specs, "GET"),
    route(_SPECS, create_extra_specs, "POST", body=schemas.create_extra_specs),
    route(_SPECS + "/{key}", show_extra_spec, "GET"),
    route(_SPECS + "/{key}", update_extra_spec, "PUT", body=schemas.update_extra_spec),
    route(_SPECS + "/{key}", delete_extra_spec, "DELETE"),
]
