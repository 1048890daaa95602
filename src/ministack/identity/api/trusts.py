"""Trusts (``/v3/OS-TRUST/trusts``): create, list, show, delete and the trust's roles.

Who may delegate what is in `identity.trusts`; trust-scoped tokens are issued by `authn` and
checked again at each validation (`IdentityCore._load_trust`), so deleting a trust, or the
trustor losing the delegated role, ends its tokens on their next use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, policy, validation
from ministack.common.auth import Auth, require_auth
from ministack.common.db import new_id, utcnow
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api import schemas
from ministack.identity.api.crud import base_url, core_of, route
from ministack.identity.api.users import parse_expiry
from ministack.identity.trusts import MAX_REDELEGATION_COUNT, check_delegation, usable

BASE = "/v3/OS-TRUST/trusts"
TRUST_FIELDS = (
    *schemas.create_trust["properties"]["trust"]["properties"],
    "id",
    "links",
    "roles_links",
    "deleted_at",
    "redelegated_trust_id",
)


def _time(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def render_trust(t: m.Trust, roles: list[dict[str, Any]], base: str) -> dict[str, Any]:
    url = f"{base}{BASE}/{t.id}"
    return {
        **(t.extra or {}),
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
        "expires_at": _time(t.expires_at),
        "remaining_uses": t.remaining_uses,
        "allow_redelegation": t.allow_redelegation,
        "redelegation_count": t.redelegation_count,
        "redelegated_trust_id": t.redelegated_trust_id,
        "deleted_at": None,
        "roles": roles,
        "roles_links": {"self": f"{url}/roles", "previous": None, "next": None},
        "links": {"self": url},
    }


async def _roles(s: AsyncSession, ids: list[str], base: str) -> list[dict[str, Any]]:
    rows = (await s.execute(select(m.Role).where(m.Role.id.in_(ids)))).scalars().all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "domain_id": None,
            "links": {"self": f"{base}/v3/roles/{r.id}"},
        }
        for r in sorted(rows, key=lambda r: r.name)
    ]


async def _role_ids(s: AsyncSession, specs: list[dict[str, Any]]) -> list[str]:
    """Role ids for ``[{"id": ...} | {"name": ...}]``; 404 for a role that does not exist."""
    ids: list[str] = []
    for spec in specs:
        query = select(m.Role.id)
        if spec.get("id"):
            query = query.where(m.Role.id == spec["id"])
        elif spec.get("name"):
            query = query.where(m.Role.name == spec["name"])
        else:
            raise errors.BadRequest("Invalid input for field 'trust.roles': name an id or a name.")
        found = (await s.execute(query)).scalar()
        if found is None:
            raise errors.NotFound(f"Could not find role: {spec.get('id') or spec.get('name')}.")
        ids.append(found)
    return list(dict.fromkeys(ids))


def _party_to(auth: Auth, action: str, t: m.Trust) -> bool:
    """The rule allows the caller as the trust's trustor or as its trustee."""
    rule = policies.RULES[action]
    return any(
        policy.check(auth, rule, {"user_id": u}) for u in (t.trustor_user_id, t.trustee_user_id)
    )


async def _readable(request: Request, action: str) -> tuple[m.Trust, list[dict[str, Any]]]:
    """The trust of the path and its roles if the caller is a party to it (or reads the
    system); 404 for a trust that does not exist, has expired or is used up."""
    auth = await require_auth(request)
    trust_id = request.path_params["trust_id"]
    async with core_of(request).db.session() as s:
        trust = await s.get(m.Trust, trust_id)
        if trust is None or not usable(trust):
            raise errors.NotFound(f"Could not find trust: {trust_id}.")
        if not _party_to(auth, action, trust):
            raise errors.Forbidden(
                f"You are not authorized to perform the requested action: {action}."
            )
        return trust, await _roles(s, trust.roles, base_url(request))


