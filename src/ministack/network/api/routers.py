"""/v2.0/routers: list, create, show, update, delete; add_router_interface and
remove_router_interface."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import validation
from ministack.common.auth import Auth, require_auth
from ministack.common.web import empty_response, json_response
from ministack.network import models as m
from ministack.network import policies, routers, schemas
from ministack.network.api.common import (
    core_of,
    if_match,
    list_response,
    member,
    one,
    path_id,
    route,
)
from ministack.network.core import own


async def _render(s: AsyncSession, rows: list[Any], auth: Auth) -> list[dict[str, Any]]:
    return await routers.render(s, rows, auth)


async def list_routers(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_router", auth.project_id)
    query = select(m.Router).where(own(m.Router, auth))
    return await list_response(request, routers.KIND, query, _render)


async def create_router(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "router", schemas.router_fields)
    return one("router", await routers.create(core_of(request), auth, body), request, 201)


async def show_router(request: Request) -> Response:
    auth = await require_auth(request)
    return one("router", await routers.show(core_of(request), auth, path_id(request)), request)


async def update_router(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "router", schemas.router_fields)
    found = await routers.update(core_of(request), auth, path_id(request), body, if_match(request))
    return one("router", found, request)


async def delete_router(request: Request) -> Response:
    auth = await require_auth(request)
    await routers.delete(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


async def add_router_interface(request: Request) -> Response:
    auth = await require_auth(request)
    body = validation.body(request)
    info = await routers.add_interface(core_of(request), auth, path_id(request), body)
    return json_response(info)


async def remove_router_interface(request: Request) -> Response:
    auth = await require_auth(request)
    body = validation.body(request)
    info = await routers.remove_interface(core_of(request), auth, path_id(request), body)
    return json_response(info)


_ONE = "/v2.0/routers/{id}"
ROUTES: list[BaseRoute] = [
    route("/v2.0/routers", list_routers, "GET"),
    route("/v2.0/routers", create_router, "POST", body=schemas.create_router),
    route(_ONE, show_router, "GET"),
    route(_ONE, update_router, "PUT", body=schemas.update_router),
    route(_ONE, delete_router, "DELETE"),
    route(
        _ONE + "/add_router_interface", add_router_interface, "PUT", body=schemas.router_interface
    ),
    route(
        _ONE + "/remove_router_interface",
        remove_router_interface,
        "PUT",
        body=schemas.router_interface,
    ),
]
