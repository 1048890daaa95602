"""OS-EP-FILTER: endpoint groups (``/v3/OS-EP-FILTER/endpoint_groups``) and the endpoints a
project's catalog keeps (``/v3/OS-EP-FILTER/projects/{id}/endpoints/{id}`` and endpoint
groups associated with projects). Every change bumps the identity revision, so the narrowed
catalog (`identity.catalog.catalog_for`) shows in the very next token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.db import new_id
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api import schemas
from ministack.identity.api.crud import base_url, core_of, route
from ministack.identity.api.resources import render_endpoint, render_project
from ministack.identity.catalog import matches

EP = "/v3/OS-EP-FILTER"
GROUPS = f"{EP}/endpoint_groups"


def render_group(g: m.EndpointGroup, base: str) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description or None,
        "filters": dict(g.filters or {}),
        "links": {"self": f"{base}{GROUPS}/{g.id}"},
    }


def _listing(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    url = f"{base_url(request)}{request.url.path}"
    return json_response({key: items, "links": {"self": url, "previous": None, "next": None}})


async def _authorized(request: Request, action: str) -> None:
    policies.authorize(await require_auth(request), action)


async def _get(s: AsyncSession, model: type[Any], what: str, key: str) -> Any:
    row = await s.get(model, key)
    if row is None:
        raise errors.NotFound(f"Could not find {what}: {key}.")
    return row


# -- endpoint groups -------------------------------------------------------------------------


async def create_group(request: Request) -> Response:
    await _authorized(request, "identity:create_endpoint_group")
    obj = validation.body(request)["endpoint_group"]
    group = m.EndpointGroup(
        id=new_id(),
        name=obj["name"],
        description=obj.get("description") or "",
        filters=obj["filters"],
    )
    core = core_of(request)
    async with core.db.writer() as s:
        s.add(group)
        await core.bump(s)
    return json_response({"endpoint_group": render_group(group, base_url(request))}, status=201)


async def list_groups(request: Request) -> Response:
    await _authorized(request, "identity:list_endpoint_groups")
    query = select(m.EndpointGroup).order_by(m.EndpointGroup.id)
    if validation.query(request).get("name"):
        query = query.where(m.EndpointGroup.name == validation.query(request)["name"])
    async with core_of(request).db.session() as s:
        rows = (await s.execute(query)).scalars().all()
    base = base_url(request)
    return _listing(request, "endpoint_groups", [render_group(g, base) for g in rows])


async def show_group(request: Request) -> Response:
    await _authorized(request, "identity:get_endpoint_group")
    async with core_of(request).db.session() as s:
        group = await _get(s, m.EndpointGroup, "endpoint group", request.path_params["group_id"])
    return json_response({"endpoint_group": render_group(group, base_url(request))})


async def update_group(request: Request) -> Response:
    await _authorized(request, "identity:update_endpoint_group")
    obj = validation.body(request)["endpoint_group"]
    core = core_of(request)
    async with core.db.writer() as s:
        group = await _get(s, m.EndpointGroup, "endpoint group", request.path_params["group_id"])
        for key in ("name", "filters"):
            if obj.get(key) is not None:
                setattr(group, key, obj[key])
        if "description" in obj:
            group.description = obj["description"] or ""
        await core.bump(s)
    return json_response({"endpoint_group": render_group(group, base_url(request))})


async def delete_group(request: Request) -> Response:
    await _authorized(request, "identity:delete_endpoint_group")
    core = core_of(request)
    async with core.db.writer() as s:
        group = await _get(s, m.EndpointGroup, "endpoint group", request.path_params["group_id"])
        await s.delete(group)
        await core.bump(s)
    return empty_response()


async def group_endpoints(request: Request) -> Response:
    await _authorized(request, "identity:list_endpoints_associated_with_endpoint_group")
    async with core_of(request).db.session() as s:
        group = await _get(s, m.EndpointGroup, "endpoint group", request.path_params["group_id"])
        endpoints = (await s.execute(select(m.Endpoint))).scalars().all()
    base = base_url(request)
    found = [render_endpoint(e, base) for e in endpoints if matches(e, group.filters)]
    return _listing(request, "endpoints", found)


async def group_projects(request: Request) -> Response:
    await _authorized(request, "identity:list_projects_associated_with_endpoint_group")
    group_id = request.path_params["group_id"]
    async with core_of(request).db.session() as s:
        await _get(s, m.EndpointGroup, "endpoint group", group_id)
        linked = select(m.ProjectEndpointGroup.project_id).where(
            m.ProjectEndpointGroup.endpoint_group_id == group_id
        )
        rows = (await s.execute(select(m.Project).where(m.Project.id.in_(linked)))).scalars()
        projects = [render_project(p, base_url(request)) for p in rows]
    return _listing(request, "projects", projects)


async def _group_link(request: Request, s: AsyncSession) -> tuple[str, str, Any]:
    group_id, project_id = request.path_params["group_id"], request.path_params["project_id"]
    await _get(s, m.EndpointGroup, "endpoint group", group_id)
    await _get(s, m.Project, "project", project_id)
    return group_id, project_id, await s.get(m.ProjectEndpointGroup, (group_id, project_id))


async def add_group_to_project(request: Request) -> Response:
    await _authorized(request, "identity:add_endpoint_group_to_project")
    core = core_of(request)
    async with core.db.writer() as s:
        group_id, project_id, link = await _group_link(request, s)
        if link is None:
            s.add(m.ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))
            await core.bump(s)
    return empty_response()


async def check_group_in_project(request: Request) -> Response:
    await _authorized(request, "identity:get_endpoint_group_in_project")
    async with core_of(request).db.session() as s:
        group_id, project_id, link = await _group_link(request, s)
    if link is None:
        raise errors.NotFound(
            f"Could not find endpoint group {group_id} associated with project {project_id}."
        )
    url = f"{base_url(request)}{GROUPS}/{group_id}/projects/{project_id}"
    return json_response(
        {
            "project_endpoint_group": {
                "endpoint_group_id": group_id,
                "project_id": project_id,
                "links": {"self": url},
            }
        }
    )


async def remove_group_from_project(request: Request) -> Response:
    await _authorized(request, "identity:remove_endpoint_group_from_project")
    core = core_of(request)
    async with core.db.writer() as s:
        group_id, project_id, link = await _group_link(request, s)
        if link is None:
            raise errors.NotFound(
                f"Could not find endpoint group {group_id} associated with project {project_id}."
            )
        await s.delete(link)
        await core.bump(s)
    return empty_response()


async def project_groups(request: Request) -> Response:
    await _authorized(request, "identity:list_endpoint_groups_for_project")
    project_id = request.path_params["project_id"]
    async with core_of(request).db.session() as s:
        await _get(s, m.Project, "project", project_id)
        linked = select(m.ProjectEndpointGroup.endpoint_group_id).where(
            m.ProjectEndpointGroup.project_id == project_id
        )
        rows = (
            await s.execute(select(m.EndpointGroup).where(m.EndpointGroup.id.in_(linked)))
        ).scalars()
        groups = [render_group(g, base_url(request)) for g in rows]
    return _listing(request, "endpoint_groups", groups)


# -- endpoints associated with projects ------------------------------------------------------


async def _endpoint_link(request: Request, s: AsyncSession) -> tuple[str, str, Any]:
    project_id, endpoint_id = request.path_params["project_id"], request.path_params["endpoint_id"]
    await _get(s, m.Project, "project", project_id)
    await _get(s, m.Endpoint, "endpoint", endpoint_id)
    return project_id, endpoint_id, await s.get(m.ProjectEndpoint, (project_id, endpoint_id))


async def add_endpoint_to_project(request: Request) -> Response:
    await _authorized(request, "identity:add_endpoint_to_project")
    core = core_of(request)
    async with core.db.writer() as s:
        project_id, endpoint_id, link = await _endpoint_link(request, s)
        if link is None:
            s.add(m.ProjectEndpoint(project_id=project_id, endpoint_id=endpoint_id))
            await core.bump(s)
    return empty_response()


async def check_endpoint_in_project(request: Request) -> Response:
    await _authorized(request, "identity:check_endpoint_in_project")
    async with core_of(request).db.session() as s:
        project_id, endpoint_id, link = await _endpoint_link(request, s)
    if link is None:
        raise errors.NotFound(
            f"Could not find endpoint {endpoint_id} associated with project {project_id}."
        )
    return empty_response()


async def remove_endpoint_from_project(request: Request) -> Response:
    await _authorized(request, "identity:remove_endpoint_from_project")
    core = core_of(request)
    async with core.db.writer() as s:
        project_id, endpoint_id, link = await _endpoint_link(request, s)
        if link is None:
            raise errors.NotFound(
                f"Could not find endpoint {endpoint_id} associated with project {project_id}."
            )
        await s.delete(link)
        await core.bump(s)
    return empty_response()


async def project_endpoints(request: Request) -> Response:
    """The endpoints associated with the project, directly or through endpoint groups."""
    await _authorized(request, "identity:list_endpoints_for_project")
    project_id = request.path_params["project_id"]
    async with core_of(request).db.session() as s:
        await _get(s, m.Project, "project", project_id)
        direct = set(
            (
                await s.execute(
                    select(m.ProjectEndpoint.endpoint_id).where(
                        m.ProjectEndpoint.project_id == project_id
                    )
                )
            ).scalars()
        )
        filters = (
            (
                await s.execute(
                    select(m.EndpointGroup.filters)
                    .join(
                        m.ProjectEndpointGroup,
                        m.ProjectEndpointGroup.endpoint_group_id == m.EndpointGroup.id,
                    )
                    .where(m.ProjectEndpointGroup.project_id == project_id)
                )
            )
            .scalars()
            .all()
        )
        endpoints = (await s.execute(select(m.Endpoint).order_by(m.Endpoint.id))).scalars().all()
    base = base_url(request)
    found = [
        render_endpoint(e, base)
        for e in endpoints
        if e.id in direct or any(matches(e, f) for f in filters)
    ]
    return _listing(request, "endpoints", found)


async def endpoint_projects(request: Request) -> Response:
    await _authorized(request, "identity:list_projects_for_endpoint")
    endpoint_id = request.path_params["endpoint_id"]
    async with core_of(request).db.session() as s:
        await _get(s, m.Endpoint, "endpoint", endpoint_id)
        linked = select(m.ProjectEndpoint.project_id).where(
            m.ProjectEndpoint.endpoint_id == endpoint_id
        )
        rows = (await s.execute(select(m.Project).where(m.Project.id.in_(linked)))).scalars()
        projects = [render_project(p, base_url(request)) for p in rows]
    return _listing(request, "projects", projects)


_GROUP = GROUPS + "/{group_id}"
_GROUP_PROJECT = _GROUP + "/projects/{project_id}"
_PROJECT_ENDPOINT = EP + "/projects/{project_id}/endpoints/{endpoint_id}"
ROUTES = [
    route(GROUPS, list_groups, "GET", query=schemas.list_endpoint_groups),
    route(GROUPS, create_group, "POST", body=schemas.create_endpoint_group),
    route(_GROUP, show_group, "GET"),
    route(_GROUP, update_group, "PATCH", body=schemas.update_endpoint_group),
    route(_GROUP, delete_group, "DELETE"),
    route(_GROUP + "/endpoints", group_endpoints, "GET"),
    route(_GROUP + "/projects", group_projects, "GET"),
    route(_GROUP_PROJECT, add_group_to_project, "PUT"),
    route(_GROUP_PROJECT, check_group_in_project, "GET"),
    route(_GROUP_PROJECT, remove_group_from_project, "DELETE"),
    route(EP + "/projects/{project_id}/endpoint_groups", project_groups, "GET"),
    route(EP + "/projects/{project_id}/endpoints", project_endpoints, "GET"),
    route(_PROJECT_ENDPOINT, add_endpoint_to_project, "PUT"),
    route(_PROJECT_ENDPOINT, check_endpoint_in_project, "GET"),
    route(_PROJECT_ENDPOINT, remove_endpoint_from_project, "DELETE"),
    route(EP + "/endpoints/{endpoint_id}/projects", endpoint_projects, "GET"),
]
