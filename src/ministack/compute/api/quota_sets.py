"""Quotas (/os-quota-sets, /os-quota-class-sets/default) and /limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import validation
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import quotas
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, route, version

LEGACY = {"floating_ips": 10, "fixed_ips": -1, "security_groups": 10, "security_group_rules": 20}


# the file-injection quotas, gone with personality files at 2.57
INJECTION = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def _visible(request: Request, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if version(request) < (2, 36):
        out.update({k: out.get(k, v) for k, v in LEGACY.items()})
    if version(request) >= (2, 57):
        out = {k: v for k, v in out.items() if k not in INJECTION}
    return out


async def show_quota_set(request: Request) -> Response:
    project_id = request.path_params["project_id"]
    await caller(request, "os_compute_api:os-quota-sets:show", project_id)
    api = api_of(request)
    async with api.db.session() as s:
        limit = await quotas.limits(s, project_id)
        if request.url.path.endswith("/detail"):
            used = await quotas.usage(s, project_id)
            used["key_pairs"] = (
                await s.execute(
                    select(func.count())
                    .select_from(m.KeyPair)
                    .where(m.KeyPair.user_id == (request.query_params.get("user_id") or ""))
                )
            ).scalar_one()
            detail = {
                k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0}
                for k, v in _visible(request, limit).items()
            }
            return json_response({"quota_set": {"id": project_id, **detail}})
    return json_response({"quota_set": {"id": project_id, **_visible(request, limit)}})


async def show_defaults(request: Request) -> Response:
    project_id = request.path_params["project_id"]
    await caller(request, "os_compute_api:os-quota-sets:defaults")
    async with api_of(request).db.session() as s:
        values = {k: v for k, v in (await quotas.class_limits(s)).items() if k in quotas.DEFAULTS}
    return json_response({"quota_set": {"id": project_id, **_visible(request, values)}})


# Before 2.50 a quota class shows the network quotas and hides the server group ones (Nova);
# from 2.50 the reverse, and from 2.57 without the file-injection quotas
_CLASS_HIDDEN = ("server_groups", "server_group_members")


def _class_view(request: Request, values: dict[str, int]) -> dict[str, int]:
    v = version(request)
    if v < (2, 50):
        shown = {**LEGACY, **values}
        return {k: n for k, n in shown.items() if k not in _CLASS_HIDDEN}
    hidden = (*LEGACY, *(INJECTION if v >= (2, 57) else ()))
    return {k: n for k, n in values.items() if k not in hidden}


async def show_quota_class(request: Request) -> Response:
    await caller(request, "os_compute_api:os-quota-class-sets:show")
    name = request.path_params["name"]
    async with api_of(request).db.session() as s:
        values = await quotas.class_limits(s, name)
    return json_response({"quota_class_set": {"id": name, **_class_view(request, values)}})


async def update_quota_class(request: Request) -> Response:
    """Set a quota class's limits; the `default` class is every project's default."""
    await caller(request, "os_compute_api:os-quota-class-sets:update")
    name = request.path_params["name"]
    # keys and values checked by schemas.update_quota_class_set
    body = validation.body(request)["quota_class_set"]
    async with api_of(request).db.writer() as s:
        for key, raw in body.items():
            row = await s.get(m.QuotaClass, (name, key))
            if row is None:
                s.add(m.QuotaClass(class_name=name, resource=key, hard_limit=int(raw)))
            else:
                row.hard_limit = int(raw)
        await s.flush()
        values = await quotas.class_limits(s, name)
    return json_response({"quota_class_set": _class_view(request, values)})


async def update_quota_set(request: Request) -> Response:
    project_id = request.path_params["project_id"]
    await caller(request, "os_compute_api:os-quota-sets:update", project_id)
    # keys and values checked by schemas.update_quota_set (legacy keys before 2.36)
    body = dict(validation.body(request)["quota_set"])
    body.pop("force", None)
    values = {key: int(raw) for key, raw in body.items()}
    api = api_of(request)
    async with api.db.writer() as s:
        for key, value in values.items():
            if key in quotas.DEFAULTS:
                row = await s.get(m.QuotaLimit, (project_id, key))
                if row is None:
                    s.add(m.QuotaLimit(project_id=project_id, resource=key, hard_limit=value))
                else:
                    row.hard_limit = value
        await s.flush()
        limit = await quotas.limits(s, project_id)
    return json_response({"quota_set": _visible(request, limit)})


async def delete_quota_set(request: Request) -> Response:
    project_id = request.path_params["project_id"]
    await caller(request, "os_compute_api:os-quota-sets:delete", project_id)
    async with api_of(request).db.writer() as s:
        await s.execute(delete(m.QuotaLimit).where(m.QuotaLimit.project_id == project_id))
    return empty_response(202)


async def show_limits(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:limits")
    project_id = request.query_params.get("tenant_id") if auth.is_admin else None
    project_id = project_id or auth.project_id or ""
    async with api_of(request).db.session() as s:
        limit = await quotas.limits(s, project_id)
        used = await quotas.usage(s, project_id)
    absolute: dict[str, int] = {
        "maxServerMeta": limit["metadata_items"],
        "maxTotalCores": limit["cores"],
        "maxTotalInstances": limit["instances"],
        "maxTotalKeypairs": limit["key_pairs"],
        "maxTotalRAMSize": limit["ram"],
        "maxServerGroups": limit["server_groups"],
        "maxServerGroupMembers": limit["server_group_members"],
        "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if version(request) < (2, 39):  # the image-metadata proxy's limit, gone at 2.39
        absolute["maxImageMeta"] = limit["metadata_items"]
    if version(request) < (2, 57):  # personality files, gone at 2.57
        absolute["maxPersonality"] = limit["injected_files"]
        absolute["maxPersonalitySize"] = limit["injected_file_content_bytes"]
    if version(request) < (2, 36):
        absolute.update(
            maxSecurityGroups=10,
            maxSecurityGroupRules=20,
            maxTotalFloatingIps=10,
            totalFloatingIpsUsed=0,
            totalSecurityGroupsUsed=0,
        )
    return json_response({"limits": {"rate": [], "absolute": absolute}})


ROUTES = [
    Route("/v2.1/os-quota-sets/{project_id}", show_quota_set, methods=["GET"]),
    route(
        "/v2.1/os-quota-sets/{project_id}", update_quota_set, "PUT", body=schemas.update_quota_set
    ),
    Route("/v2.1/os-quota-sets/{project_id}", delete_quota_set, methods=["DELETE"]),
    Route("/v2.1/os-quota-sets/{project_id}/detail", show_quota_set, methods=["GET"]),
    Route("/v2.1/os-quota-sets/{project_id}/defaults", show_defaults, methods=["GET"]),
    route("/v2.1/os-quota-class-sets/{name}", show_quota_class, "GET"),
    route(
        "/v2.1/os-quota-class-sets/{name}",
        update_quota_class,
        "PUT",
        body=schemas.update_quota_class_set,
    ),
    Route("/v2.1/limits", show_limits, methods=["GET"]),
]
