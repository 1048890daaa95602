"""/v2.0/subnets and /v2.0/subnets/{id}: list, create, show, update, delete."""

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
from ministack.network import policies, schemas, subnets
from ministack.network.api.common import (
    core_of,
    if_match,
    list_response,
    member,
    one,
    path_id,
    route,
)


async def _render(s: AsyncSession, rows: list[Any], _auth: Auth) -> list[dict[str, Any]]:
    return await subnets.render(s, rows)


async def list_subnets(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_subnet", auth.project_id)
    query = select(m.Subnet).where(subnets.visible_clause(auth))
    return await list_response(request, subnets.KIND, query, _render)


async def create_subnet(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "subnet", schemas.subnet_create_fields)
    return one("subnet", await subnets.create(core_of(request), auth, body), request, 201)


async def show_subnet(request: Request) -> Response:
    auth = await require_auth(request)
    return one("subnet", await subnets.show(core_of(request), auth, path_id(request)), request)


async def update_subnet(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "subnet", schemas.subnet_update_fields)
    found = await subnets.update(core_of(request), auth, path_id(request), body, if_match(request))
    return one("subnet", found, request)


async def delete_subnet(request: Request) -> Response:
    auth = await require_auth(request)
    await subnets.delete(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


ROUTES: list[BaseRoute] = [
    route("/v2.0/subnets", list_subnets, "GET"),
    route("/v2.0/subnets", create_subnet, "POST", body=schemas.create_subnet),
    route("/v2.0/subnets/{id}", show_subnet, "GET"),
    route("/v2.0/subnets/{id}", update_subnet, "PUT", body=schemas.update_subnet),
    route("/v2.0/subnets/{id}", delete_subnet, "DELETE"),
]
