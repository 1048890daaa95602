"""/v2.0/subnetpools and /v2.0/subnetpools/{id}: list, create, show, update, delete, and the
add_prefixes / remove_prefixes actions (subnetpool-prefix-ops)."""

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
from ministack.network import policies, schemas, subnetpools
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
    return await subnetpools.render(s, rows)


async def list_subnetpools(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_subnetpool", auth.project_id)
    query = select(m.SubnetPool).where(subnetpools.visible_clause(auth))
    return await list_response(request, subnetpools.KIND, query, _render)


async def create_subnetpool(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "subnetpool", schemas.subnetpool_create_fields)
    created = await subnetpools.create(core_of(request), auth, body)
    return one("subnetpool", created, request, 201)


async def show_subnetpool(request: Request) -> Response:
    auth = await require_auth(request)
    found = await subnetpools.show(core_of(request), auth, path_id(request))
    return one("subnetpool", found, request)


async def update_subnetpool(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "subnetpool", schemas.subnetpool_update_fields)
    found = await subnetpools.update(
        core_of(request), auth, path_id(request), body, if_match(request)
    )
    return one("subnetpool", found, request)


async def delete_subnetpool(request: Request) -> Response:
    auth = await require_auth(request)
    await subnetpools.delete(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


async def add_prefixes(request: Request) -> Response:
    auth = await require_auth(request)
    raw: list[str] = validation.body(request)["prefixes"]
    found = await subnetpools.add_prefixes(core_of(request), auth, path_id(request), raw)
    return json_response({"prefixes": found})


async def remove_prefixes(request: Request) -> Response:
    auth = await require_auth(request)
    raw: list[str] = validation.body(request)["prefixes"]
    found = await subnetpools.remove_prefixes(core_of(request), auth, path_id(request), raw)
    return json_response({"prefixes": found})


ROUTES: list[BaseRoute] = [
    route("/v2.0/subnetpools", list_subnetpools, "GET"),
    route("/v2.0/subnetpools", create_subnetpool, "POST", body=schemas.create_subnetpool),
    route("/v2.0/subnetpools/{id}", show_subnetpool, "GET"),
    route("/v2.0/subnetpools/{id}", update_subnetpool, "PUT", body=schemas.update_subnetpool),
    route("/v2.0/subnetpools/{id}", delete_subnetpool, "DELETE"),
    route(
        "/v2.0/subnetpools/{id}/add_prefixes",
        add_prefixes,
        "PUT",
        body=schemas.subnetpool_prefixes,
    ),
    route(
        "/v2.0/subnetpools/{id}/remove_prefixes",
        remove_prefixes,
        "PUT",
        body=schemas.subnetpool_prefixes,
    ),
]
