"""Role grants (``/v3/projects/{p}/users/{u}/roles/{r}`` and friends), group membership,
and the ``/v3/role_assignments`` report with its filters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, policy
from ministack.common.auth import require_auth
from ministack.common.pagination import bool_param
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity.api.crud import base_url, core_of, route
from ministack.identity.api.resources import render_role
from ministack.identity.api.users import render_user
from ministack.identity.tokens import SYSTEM_ALL

READ = "admin | system_reader"  # Keystone: admin, or a reader of the whole system
TARGETS = {"projects": ("project", m.Project), "domains": ("domain", m.Domain)}
ACTORS = {"users": ("user", m.User), "groups": ("group", m.Group)}


async def _grant_parts(request: Request) -> tuple[str, str, str, str]:
    """(target kind, target id, actor kind, actor id) of a grant path; 404 naming what is
    missing. The system's grants (``/v3/system/...``) have the target ("system", "all")."""
    targets = request.path_params.get("targets", "system")
    if (targets not in TARGETS and targets != "system") or request.path_params[
        "actors"
    ] not in ACTORS:
        raise errors.NotFound("The resource could not be found.")
    actor_kind, actor_model = ACTORS[request.path_params["actors"]]
    actor_id = request.path_params["actor_id"]
    core = core_of(request)
    async with core.db.session() as s:
        if targets == "system":
            target_kind, target_id = "system", SYSTEM_ALL
        else:
            target_kind, target_model = TARGETS[targets]
            target_id = request.path_params["target_id"]
            if await s.get(target_model, target_id) is None:
                raise errors.NotFound(f"Could not find {target_kind}: {target_id}.")
        if await s.get(actor_model, actor_id) is None:
            raise errors.NotFound(f"Could not find {actor_kind}: {actor_id}.")
        role_id = request.path_params.get("role_id")
        if role_id is not None and await s.get(m.Role, role_id) is None:
            raise errors.NotFound(f"Could not find role: {role_id}.")
    return target_kind, target_id, actor_kind, actor_id


def _where(target_kind: str, target_id: str, actor_kind: str, actor_id: str) -> Any:
    return and_(
        m.Assignment.target_type == target_kind,
        m.Assignment.target_id == target_id,
        m.Assignment.actor_type == actor_kind,
        m.Assignment.actor_id == actor_id,
        m.Assignment.inherited.is_(False),
    )


