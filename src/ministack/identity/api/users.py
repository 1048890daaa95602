"""Users: CRUD, password change, their projects and groups, application credentials."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.db import new_id
from ministack.common.pagination import bool_param, paginate, parse_page
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api import access_rules, schemas
from ministack.identity.api.crud import base_url, core_of, public_route, route
from ministack.identity.api.resources import DEFAULT_DOMAIN_ID, render_group, render_project
from ministack.identity.inheritance import projects_of
from ministack.identity.passwords import MAX_PASSWORD_LENGTH

CORE_FIELDS = ("id", "name", "domain_id", "enabled", "password", "default_project_id", "links")
MAX_USER_NAME = 255


def render_user(u: m.User, base: str) -> dict[str, Any]:
    body: dict[str, Any] = dict(u.extra or {})
    body.update(
        id=u.id,
        name=u.name,
        domain_id=u.domain_id,
        enabled=u.enabled,
        password_expires_at=(
            u.password_expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
            if u.password_expires_at
            else None
        ),
        options={},
        links={"self": f"{base}/v3/users/{u.id}"},
    )
    if u.default_project_id:
        body["default_project_id"] = u.default_project_id
    return body


def _check_str(obj: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise errors.BadRequest(f"Invalid input for field 'user.{key}': a string is required.")
    if len(value) > limit:
        raise errors.BadRequest(
            f"Invalid input for field 'user.{key}': longer than {limit} characters."
        )
    return value


async def list_users(request: Request) -> Response:
    auth = await require_auth(request)
    params = request.query_params
    domain = {"domain_id": params.get("domain_id") or auth.domain_id}
    policies.authorize(auth, "identity:list_users", domain)
    query = select(m.User)
    if not auth.reads_all:  # a reader of one domain: that domain's users only
        query = query.where(m.User.domain_id == auth.domain_id)
    if "name" in params:
        query = query.where(m.User.name == params["name"])
    if "domain_id" in params:
        query = query.where(m.User.domain_id == params["domain_id"])
    enabled = bool_param(params.get("enabled"), "enabled")
    if enabled is not None:
        query = query.where(m.User.enabled == enabled)
    core = core_of(request)
    async with core.db.session() as s:
        query = await paginate(s, query, parse_page(params), m.User.id)
        rows = (await s.execute(query)).scalars().all()
    base = base_url(request)
    return json_response(
        {
            "users": [render_user(u, base) for u in rows],
            "links": {"self": f"{base}/v3/users", "previous": None, "next": None},
        }
    )


async def create_user(request: Request) -> Response:
    auth = await require_auth(request)
    obj = validation.body(request)["user"]
    policies.authorize(auth, "identity:create_user")
    name = _check_str(obj, "name", MAX_USER_NAME, required=True)
    password = _check_str(obj, "password", MAX_PASSWORD_LENGTH)
    domain_id = _check_str(obj, "domain_id", 64) or DEFAULT_DOMAIN_ID
    project_id = _check_str(obj, "default_project_id", 64)
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        raise errors.BadRequest("Invalid input for field 'user.enabled': a boolean is required.")
    core = core_of(request)
    new = await core.compliance.new_password(password, by_admin=True) if password else None
    user = m.User(
        id=new_id(),
        name=name,
        domain_id=domain_id,
        enabled=enabled,
        password_hash=new.hash if new else None,
        password_expires_at=new.expires_at if new else None,
        password_history=[],
        default_project_id=project_id,
        extra={k: v for k, v in obj.items() if k not in CORE_FIELDS},
    )
    try:
        async with core.db.writer() as s:
            if await s.get(m.Domain, domain_id) is None:
                raise errors.NotFound(f"Could not find domain: {domain_id}.")
            if project_id and await s.get(m.Project, project_id) is None:
                raise errors.BadRequest(f"Could not find project: {project_id}.")
            s.add(user)
            await s.flush()
            await core.bump(s)
    except IntegrityError:
        raise errors.Conflict(
            f"Conflict occurred attempting to store user - Duplicate entry: "
            f"a user named {name!r} already exists in that domain."
        ) from None
    return json_response({"user": render_user(user, base_url(request))}, status=201)


async def show_user(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    core = core_of(request)
    async with core.db.session() as s:
        user = await s.get(m.User, user_id)
    target = {"user_id": user_id, "domain_id": user.domain_id if user else None}
    policies.authorize(auth, "identity:get_user", target)
    if user is None:
        raise errors.NotFound(f"Could not find user: {user_id}.")
    return json_response({"user": render_user(user, base_url(request))})


async def update_user(request: Request) -> Response:
    auth = await require_auth(request)
    obj = validation.body(request)["user"]
    policies.authorize(auth, "identity:update_user")
    user_id = request.path_params["user_id"]
    name = _check_str(obj, "name", MAX_USER_NAME)
    password = _check_str(obj, "password", MAX_PASSWORD_LENGTH)
    core = core_of(request)
    new = await core.compliance.new_password(password, by_admin=True) if password else None
    try:
        async with core.db.writer() as s:
            user = await s.get(m.User, user_id)
            if user is None:
                raise errors.NotFound(f"Could not find user: {user_id}.")
            if name is not None:
                user.name = name
            if "enabled" in obj:
                if not isinstance(obj["enabled"], bool):
                    raise errors.BadRequest("Invalid input for field 'user.enabled'.")
                user.enabled = obj["enabled"]
                if user.enabled:  # Keystone: enabling a user also unlocks the account
                    user.failed_auth_count = 0
                    user.failed_auth_at = None
            if "default_project_id" in obj:
                user.default_project_id = _check_str(obj, "default_project_id", 64)
            if new is not None:
                user.password_history = core.compliance.history_after(
                    user.password_hash, list(user.password_history or [])
                )
                user.password_hash = new.hash
                user.password_expires_at = new.expires_at
            extra = dict(user.extra or {})
            extra.update({k: v for k, v in obj.items() if k not in CORE_FIELDS})
            user.extra = extra
            if new is not None or not user.enabled:
                await core.revoke_user(s, user.id)
            await s.flush()
            await core.bump(s)
    except IntegrityError:
        raise errors.Conflict(
            "Conflict occurred attempting to store user - Duplicate entry."
        ) from None
    return json_response({"user": render_user(user, base_url(request))})


async def delete_user(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:delete_user")
    user_id = request.path_params["user_id"]
    core = core_of(request)
    async with core.db.writer() as s:
        if await s.get(m.User, user_id) is None:
            raise errors.NotFound(f"Could not find user: {user_id}.")
        await s.execute(
            delete(m.Assignment).where(
                m.Assignment.actor_type == "user", m.Assignment.actor_id == user_id
            )
        )
        await s.execute(delete(m.GroupMember).where(m.GroupMember.user_id == user_id))
        await s.execute(
            delete(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user_id)
        )
        await s.execute(delete(m.Credential).where(m.Credential.user_id == user_id))
        await s.execute(delete(m.User).where(m.User.id == user_id))
        await core.revoke_user(s, user_id)
        await core.bump(s)
    return empty_response()


async def change_password(request: Request) -> Response:
    """POST /v3/users/{id}/password: the user changes their own password (needs the old one)."""
    user_id = request.path_params["user_id"]
    obj = validation.body(request)["user"]
    original = obj.get("original_password")
    new = obj.get("password")
    if not isinstance(original, str) or not isinstance(new, str) or not new:
        raise errors.BadRequest("Both 'user.original_password' and 'user.password' are required.")
    if len(new) > MAX_PASSWORD_LENGTH:
        raise errors.BadRequest(
            f"Invalid input for field 'user.password': longer than "
            f"{MAX_PASSWORD_LENGTH} characters."
        )
    core = core_of(request)
    async with core.db.session() as s:
        user = await s.get(m.User, user_id)
        if user is not None:
            await core.compliance.check_locked(s, user_id)
    if user is None or not await core.check_password(user_id, original, user.password_hash):
        if user is not None:
            await core.compliance.record_failure(user_id)
        raise errors.Unauthorized("The request you have made requires authentication.")
    # an expired password (or one that must change on first use) may still be changed here
    history = list(user.password_history or [])
    core.compliance.check_rules(new)
    await core.compliance.check_history(new, user.password_hash, history)
    changed = await core.compliance.new_password(new, by_admin=False)
    async with core.db.writer() as s:
        row = await s.get(m.User, user_id)
        assert row is not None
        row.password_history = core.compliance.history_after(
            row.password_hash, list(row.password_history or [])
        )
        row.password_hash = changed.hash
        row.password_expires_at = changed.expires_at
        row.failed_auth_count = 0
        row.failed_auth_at = None
        await core.revoke_user(s, user_id)
        await core.bump(s)
    return empty_response()


async def list_user_projects(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, "identity:list_user_projects", {"user_id": user_id})
    core = core_of(request)
    async with core.db.session() as s:
        targets = await projects_of(s, user_id)
        rows = (
            (
                await s.execute(
                    select(m.Project).where(m.Project.id.in_(targets)).order_by(m.Project.name)
                )
            )
            .scalars()
            .all()
        )
    base = base_url(request)
    return json_response(
        {
            "projects": [render_project(p, base) for p in rows],
            "links": {
                "self": f"{base}/v3/users/{user_id}/projects",
                "previous": None,
                "next": None,
            },
        }
    )


async def list_user_groups(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, "identity:list_groups_for_user", {"user_id": user_id})
    core = core_of(request)
    async with core.db.session() as s:
        rows = (
            (
                await s.execute(
                    select(m.Group)
                    .join(m.GroupMember, m.GroupMember.group_id == m.Group.id)
                    .where(m.GroupMember.user_id == user_id)
                )
            )
            .scalars()
            .all()
        )
    base = base_url(request)
    return json_response(
        {
            "groups": [render_group(g, base) for g in rows],
            "links": {"self": f"{base}/v3/users/{user_id}/groups", "previous": None, "next": None},
        }
    )


# -- application credentials ---------------------------------------------------------------


def render_app_cred(
    c: m.ApplicationCredential,
    base: str,
    roles: list[dict[str, str]],
    rules: list[m.AccessRule],
) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "description": c.description or None,
        "project_id": c.project_id,
        "user_id": c.user_id,
        "roles": roles,
        "unrestricted": c.unrestricted,
        "expires_at": c.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000000") if c.expires_at else None,
        "access_rules": [
            {"id": r.id, "service": r.service, "method": r.method, "path": r.path} for r in rules
        ],
        "links": {"self": f"{base}/v3/users/{c.user_id}/application_credentials/{c.id}"},
    }


async def _role_refs(request: Request, ids: list[str]) -> list[dict[str, str]]:
    core = core_of(request)
    async with core.db.session() as s:
        rows = (await s.execute(select(m.Role.id, m.Role.name).where(m.Role.id.in_(ids)))).all()
    return [{"id": r[0], "name": r[1], "domain_id": None} for r in rows]  # type: ignore[dict-item]


async def create_app_cred(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, "identity:create_application_credential", {"user_id": user_id})
    if auth.project_id is None:
        raise errors.Forbidden("An application credential needs a project-scoped token.")
    if auth.trust_id is not None:
        raise errors.Forbidden("Cannot create an application credential with a trust-scoped token.")
    obj = validation.body(request)["application_credential"]
    name = obj.get("name")
    if not isinstance(name, str) or not name or len(name) > 255:
        raise errors.BadRequest("Invalid input for field 'application_credential.name'.")
    secret = obj.get("secret") or secrets.token_urlsafe(48)
    if not isinstance(secret, str) or len(secret) > MAX_PASSWORD_LENGTH:
        raise errors.BadRequest("Invalid input for field 'application_credential.secret'.")
    expires_at = parse_expiry(obj.get("expires_at"))
    core = core_of(request)
    async with core.db.session() as s:
        held = await core.effective_roles(
            s, user_id, "project", auth.project_id, auth.project_domain_id
        )
    held_by_name = {r.name: r.id for r in held}
    held_ids = set(held_by_name.values())
    wanted = obj.get("roles")
    if not wanted:  # none named (or an empty list, as the CLI sends): the token's roles
        role_ids = sorted(held_ids)
    else:
        if not isinstance(wanted, list):
            raise errors.BadRequest("Invalid input for field 'application_credential.roles'.")
        role_ids = []
        for spec in wanted:
            rid = spec.get("id") if isinstance(spec, dict) else None
            rid = rid or (
                held_by_name.get(spec.get("name", "")) if isinstance(spec, dict) else None
            )
            if rid not in held_ids:
                raise errors.Forbidden(f"You do not hold the role {spec!r} on this project.")
            role_ids.append(rid)
    cred = m.ApplicationCredential(
        id=new_id(),
        name=name,
        user_id=user_id,
        project_id=auth.project_id,
        secret_hash=await core.hasher.hash(secret),
        description=str(obj.get("description") or ""),
        roles=role_ids,
        unrestricted=bool(obj.get("unrestricted", False)),
        expires_at=expires_at,
    )
    try:
        async with core.db.writer() as s:
            s.add(cred)
            await s.flush()
            rules = await access_rules.attach(s, user_id, cred.id, obj.get("access_rules") or [])
    except IntegrityError:
        raise errors.Conflict(f"An application credential named {name!r} already exists.") from None
    body = render_app_cred(cred, base_url(request), await _role_refs(request, role_ids), rules)
    body["secret"] = secret
    return json_response({"application_credential": body}, status=201)


def parse_expiry(
    value: Any, field: str = "application_credential.expires_at"
) -> dt.datetime | None:
    """A client's ISO 8601 time (``Z``, an offset or naive UTC) as naive UTC; 400 if not one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid input for field '{field}'.")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid expires_at {value!r}: use ISO 8601.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


