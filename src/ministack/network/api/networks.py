"""/v2.0/networks and /v2.0/networks/{id}: list, create, show, update, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common.auth import Auth, require_auth
from ministack.common.web import empty_response
from ministack.network import models as m
from ministack.network import networks, policies, schemas
from ministack.network.api.common import (
    core_of,
    if_match,
    list_response,
    member,
    one,
    path_id,
    route,
)
from ministack.network.core import network_visible


async def list_networks(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_network", auth.project_id)
    core = core_of(request)

    async def render(s: AsyncSession, rows: list[Any], who: Auth) -> list[dict[str, Any]]:
        return await networks.render(s, core, rows, who)

    query = select(m.Network).where(network_visible(auth))
    return await list_response(request, networks.KIND, query, render)


async def create_network(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "network", schemas.network_fields)
    return one("network", await networks.create(core_of(request), auth, body), request, 201)


async def show_network(request: Request) -> Response:
    auth = await require_auth(request)
    return one("network", await networks.show(core_of(request), auth, path_id(request)), request)


async def update_network(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "network", schemas.network_fields)
    found = await networks.update(core_of(request), auth, path_id(request), body, if_match(request))
    return one("network", found, request)


async def delete_network(request: Request) -> Response:
    auth = await require_auth(request)
    await networks.delete(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


ROUTES: list[BaseRoute] = [
    route("/v2.0/networks", list_networks, "GET"),
    route("/v2.0/networks", create_network, "POST", body=schemas.create_network),
    route("/v2.0/networks/{id}", show_network, "GET"),
    route("/v2.0/networks/{id}", update_network, "PUT", body=schemas.update_network),
    route("/v2.0/networks/{id}", delete_network, "DELETE"),
]
