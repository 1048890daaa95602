"""Access rules of application credentials: kept per user (``/v3/users/{id}/access_rules``),
attached to credentials when they are made, and enforced on every service by
`common.auth.require_auth` through the token's validation info."""

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

BASE = "/v3/users/{user_id}/access_rules"


def render_rule(r: m.AccessRule, base: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "service": r.service,
        "method": r.method,
        "path": r.path,
        "links": {"self": f"{base}/v3/users/{r.user_id}/access_rules/{r.id}"},
    }


async def attach(
    s: AsyncSession, user_id: str, cred_id: str, specs: list[dict[str, Any]]
) -> list[m.AccessRule]:
    """Give the credential these rules: by id (the user's own, else 404), or service, method
    and path (an equal rule of the user's is reused, as Keystone does)."""
    rules: dict[str, m.AccessRule] = {}
    for spec in specs:
        if "id" in spec:
            rule = await s.get(m.AccessRule, spec["id"])
            if rule is None or rule.user_id != user_id:
                raise errors.NotFound(f"Could not find access rule: {spec['id']}.")
        else:
            found = await s.execute(
                select(m.AccessRule).where(
                    m.AccessRule.user_id == user_id,
                    m.AccessRule.service == spec["service"],
                    m.AccessRule.method == spec["method"],
                    m.AccessRule.path == spec["path"],
                )
            )
            rule = found.scalars().first() or m.AccessRule(
                id=new_id(), user_id=user_id, **{k: spec[k] for k in ("service", "method", "path")}
            )
            s.add(rule)
            await s.flush()
        rules[rule.id] = rule
    for rule_id in rules:
        s.add(m.AppCredAccessRule(app_cred_id=cred_id, access_rule_id=rule_id))
    return list(rules.values())


async def rules_of(s: AsyncSession, cred_id: str) -> list[m.AccessRule]:
    linked = select(m.AppCredAccessRule.access_rule_id).where(
        m.AppCredAccessRule.app_cred_id == cred_id
    )
    query = select(m.AccessRule).where(m.AccessRule.id.in_(linked)).order_by(m.AccessRule.id)
    return list((await s.execute(query)).scalars().all())


async def _owned(request: Request, s: AsyncSession, action: str) -> m.AccessRule:
    auth = await require_auth(request)
    user_id, rule_id = request.path_params["user_id"], request.path_params["rule_id"]
    policies.authorize(auth, action, {"user_id": user_id})
    rule = await s.get(m.AccessRule, rule_id)
    if rule is None or rule.user_id != user_id:
        raise errors.NotFound(f"Could not find access rule: {rule_id}.")
    return rule


async def list_rules(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, "identity:list_access_rules", {"user_id": user_id})
    query = select(m.AccessRule).where(m.AccessRule.user_id == user_id).order_by(m.AccessRule.id)
    for key, value in validation.query(request).items():
        if key in ("service", "method", "path") and value:
            query = query.where(getattr(m.AccessRule, key) == value)
    async with core_of(request).db.session() as s:
        rows = (await s.execute(query)).scalars().all()
    base = base_url(request)
    return json_response(
        {
            "access_rules": [render_rule(r, base) for r in rows],
            "links": {"self": f"{base}{request.url.path}", "previous": None, "next": None},
        }
    )


async def show_rule(request: Request) -> Response:
    async with core_of(request).db.session() as s:
        rule = await _owned(request, s, "identity:get_access_rule")
    return json_response({"access_rule": render_rule(rule, base_url(request))})


async def delete_rule(request: Request) -> Response:
    """Delete a rule no application credential uses (403 while one does)."""
    core = core_of(request)
    async with core.db.writer() as s:
        rule = await _owned(request, s, "identity:delete_access_rule")
        used = await s.execute(
            select(m.AppCredAccessRule.app_cred_id)
            .where(m.AppCredAccessRule.access_rule_id == rule.id)
            .limit(1)
        )
        if used.first() is not None:
            raise errors.Forbidden(
                f"Cannot delete access rule {rule.id}: an application credential uses it."
            )
        await s.delete(rule)
        await core.bump(s)
    return empty_response()


ROUTES = [
    route(BASE, list_rules, "GET", query=schemas.list_access_rules),
    route(BASE + "/{rule_id}", show_rule, "GET"),
    route(BASE + "/{rule_id}", delete_rule, "DELETE"),
]
