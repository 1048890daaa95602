"""/v2.0/agents: the hosts' network agents (DHCP, metadata, Linux bridge) as their heartbeats
left them: list, show, update (admin_state_up, description), delete. Admin only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common.auth import Auth, require_auth
from ministack.common.web import empty_response
from ministack.network import agents, listing, policies, schemas
from ministack.network import models as m
from ministack.network.api.common import core_of, list_response, member, one, path_id, route
from ministack.network.core import Core, not_found

KIND = listing.Kind(
    model=m.Agent,
    collection="agents",
    filters={
        "id": m.Agent.id,
        "agent_type": m.Agent.agent_type,
        "binary": m.Agent.binary,
        "host": m.Agent.host,
        "topic": m.Agent.topic,
        "admin_state_up": m.Agent.admin_state_up,
        "availability_zone": m.Agent.availability_zone,
    },
    sorts={"id": m.Agent.id, "host": m.Agent.host, "agent_type": m.Agent.agent_type},
    bools=frozenset({"admin_state_up"}),
    custom=frozenset({"alive"}),
)


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def view(row: m.Agent, core: Core) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent_type": row.agent_type,
        "binary": row.binary,
        "topic": row.topic,
        "host": row.host,
        "admin_state_up": row.admin_state_up,
        "alive": agents.alive(row, core.settings.network.agent_down_time),
        "availability_zone": row.availability_zone,
        "description": row.description,
        "configurations": orjson.loads(row.configurations),
        "resources_synced": row.resources_synced,
        "created_at": _when(row.created_at),
        "started_at": _when(row.started_at),
        "heartbeat_timestamp": _when(row.heartbeat_timestamp),
    }


async def _visible(s: AsyncSession, agent_id: str) -> m.Agent:
    row = await s.get(m.Agent, agent_id)
    if row is None:
        raise not_found("Agent", agent_id)
    return row


async def list_agents(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "get_agent", auth.project_id)
    core = core_of(request)
    wanted = request.query_params.get("alive")

    async def render(_s: AsyncSession, rows: list[Any], _auth: Auth) -> list[dict[str, Any]]:
        items = [view(r, core) for r in rows]
        if wanted is not None:
            alive = listing.to_bool(wanted, "alive")
            items = [i for i in items if i["alive"] is alive]
        return items

    return await list_response(request, KIND, select(m.Agent).where(true()), render)


async def show_agent(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "get_agent", auth.project_id)
    core = core_of(request)
    async with core.db.session() as s:
        row = await _visible(s, path_id(request))
        return one("agent", view(row, core), request)


async def update_agent(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "update_agent", auth.project_id)
    body = member(request, "agent", {"admin_state_up": schemas.boolean})
    core = core_of(request)
    async with core.db.writer() as s:
        row = await _visible(s, path_id(request))
        if "admin_state_up" in body:
            row.admin_state_up = body["admin_state_up"]
        if "description" in body:
            row.description = body["description"] or ""
        return one("agent", view(row, core), request)


async def delete_agent(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "delete_agent", auth.project_id)
    async with core_of(request).db.writer() as s:
        await s.delete(await _visible(s, path_id(request)))
    return empty_response()


ROUTES: list[BaseRoute] = [
    route("/v2.0/agents", list_agents, "GET"),
    route("/v2.0/agents/{id}", show_agent, "GET"),
    route("/v2.0/agents/{id}", update_agent, "PUT", body=schemas.update_agent),
    route("/v2.0/agents/{id}", delete_agent, "DELETE"),
]
