"""Role grants (``/v3/projects/{p}/users/{u}/roles/{r}`` and friends), group membership,
and the ``/v3/role_assignments`` report with its filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.auth import require_auth
from ministack.common.pagination import bool_param
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api.crud import base_url, core_of, route
from ministack.identity.api.resources import render_role
from ministack.identity.api.users import render_user
from ministack.identity.inheritance import ProjectTree
from ministack.identity.tokens import SYSTEM_ALL

TARGETS = {"projects": ("project", m.Project), "domains": ("domain", m.Domain)}
ACTORS = {"users": ("user", m.User), "groups": ("group", m.Group)}


async def _grant_parts(request: Request) -> tuple[str, str, str, str, bool]:
    """(target kind, target id, actor kind, actor id, inherited) of a grant path; 404 naming
    what is missing. The system's grants (``/v3/system/...``) have the target ("system",
    "all"); OS-INHERIT's paths (``.../inherited_to_projects``) name inherited grants."""
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
    inherited = request.url.path.endswith("/inherited_to_projects")
    return target_kind, target_id, actor_kind, actor_id, inherited


def _where(
    target_kind: str, target_id: str, actor_kind: str, actor_id: str, inherited: bool
) -> Any:
    return and_(
        m.Assignment.target_type == target_kind,
        m.Assignment.target_id == target_id,
        m.Assignment.actor_type == actor_kind,
        m.Assignment.actor_id == actor_id,
        m.Assignment.inherited.is_(inherited),
    )


