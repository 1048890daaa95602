"""/v2.0/ports and /v2.0/ports/{id}: list (with fixed_ips and security group filters), create,
show, update, delete."""

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
from ministack.network import policies, ports, schemas
from ministack.network.api.common import (
    core_of,
    if_match,
    list_response,
    member,
    one,
    path_id,
    route,
)


async def _render(s: AsyncSession, rows: list[Any], auth: Auth) -> list[dict[str, Any]]:
    return await ports.render(s, rows, auth)


async def list_ports(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_port", auth.project_id)
    query = select(m.Port).where(ports.visible_clause(auth))
    params = request.query_params
    for clause in ports.fixed_ip_filters(params.getlist("fixed_ips")):
        query = query.where(clause)
    groups = params.getlist("security_groups")
    if groups:
        linked = select(m.PortSecurityGroup.port_id).where(
            m.PortSecurityGroup.security_group_id.in_(groups)
        )
        query = query.where(m.Port.id.in_(linked))
    return await list_response(request, ports.KIND, query, _render)


async def create_port(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "port", schemas.port_update_fields)
    return one("port", await ports.create(core_of(request), auth, body), request, 201)


async def show_port(request: Request) -> Response:
    auth = await require_auth(request)
    return one("port", await ports.show(core_of(request), auth, path_id(request)), request)


async def update_port(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "port", schemas.port_update_fields)
    found = await ports.update(core_of(request), auth, path_id(request), body, if_match(request))
    return one("port", found, request)


async def delete_port(request: Request) -> Response:
    auth = await require_auth(request)
    await ports.delete(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


ROUTES: list[BaseRoute] = [
    route("/v2.0/ports", list_ports, "GET"),
    route("/v2.0/ports", create_port, "POST", body=schemas.create_port),
    route("/v2.0/ports/{id}", show_port, "GET"),
    route("/v2.0/ports/{id}", update_port, "PUT", body=schemas.update_port),
    route("/v2.0/ports/{id}", delete_port, "DELETE"),
]