async def create_trust(request: Request) -> Response:
    auth = await require_auth(request)
    obj = validation.body(request)["trust"]
    policies.authorize(auth, "identity:create_trust", {"user_id": obj["trustor_user_id"]})
    core = core_of(request)
    if obj.get("roles") and not obj.get("project_id"):
        raise errors.BadRequest(
            "Invalid input for field 'trust.project_id': roles are delegated on a project."
        )
    extra = {k: v for k, v in obj.items() if k not in TRUST_FIELDS}
    trust = m.Trust(
        id=new_id(),
        trustor_user_id=obj["trustor_user_id"],
        trustee_user_id=obj["trustee_user_id"],
        project_id=obj.get("project_id"),
        impersonation=obj["impersonation"],
        expires_at=parse_expiry(obj.get("expires_at"), "trust.expires_at"),
        remaining_uses=obj.get("remaining_uses"),
        allow_redelegation=bool(obj.get("allow_redelegation")),
        extra=extra,
    )
    if trust.expires_at is not None and trust.expires_at <= utcnow():
        raise errors.BadRequest("Invalid input for field 'trust.expires_at': it has passed.")
    given = obj.get("redelegation_count")
    if trust.allow_redelegation:
        trust.redelegation_count = given if given is not None else MAX_REDELEGATION_COUNT
    else:
        trust.redelegation_count = 0
    async with core.db.writer() as s:
        for user_id in (trust.trustor_user_id, trust.trustee_user_id):
            if await s.get(m.User, user_id) is None:
                raise errors.NotFound(f"Could not find user: {user_id}.")
        if trust.project_id and await s.get(m.Project, trust.project_id) is None:
            raise errors.NotFound(f"Could not find project: {trust.project_id}.")
        trust.roles = await _role_ids(s, obj.get("roles") or [])
        await check_delegation(core, s, auth, trust, count_given=given is not None)
        s.add(trust)
        await s.flush()
        await core.bump(s)
        body = render_trust(
            trust, await _roles(s, trust.roles, base_url(request)), base_url(request)
        )
    return json_response({"trust": body}, status=201)


async def list_trusts(request: Request) -> Response:
    """Every usable trust for an admin or a system reader; filtered by trustor or trustee,
    that user's own (Keystone's list_trusts_for_trustor / _for_trustee)."""
    auth = await require_auth(request)
    wanted = validation.query(request)
    query = select(m.Trust).order_by(m.Trust.id)
    filtered = False
    for key, action in (
        ("trustor_user_id", "identity:list_trusts_for_trustor"),
        ("trustee_user_id", "identity:list_trusts_for_trustee"),
    ):
        if wanted.get(key):
            policies.authorize(auth, action, {"user_id": wanted[key]})
            query = query.where(getattr(m.Trust, key) == wanted[key])
            filtered = True
    if not filtered:
        policies.authorize(auth, "identity:list_trusts")
    base = base_url(request)
    async with core_of(request).db.session() as s:
        rows = [t for t in (await s.execute(query)).scalars().all() if usable(t)]
        out = [render_trust(t, await _roles(s, t.roles, base), base) for t in rows]
    return json_response(
        {"trusts": out, "links": {"self": f"{base}{BASE}", "previous": None, "next": None}}
    )


async def show_trust(request: Request) -> Response:
    trust, roles = await _readable(request, "identity:get_trust")
    return json_response({"trust": render_trust(trust, roles, base_url(request))})


async def list_trust_roles(request: Request) -> Response:
    trust, roles = await _readable(request, "identity:list_roles_for_trust")
    url = f"{base_url(request)}{BASE}/{trust.id}/roles"
    return json_response({"roles": roles, "links": {"self": url, "previous": None, "next": None}})


async def show_trust_role(request: Request) -> Response:
    _trust, roles = await _readable(request, "identity:get_role_for_trust")
    role_id = request.path_params["role_id"]
    found = next((r for r in roles if r["id"] == role_id), None)
    if found is None:
        raise errors.NotFound(f"Could not find role: {role_id}.")
    return json_response({"role": found})


async def delete_trust(request: Request) -> Response:
    """Delete the trust and every trust redelegated from it; their tokens stop working."""
    auth = await require_auth(request)
    trust_id = request.path_params["trust_id"]
    core = core_of(request)
    async with core.db.writer() as s:
        trust = await s.get(m.Trust, trust_id)
        if trust is None:
            raise errors.NotFound(f"Could not find trust: {trust_id}.")
        policies.authorize(auth, "identity:delete_trust", {"user_id": trust.trustor_user_id})
        doomed, frontier = {trust.id}, [trust.id]
        while frontier:
            frontier = list(
                (
                    await s.execute(
                        select(m.Trust.id).where(m.Trust.redelegated_trust_id.in_(frontier))
                    )
                ).scalars()
            )
            frontier = [t for t in frontier if t not in doomed]
            doomed.update(frontier)
        await s.execute(delete(m.Trust).where(m.Trust.id.in_(doomed)))
        await core.bump(s)
    return empty_response()


_ONE = BASE + "/{trust_id}"
ROUTES = [
    route(BASE, list_trusts, "GET", query=schemas.list_trusts),
    route(BASE, create_trust, "POST", body=schemas.create_trust),
    route(_ONE, show_trust, "GET"),
    route(_ONE, delete_trust, "DELETE"),
    route(_ONE + "/roles", list_trust_roles, "GET"),
    route(_ONE + "/roles/{role_id}", show_trust_role, "GET"),
]
