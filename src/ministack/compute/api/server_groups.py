"""Server groups (/os-server-groups): affinity, anti-affinity and (from 2.15) their soft
variants, which the scheduler honours for every member."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import quotas
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, route, version

HARD = ("affinity", "anti-affinity")
SOFT = ("soft-affinity", "soft-anti-affinity")


def render(request: Request, g: m.ServerGroup) -> dict[str, Any]:
    body: dict[str, Any] = {"id": g.uuid, "name": g.name}
    if version(request) >= (2, 64):  # one policy and its rules instead of policies/metadata
        body.update(policy=g.policy, rules=dict(g.rules or {}))
    else:
        body.update(policies=[g.policy], metadata={})
    body["members"] = list(g.members)
    if version(request) >= (2, 13):
        body.update(project_id=g.project_id, user_id=g.user_id)
    return body


async def list_groups(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-server-groups:index")
    query = select(m.ServerGroup).order_by(m.ServerGroup.id)
    if not (auth.reads_all and request.query_params.get("all_projects")):
        query = query.where(m.ServerGroup.project_id == (auth.project_id or ""))
    offset = int(request.query_params.get("offset", 0) or 0)  # digits: schemas.list_server_groups
    limit = request.query_params.get("limit")
    query = query.offset(offset)
    if limit:
        query = query.limit(min(int(limit), 1000))
    async with api_of(request).db.session() as s:
        rows = (await s.execute(query)).scalars().all()
    return json_response({"server_groups": [render(request, g) for g in rows]})


async def create_group(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-server-groups:create")
    body = validation.body(request)["server_group"]  # checked by schemas.create_server_group
    name = body["name"]
    policy = body["policy"] if "policy" in body else body["policies"][0]
    rules = dict(body.get("rules") or {})
    if rules and policy != "anti-affinity":
        raise errors.BadRequest("Only anti-affinity policy supports rules.")
    if int(rules.get("max_server_per_host", 1)) > 1:
        # the scheduler's anti-affinity filter allows one member per host, no more
        raise errors.BadRequest(
            "Creating an anti-affinity group with rule max_server_per_host > 1 is not yet "
            "supported."
        )
    group = m.ServerGroup(
        uuid=str(uuid.uuid4()),
        name=name,
        project_id=auth.project_id or "",
        user_id=auth.user_id,
        policy=policy,
        rules={k: int(v) for k, v in rules.items()},
        members=[],
    )
    api = api_of(request)
    async with api.db.writer() as s:
        await quotas.lock_project(s, api.db, group.project_id)
        limit = (await quotas.limits(s, group.project_id))["server_groups"]
        count = (
            await s.execute(
                select(func.count())
                .select_from(m.ServerGroup)
                .where(m.ServerGroup.project_id == group.project_id)
            )
        ).scalar_one()
        if 0 <= limit <= count:
            raise errors.OverLimit("Quota exceeded, too many server groups.")
        s.add(group)
    return json_response({"server_group": render(request, group)})


async def _load(request: Request, write: bool) -> m.ServerGroup:
    rule = (
        "os_compute_api:os-server-groups:delete"
        if write
        else "os_compute_api:os-server-groups:show"
    )
    auth = await caller(request, rule)
    ident = request.path_params["group_id"]
    async with api_of(request).db.session() as s:
        g = (
            await s.execute(select(m.ServerGroup).where(m.ServerGroup.uuid == ident))
        ).scalar_one_or_none()
    if g is None or (g.project_id != auth.project_id and not auth.reads_all):
        raise errors.NotFound(f"Instance group {ident} could not be found.")
    return g


async def show_group(request: Request) -> Response:
    return json_response({"server_group": render(request, await _load(request, False))})


async def delete_group(request: Request) -> Response:
    g = await _load(request, True)
    async with api_of(request).db.writer() as s:
        row = await s.get(m.ServerGroup, g.id)
        if row is not None:
            await s.delete(row)
    return empty_response(204)


ROUTES = [
    route("/v2.1/os-server-groups", list_groups, "GET", query=schemas.list_server_groups),
    route("/v2.1/os-server-groups", create_group, "POST", body=schemas.create_server_group),
    Route("/v2.1/os-server-groups/{group_id}", show_group, methods=["GET"]),
    Route("/v2.1/os-server-groups/{group_id}", delete_group, methods=["DELETE"]),
]
