"""/v2.0/security-groups and /v2.0/security-group-rules: list, create, show, update (groups),
delete. Listing a project's groups makes its default group first, as Neutron does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common.auth import Auth, require_auth
from ministack.common.web import empty_response
from ministack.network import listing, policies, schemas, secgroups
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


async def _groups(s: AsyncSession, rows: list[Any], _auth: Auth) -> list[dict[str, Any]]:
    return await secgroups.render_groups(s, rows)


async def _rules(s: AsyncSession, rows: list[Any], _auth: Auth) -> list[dict[str, Any]]:
    return await secgroups.render_rules(s, rows)


async def _ensure_default(request: Request, auth: Auth, kind: listing.Kind) -> None:
    listing.check(kind, request.query_params)
    if auth.project_id and policies.allowed(auth, "get_security_group", auth.project_id):
        async with core_of(request).db.writer() as s:
            await secgroups.ensure_default(s, auth.project_id)


async def list_security_groups(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_security_group", auth.project_id)
    await _ensure_default(request, auth, secgroups.GROUP_KIND)
    query = select(m.SecurityGroup).where(secgroups.group_visible(auth))
    return await list_response(request, secgroups.GROUP_KIND, query, _groups)


async def create_security_group(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "security_group", schemas.security_group_fields)
    made = await secgroups.create_group(core_of(request), auth, body)
    return one("security_group", made, request, 201)


async def show_security_group(request: Request) -> Response:
    auth = await require_auth(request)
    found = await secgroups.show_group(core_of(request), auth, path_id(request))
    return one("security_group", found, request)


async def update_security_group(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "security_group", schemas.security_group_fields)
    found = await secgroups.update_group(
        core_of(request), auth, path_id(request), body, if_match(request)
    )
    return one("security_group", found, request)


async def delete_security_group(request: Request) -> Response:
    auth = await require_auth(request)
    await secgroups.delete_group(core_of(request), auth, path_id(request), if_match(request))
    return empty_response()


async def list_security_group_rules(request: Request) -> Response:
    auth = await require_auth(request)
    if not auth.reads_all:
        policies.authorize(auth, "get_security_group_rule", auth.project_id)
    await _ensure_default(request, auth, secgroups.RULE_KIND)
    query = select(m.SecurityGroupRule).where(secgroups.rule_visible(auth))
    return await list_response(request, secgroups.RULE_KIND, query, _rules)


async def create_security_group_rule(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "security_group_rule", {})
    made = await secgroups.create_rule(core_of(request), auth, body)
    return one("security_group_rule", made, request, 201)


async def show_security_group_rule(request: Request) -> Response:
    auth = await require_auth(request)
    found = await secgroups.show_rule(core_of(request), auth, path_id(request))
    return one("security_group_rule", found, request)


async def delete_security_group_rule(request: Request) -> Response:
    auth = await require_auth(request)
    await secgroups.delete_rule(core_of(request), auth, path_id(request))
    return empty_response()


_GROUPS, _RULES = "/v2.0/security-groups", "/v2.0/security-group-rules"
ROUTES: list[BaseRoute] = [
    route(_GROUPS, list_security_groups, "GET"),
    route(_GROUPS, create_security_group, "POST", body=schemas.create_security_group),
    route(_GROUPS + "/{id}", show_security_group, "GET"),
    route(_GROUPS + "/{id}", update_security_group, "PUT", body=schemas.update_security_group),
    route(_GROUPS + "/{id}", delete_security_group, "DELETE"),
    route(_RULES, list_security_group_rules, "GET"),
    route(_RULES, create_security_group_rule, "POST", body=schemas.create_security_group_rule),
    route(_RULES + "/{id}", show_security_group_rule, "GET"),
    route(_RULES + "/{id}", delete_security_group_rule, "DELETE"),
]