async def list_app_creds(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(
        auth,
        "identity:list_application_credentials",
        {"user_id": user_id},
    )
    core = core_of(request)
    query = select(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user_id)
    if "name" in request.query_params:
        query = query.where(m.ApplicationCredential.name == request.query_params["name"])
    async with core.db.session() as s:
        rows = (await s.execute(query)).scalars().all()
        rules = {c.id: await access_rules.rules_of(s, c.id) for c in rows}
    base = base_url(request)
    out = [render_app_cred(c, base, await _role_refs(request, c.roles), rules[c.id]) for c in rows]
    return json_response(
        {"application_credentials": out, "links": {"self": None, "previous": None, "next": None}}
    )


async def show_app_cred(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(
        auth,
        "identity:get_application_credential",
        {"user_id": user_id},
    )
    core = core_of(request)
    async with core.db.session() as s:
        cred = await s.get(m.ApplicationCredential, request.path_params["cred_id"])
        rules = await access_rules.rules_of(s, cred.id) if cred else []
    if cred is None or cred.user_id != user_id:
        raise errors.NotFound(
            f"Could not find application credential: {request.path_params['cred_id']}."
        )
    body = render_app_cred(cred, base_url(request), await _role_refs(request, cred.roles), rules)
    return json_response({"application_credential": body})


async def delete_app_cred(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, "identity:delete_application_credential", {"user_id": user_id})
    core = core_of(request)
    cred_id = request.path_params["cred_id"]
    async with core.db.writer() as s:
        cred = await s.get(m.ApplicationCredential, cred_id)
        if cred is None or cred.user_id != user_id:
            raise errors.NotFound(f"Could not find application credential: {cred_id}.")
        await s.delete(cred)
        await core.bump(s)
    return empty_response()


ROUTES = [
    Route("/v3/users", list_users, methods=["GET"]),
    route("/v3/users", create_user, "POST", body=schemas.create_user),
    Route("/v3/users/{user_id}", show_user, methods=["GET"]),
    route("/v3/users/{user_id}", update_user, "PATCH", body=schemas.update_user),
    Route("/v3/users/{user_id}", delete_user, methods=["DELETE"]),
    # the user proves who they are with the old password, not a token
    public_route(
        "/v3/users/{user_id}/password", change_password, "POST", body=schemas.change_password
    ),
    Route("/v3/users/{user_id}/projects", list_user_projects, methods=["GET"]),
    Route("/v3/users/{user_id}/groups", list_user_groups, methods=["GET"]),
    Route("/v3/users/{user_id}/application_credentials", list_app_creds, methods=["GET"]),
    route(
        "/v3/users/{user_id}/application_credentials",
        create_app_cred,
        "POST",
        body=schemas.create_application_credential,
    ),
    Route("/v3/users/{user_id}/application_credentials/{cred_id}", show_app_cred, methods=["GET"]),
    Route(
        "/v3/users/{user_id}/application_credentials/{cred_id}", delete_app_cred, methods=["DELETE"]
    ),
]
