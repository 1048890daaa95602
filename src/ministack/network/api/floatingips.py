"""/v2.0/floatingips: list, create, show, update (associate, disassociate), delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common.auth import Auth, require_auth
from ministack.common.web import empty_response
from ministack.network import floatingips, policies, schemas
from ministack.network import models as m
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


async def _render(s: AsyncSession, rows: list[Any], _auth: Auth) -> list[dict[str, Any]]:
    return await floatingips.render(s, rows)


async def list_floatingips(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_floatingip", auth.project_id)
    query = select(m.FloatingIP).where(own(m.FloatingIP, auth))
    return await list_response(request, floatingips.KIND, query, _render)


async def create_floatingip(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "floatingip", {})
    made = await floatingips.create(core_of(request), auth, body)
    return one("floatingip", made, request, 201)


async def show_floatingip(request: Request) -> Response:
    auth = await require_auth(request)
    found = await floatingips.show(core_of(request), auth, path_id(request))
    return one("floatingip", found, request)


async def update_floatingip(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "floatingip", {})
    found = await floatingips.update(
        core_of(request), auth, path_id(request), body, if_match(request)
    )
    return one("floatingip", found, request)


async def delete_floatingip(request: Request) -> Response:
    auth = await require_auth(request)
    await floatingips.delete(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


_ONE = "/v2.0/floatingips/{id}"
ROUTES: list[BaseRoute] = [
    route("/v2.0/floatingips", list_floatingips, "GET"),
    route("/v2.0/floatingips", create_floatingip, "POST", body=schemas.create_floatingip),
    route(_ONE, show_floatingip, "GET"),
    route(_ONE, update_floatingip, "PUT", body=schemas.update_floatingip),
    route(_ONE, delete_floatingip, "DELETE"),
]
