"""/v2.0/quotas: list projects with their own limits, show (with defaults and details),
update and reset a project's limits (admin), as Neutron's quotas and quota_details."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.network import models as m
from ministack.network import policies, quotas, schemas
from ministack.network.api.common import core_of, route


def _project(request: Request) -> str:
    value: str = request.path_params["project_id"]
    return value


async def list_quotas(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "update_quota", None)
    core = core_of(request)
    async with core.db.session() as s:
        projects = sorted(set((await s.execute(select(m.Quota.project_id))).scalars()))
        out = []
        for project in projects:
            limits = await quotas.limits(s, core.settings, project)
            out.append({**limits, "project_id": project, "tenant_id": project})
    return json_response({"quotas": out})


async def show_quota(request: Request) -> Response:
    auth = await require_auth(request)
    project = _project(request)
    policies.authorize(auth, "get_quota", project)
    core = core_of(request)
    async with core.db.session() as s:
        limits = await quotas.limits(s, core.settings, project)
    return json_response({"quota": limits})


async def show_default_quota(request: Request) -> Response:
    auth = await require_auth(request)
    project = _project(request)
    policies.authorize(auth, "get_quota", project)
    return json_response({"quota": quotas.defaults(core_of(request).settings)})


async def show_quota_details(request: Request) -> Response:
    auth = await require_auth(request)
    project = _project(request)
    policies.authorize(auth, "get_quota", project)
    core = core_of(request)
    details: dict[str, Any] = {}
    async with core.db.session() as s:
        limits = await quotas.limits(s, core.settings, project)
        for resource, limit in limits.items():
            used = await quotas.used(s, project, resource)
            details[resource] = {"limit": limit, "used": used, "reserved": 0}
    return json_response({"quota": details})


async def update_quota(request: Request) -> Response:
    auth = await require_auth(request)
    project = _project(request)
    policies.authorize(auth, "update_quota", project)
    asked: dict[str, Any] = validation.body(request)["quota"]
    core = core_of(request)
    async with core.db.writer() as s:
        for resource, raw in asked.items():
            if resource not in quotas.RESOURCES:
                continue
            limit = int(raw)
            if limit < quotas.UNLIMITED:
                raise errors.BadRequest(
                    f"Invalid input for {resource}. Reason: '{limit}' should be >= -1."
                )
            row = await s.get(m.Quota, (project, resource))
            if row is None:
                s.add(m.Quota(project_id=project, resource=resource, hard_limit=limit))
            else:
                row.hard_limit = limit
        await s.flush()
        limits = await quotas.limits(s, core.settings, project)
    return json_response({"quota": limits})


async def delete_quota(request: Request) -> Response:
    auth = await require_auth(request)
    project = _project(request)
    policies.authorize(auth, "delete_quota", project)
    async with core_of(request).db.writer() as s:
        await s.execute(delete(m.Quota).where(m.Quota.project_id == project))
    return empty_response()


_ONE = "/v2.0/quotas/{project_id}"
ROUTES: list[BaseRoute] = [
    route("/v2.0/quotas", list_quotas, "GET"),
    route(_ONE, show_quota, "GET"),
    route(_ONE + "/default", show_default_quota, "GET"),
    route(_ONE + "/details", show_quota_details, "GET"),
    route(_ONE, update_quota, "PUT", body=schemas.update_quota),
    route(_ONE, delete_quota, "DELETE"),
]