async def grant_role(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:create_grant", "admin")
    tk, tid, ak, aid = await _grant_parts(request)
    core = core_of(request)
    try:
        async with core.db.writer() as s:
            exists = await s.execute(
                select(m.Assignment.role_id).where(
                    _where(tk, tid, ak, aid), m.Assignment.role_id == request.path_params["role_id"]
                )
            )
            if exists.first() is None:
                s.add(
                    m.Assignment(
                        target_type=tk,
                        target_id=tid,
                        actor_type=ak,
                        actor_id=aid,
                        role_id=request.path_params["role_id"],
                        inherited=False,
                    )
                )
                await core.bump(s)
    except IntegrityError:
        pass  # a concurrent identical grant won; the grant exists, which is what was asked
    return empty_response()


async def check_grant(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:check_grant", READ)
    tk, tid, ak, aid = await _grant_parts(request)
    core = core_of(request)
    async with core.db.session() as s:
        row = (
            await s.execute(
                select(m.Assignment.role_id).where(
                    _where(tk, tid, ak, aid), m.Assignment.role_id == request.path_params["role_id"]
                )
            )
        ).first()
    if row is None:
        raise errors.NotFound(
            f"Could not find role assignment with role: {request.path_params['role_id']}."
        )
    return empty_response()


async def revoke_grant(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:revoke_grant", "admin")
    tk, tid, ak, aid = await _grant_parts(request)
    core = core_of(request)
    async with core.db.writer() as s:
        result = await s.execute(
            delete(m.Assignment).where(
                _where(tk, tid, ak, aid), m.Assignment.role_id == request.path_params["role_id"]
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise errors.NotFound(
                f"Could not find role assignment with role: {request.path_params['role_id']}."
            )
        await core.bump(s)
    return empty_response()


async def list_grants(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:list_grants", READ)
    tk, tid, ak, aid = await _grant_parts(request)
    core = core_of(request)
    async with core.db.session() as s:
        roles = (
            (
                await s.execute(
                    select(m.Role)
                    .join(m.Assignment, m.Assignment.role_id == m.Role.id)
                    .where(_where(tk, tid, ak, aid))
                )
            )
            .scalars()
            .all()
        )
    base = base_url(request)
    return json_response(
        {
            "roles": [render_role(r, base) for r in roles],
            "links": {"self": None, "previous": None, "next": None},
        }
    )


# -- group membership ----------------------------------------------------------------------


async def _group_and_user(request: Request) -> tuple[str, str]:
    gid, uid = request.path_params["group_id"], request.path_params["user_id"]
    core = core_of(request)
    async with core.db.session() as s:
        if await s.get(m.Group, gid) is None:
            raise errors.NotFound(f"Could not find group: {gid}.")
        if await s.get(m.User, uid) is None:
            raise errors.NotFound(f"Could not find user: {uid}.")
    return gid, uid


async def add_member(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:add_user_to_group", "admin")
    gid, uid = await _group_and_user(request)
    core = core_of(request)
    try:
        async with core.db.writer() as s:
            if await s.get(m.GroupMember, (gid, uid)) is None:
                s.add(m.GroupMember(group_id=gid, user_id=uid))
                await core.bump(s)
    except IntegrityError:
        pass  # already a member
    return empty_response()


async def check_member(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:check_user_in_group", READ)
    gid, uid = await _group_and_user(request)
    core = core_of(request)
    async with core.db.session() as s:
        if await s.get(m.GroupMember, (gid, uid)) is None:
            raise errors.NotFound(f"User {uid} is not a member of group {gid}.")
    return empty_response()


async def remove_member(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:remove_user_from_group", "admin")
    gid, uid = await _group_and_user(request)
    core = core_of(request)
    async with core.db.writer() as s:
        result = await s.execute(
            delete(m.GroupMember).where(m.GroupMember.group_id == gid, m.GroupMember.user_id == uid)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise errors.NotFound(f"User {uid} is not a member of group {gid}.")
        await core.bump(s)
    return empty_response()


async def list_members(request: Request) -> Response:
    auth = await require_auth(request)
    policy.enforce(auth, "identity:list_users_in_group", READ)
    gid = request.path_params["group_id"]
    core = core_of(request)
    async with core.db.session() as s:
        if await s.get(m.Group, gid) is None:
            raise errors.NotFound(f"Could not find group: {gid}.")
        users = (
            (
                await s.execute(
                    select(m.User)
                    .join(m.GroupMember, m.GroupMember.user_id == m.User.id)
                    .where(m.GroupMember.group_id == gid)
                )
            )
            .scalars()
            .all()
        )
    base = base_url(request)
    return json_response(
        {
            "users": [render_user(u, base) for u in users],
            "links": {"self": None, "previous": None, "next": None},
        }
    )


# -- /v3/role_assignments ------------------------------------------------------------------


async def list_role_assignments(request: Request) -> Response:
    """Filters: user.id, group.id, role.id, scope.project.id, scope.domain.id, scope.system;
    effective expands group membership into per-user entries; include_names adds names."""
    auth = await require_auth(request)
    params = request.query_params
    scope_project = params.get("scope.project.id")
    target = {"project_id": scope_project} if scope_project else {}
    policy.enforce(auth, "identity:list_role_assignments", "admin | reader", target)
    effective = "effective" in params and bool_param(params.get("effective") or "true", "effective")
    names = "include_names" in params and bool_param(
        params.get("include_names") or "true", "include_names"
    )
    core = core_of(request)
    async with core.db.session() as s:
        rows = list((await s.execute(select(m.Assignment))).scalars().all())
        members: dict[str, list[str]] = {}
        if effective:
            for gm in (await s.execute(select(m.GroupMember))).scalars():
                members.setdefault(gm.group_id, []).append(gm.user_id)
        lookup = await _names(s) if names else None
    entries = []
    for a in rows:
        actors = [("user", a.actor_id)]
        if a.actor_type == "group":
            actors = (
                [("user", u) for u in members.get(a.actor_id, [])]
                if effective
                else [("group", a.actor_id)]
            )
        for actor_kind, actor_id in actors:
            entries.append((a, actor_kind, actor_id))
    out = [
        _render_assignment(a, kind, actor, lookup, base_url(request))
        for a, kind, actor in entries
        if _matches(params, a, kind, actor)
    ]
    return json_response(
        {"role_assignments": out, "links": {"self": None, "previous": None, "next": None}}
    )


def _matches(params: Any, a: m.Assignment, kind: str, actor: str) -> bool:
    checks = {
        "user.id": kind == "user" and actor == params.get("user.id"),
        "group.id": kind == "group" and actor == params.get("group.id"),
        "role.id": a.role_id == params.get("role.id"),
        "scope.project.id": a.target_type == "project"
        and a.target_id == params.get("scope.project.id"),
        "scope.domain.id": a.target_type == "domain"
        and a.target_id == params.get("scope.domain.id"),
        "scope.system": a.target_type == "system" and a.target_id == params.get("scope.system"),
    }
    return all(ok for key, ok in checks.items() if key in params)


async def _names(s: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    domains = {d.id: d.name for d in (await s.execute(select(m.Domain))).scalars()}
    for model in (m.User, m.Group, m.Project):
        for row in (await s.execute(select(model))).scalars():
            out[row.id] = {
                "name": row.name,
                "domain": {"id": row.domain_id, "name": domains.get(row.domain_id)},
            }
    for d_id, d_name in domains.items():
        out[d_id] = {"name": d_name}
    for role in (await s.execute(select(m.Role))).scalars():
        out[role.id] = {"name": role.name}
    return out


def _render_assignment(
    a: m.Assignment, kind: str, actor: str, lookup: dict[str, dict[str, Any]] | None, base: str
) -> dict[str, Any]:
    def ref(item_id: str) -> dict[str, Any]:
        return {"id": item_id, **(lookup.get(item_id, {}) if lookup is not None else {})}

    actors = "users" if a.actor_type == "user" else "groups"
    scope: dict[str, Any]
    if a.target_type == "system":
        scope = {"system": {a.target_id: True}}
        target = "system"
    else:
        scope = {a.target_type: ref(a.target_id)}
        target = f"{a.target_type}s/{a.target_id}"
    body: dict[str, Any] = {
        "role": ref(a.role_id),
        "scope": scope,
        kind: ref(actor),
        "links": {"assignment": f"{base}/v3/{target}/{actors}/{a.actor_id}/roles/{a.role_id}"},
    }
    if kind == "user" and a.actor_type == "group":
        body["links"]["membership"] = f"{base}/v3/groups/{a.actor_id}/users/{actor}"
    return body


_GRANT = "/v3/{targets:str}/{target_id}/{actors:str}/{actor_id}/roles"
_SYSTEM_GRANT = "/v3/system/{actors:str}/{actor_id}/roles"

ROUTES = [
    route(_SYSTEM_GRANT, list_grants, "GET"),
    route(_SYSTEM_GRANT + "/{role_id}", grant_role, "PUT"),
    route(_SYSTEM_GRANT + "/{role_id}", check_grant, "HEAD"),
    route(_SYSTEM_GRANT + "/{role_id}", check_grant, "GET"),
    route(_SYSTEM_GRANT + "/{role_id}", revoke_grant, "DELETE"),
    Route(_GRANT, list_grants, methods=["GET"]),
    Route(_GRANT + "/{role_id}", grant_role, methods=["PUT"]),
    Route(_GRANT + "/{role_id}", check_grant, methods=["HEAD", "GET"]),
    Route(_GRANT + "/{role_id}", revoke_grant, methods=["DELETE"]),
    Route("/v3/groups/{group_id}/users", list_members, methods=["GET"]),
    Route("/v3/groups/{group_id}/users/{user_id}", add_member, methods=["PUT"]),
    Route("/v3/groups/{group_id}/users/{user_id}", check_member, methods=["HEAD", "GET"]),
    Route("/v3/groups/{group_id}/users/{user_id}", remove_member, methods=["DELETE"]),
    Route("/v3/role_assignments", list_role_assignments, methods=["GET"]),
]