async def grant_role(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:create_grant")
    tk, tid, ak, aid, inh = await _grant_parts(request)
    core = core_of(request)
    try:
        async with core.db.writer() as s:
            exists = await s.execute(
                select(m.Assignment.role_id).where(
                    _where(tk, tid, ak, aid, inh),
                    m.Assignment.role_id == request.path_params["role_id"],
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
                        inherited=inh,
                    )
                )
                await core.bump(s)
    except IntegrityError:
        pass  # a concurrent identical grant won; the grant exists, which is what was asked
    return empty_response()


async def check_grant(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:check_grant")
    tk, tid, ak, aid, inh = await _grant_parts(request)
    core = core_of(request)
    async with core.db.session() as s:
        row = (
            await s.execute(
                select(m.Assignment.role_id).where(
                    _where(tk, tid, ak, aid, inh),
                    m.Assignment.role_id == request.path_params["role_id"],
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
    policies.authorize(auth, "identity:revoke_grant")
    tk, tid, ak, aid, inh = await _grant_parts(request)
    core = core_of(request)
    async with core.db.writer() as s:
        result = await s.execute(
            delete(m.Assignment).where(
                _where(tk, tid, ak, aid, inh),
                m.Assignment.role_id == request.path_params["role_id"],
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
    policies.authorize(auth, "identity:list_grants")
    tk, tid, ak, aid, inh = await _grant_parts(request)
    core = core_of(request)
    async with core.db.session() as s:
        roles = (
            (
                await s.execute(
                    select(m.Role)
                    .join(m.Assignment, m.Assignment.role_id == m.Role.id)
                    .where(_where(tk, tid, ak, aid, inh))
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
    policies.authorize(auth, "identity:add_user_to_group")
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
    policies.authorize(auth, "identity:check_user_in_group")
    gid, uid = await _group_and_user(request)
    core = core_of(request)
    async with core.db.session() as s:
        if await s.get(m.GroupMember, (gid, uid)) is None:
            raise errors.NotFound(f"User {uid} is not a member of group {gid}.")
    return empty_response()


async def remove_member(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:remove_user_from_group")
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
    policies.authorize(auth, "identity:list_users_in_group")
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


@dataclass(frozen=True)
class Entry:
    """One line of the report: an assignment as it applies to one actor and one target (a
    group's grant seen per member, an inherited grant seen on each project below it, when
    ``effective`` asks for that)."""

    a: m.Assignment
    kind: str
    actor: str
    target_type: str
    target_id: str
    expanded: bool = False  # an inherited grant shown on a project it reaches


async def list_role_assignments(request: Request) -> Response:
    """Filters: user.id, group.id, role.id, scope.project.id (with include_subtree),
    scope.domain.id, scope.system, scope.OS-INHERIT:inherited_to; effective expands group
    membership into per-user entries and inherited grants onto the projects they reach;
    include_names adds names."""
    auth = await require_auth(request)
    params = request.query_params
    scope_project = params.get("scope.project.id")
    target = {"project_id": scope_project} if scope_project else {}
    policies.authorize(auth, "identity:list_role_assignments", target)
    effective = _flag(params, "effective")
    names = _flag(params, "include_names")
    subtree = _flag(params, "include_subtree")
    if subtree and not scope_project:
        raise errors.BadRequest("include_subtree needs scope.project.id.")
    core = core_of(request)
    async with core.db.session() as s:
        rows = list((await s.execute(select(m.Assignment))).scalars().all())
        members: dict[str, list[str]] = {}
        if effective:
            for gm in (await s.execute(select(m.GroupMember))).scalars():
                members.setdefault(gm.group_id, []).append(gm.user_id)
        tree = await ProjectTree.load(s)
        lookup = await _names(s) if names else None
    projects = {scope_project} if scope_project else set()
    if scope_project and subtree:
        projects |= set(tree.below(scope_project))
    entries = [e for a in rows for e in _entries(a, effective, members, tree)]
    out = [
        _render_assignment(e, lookup, base_url(request))
        for e in entries
        if _matches(params, e, projects)
    ]
    return json_response(
        {"role_assignments": out, "links": {"self": None, "previous": None, "next": None}}
    )


def _flag(params: Any, name: str) -> bool:
    return name in params and bool(bool_param(params.get(name) or "true", name))


def _entries(
    a: m.Assignment, effective: bool, members: dict[str, list[str]], tree: ProjectTree
) -> list[Entry]:
    actors = [("user", a.actor_id)]
    if a.actor_type == "group":
        actors = (
            [("user", u) for u in members.get(a.actor_id, [])]
            if effective
            else [("group", a.actor_id)]
        )
    targets = [(a.target_type, a.target_id, False)]
    if a.inherited and effective:
        reached = tree.in_domain(a.target_id) if a.target_type == "domain" else []
        reached = reached or (tree.below(a.target_id) if a.target_type == "project" else [])
        targets = [("project", pid, True) for pid in reached]
    return [Entry(a, k, actor, t, tid, x) for k, actor in actors for t, tid, x in targets]


def _matches(params: Any, e: Entry, projects: set[str]) -> bool:
    checks = {
        "user.id": e.kind == "user" and e.actor == params.get("user.id"),
        "group.id": e.kind == "group" and e.actor == params.get("group.id"),
        "role.id": e.a.role_id == params.get("role.id"),
        "scope.project.id": e.target_type == "project" and e.target_id in projects,
        "scope.domain.id": e.target_type == "domain"
        and e.target_id == params.get("scope.domain.id"),
        "scope.system": e.target_type == "system" and e.target_id == params.get("scope.system"),
        "scope.OS-INHERIT:inherited_to": e.a.inherited
        and params.get("scope.OS-INHERIT:inherited_to") == "projects",
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
    e: Entry, lookup: dict[str, dict[str, Any]] | None, base: str
) -> dict[str, Any]:
    def ref(item_id: str) -> dict[str, Any]:
        return {"id": item_id, **(lookup.get(item_id, {}) if lookup is not None else {})}

    a = e.a
    actors = "users" if a.actor_type == "user" else "groups"
    scope: dict[str, Any]
    if e.target_type == "system":
        scope = {"system": {e.target_id: True}}
    else:
        scope = {e.target_type: ref(e.target_id)}
    if a.inherited and not e.expanded:
        scope["OS-INHERIT:inherited_to"] = "projects"
    if a.target_type == "system":
        link = f"{base}/v3/system/{actors}/{a.actor_id}/roles/{a.role_id}"
    else:
        link = f"{base}/v3/{a.target_type}s/{a.target_id}/{actors}/{a.actor_id}/roles/{a.role_id}"
    if a.inherited:
        link = f"{base}/v3/OS-INHERIT{link[len(base) + 3 :]}/inherited_to_projects"
    body: dict[str, Any] = {
        "role": ref(a.role_id),
        "scope": scope,
        e.kind: ref(e.actor),
        "links": {"assignment": link},
    }
    if e.kind == "user" and a.actor_type == "group":
        body["links"]["membership"] = f"{base}/v3/groups/{a.actor_id}/users/{e.actor}"
    return body


_GRANT = "/v3/{targets:str}/{target_id}/{actors:str}/{actor_id}/roles"
_SYSTEM_GRANT = "/v3/system/{actors:str}/{actor_id}/roles"
_INHERIT = "/v3/OS-INHERIT/{targets:str}/{target_id}/{actors:str}/{actor_id}/roles"

ROUTES = [
    route(_SYSTEM_GRANT, list_grants, "GET"),
    route(_INHERIT + "/inherited_to_projects", list_grants, "GET"),
    route(_INHERIT + "/{role_id}/inherited_to_projects", grant_role, "PUT"),
    route(_INHERIT + "/{role_id}/inherited_to_projects", check_grant, "HEAD"),
    route(_INHERIT + "/{role_id}/inherited_to_projects", check_grant, "GET"),
    route(_INHERIT + "/{role_id}/inherited_to_projects", revoke_grant, "DELETE"),
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
