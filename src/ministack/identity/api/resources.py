"""Keystone's simple collections: domains, projects, groups, roles, regions, services, endpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.identity import models as m
from ministack.identity.api.crud import Collection, Field
from ministack.identity.api.hierarchy import expand_project

NAME64 = Field("name", max_len=64, required=True)
DESCRIPTION = Field("description", max_len=65535, default="")
ENABLED = Field("enabled", kind=bool, default=True)
DEFAULT_DOMAIN_ID = "default"


def _links(base: str, plural: str, item_id: str) -> dict[str, str]:
    return {"self": f"{base}/v3/{plural}/{item_id}"}


def render_domain(d: m.Domain, base: str) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "enabled": d.enabled,
        "tags": [],
        "options": {},
        "links": _links(base, "domains", d.id),
    }


def render_project(p: m.Project, base: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
        "parent_id": p.parent_id or p.domain_id,
        "is_domain": False,
        "tags": list(p.tags or []),
        "options": {},
        "links": _links(base, "projects", p.id),
    }


def render_group(g: m.Group, base: str) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "domain_id": g.domain_id,
        "description": g.description,
        "links": _links(base, "groups", g.id),
    }


def render_role(r: m.Role, base: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "domain_id": None,
        "description": r.description or None,
        "options": {},
        "links": _links(base, "roles", r.id),
    }


def render_region(r: m.Region, base: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "description": r.description,
        "parent_region_id": r.parent_region_id,
        "links": _links(base, "regions", r.id),
    }


def render_service(s: m.Service, base: str) -> dict[str, Any]:
    return {
        "id": s.id,
        "type": s.type,
        "name": s.name,
        "description": s.description,
        "enabled": s.enabled,
        "links": _links(base, "services", s.id),
    }


def render_endpoint(e: m.Endpoint, base: str) -> dict[str, Any]:
    return {
        "id": e.id,
        "service_id": e.service_id,
        "interface": e.interface,
        "url": e.url,
        "region_id": e.region_id,
        "region": e.region_id,
        "enabled": e.enabled,
        "links": _links(base, "endpoints", e.id),
    }


async def _require_domain(s: AsyncSession, domain_id: str) -> None:
    if await s.get(m.Domain, domain_id) is None:
        raise errors.BadRequest(f"Could not find domain: {domain_id}.")


async def _project_create(s: AsyncSession, row: m.Project, _auth: Auth) -> None:
    if row.parent_id and not row.domain_id:
        parent = await s.get(m.Project, row.parent_id)
        if parent is None:
            raise errors.BadRequest(f"Could not find parent project: {row.parent_id}.")
        row.domain_id = parent.domain_id
    row.domain_id = row.domain_id or DEFAULT_DOMAIN_ID
    await _require_domain(s, row.domain_id)
    if row.parent_id == row.domain_id:
        row.parent_id = None


async def _project_delete(s: AsyncSession, row: m.Project, _auth: Auth) -> None:
    children = (await s.execute(select(func.count()).where(m.Project.parent_id == row.id))).scalar()
    if children:
        raise errors.Forbidden(
            f"Project {row.id} has {children} child project(s); delete them first."
        )
    await s.execute(
        delete(m.Assignment).where(
            m.Assignment.target_type == "project", m.Assignment.target_id == row.id
        )
    )


async def _domain_delete(s: AsyncSession, row: m.Domain, _auth: Auth) -> None:
    if row.id == DEFAULT_DOMAIN_ID:
        raise errors.Forbidden("The Default domain cannot be deleted.")
    if row.enabled:
        raise errors.Forbidden(
            f"Cannot delete the enabled domain {row.name}; disable it first "
            f"(openstack domain set --disable {row.name})."
        )
    projects = select(m.Project.id).where(m.Project.domain_id == row.id)
    users = select(m.User.id).where(m.User.domain_id == row.id)
    groups = select(m.Group.id).where(m.Group.domain_id == row.id)
    await s.execute(
        delete(m.Assignment).where(
            or_(
                m.Assignment.target_id.in_(projects),
                m.Assignment.target_id == row.id,
                m.Assignment.actor_id.in_(users),
                m.Assignment.actor_id.in_(groups),
            )
        )
    )
    await s.execute(delete(m.GroupMember).where(m.GroupMember.user_id.in_(users)))
    await s.execute(
        delete(m.ApplicationCredential).where(m.ApplicationCredential.user_id.in_(users))
    )
    await s.execute(delete(m.Credential).where(m.Credential.user_id.in_(users)))
    await s.execute(delete(m.Project).where(m.Project.domain_id == row.id))
    await s.execute(delete(m.User).where(m.User.domain_id == row.id))
    await s.execute(delete(m.Group).where(m.Group.domain_id == row.id))


async def _group_create(s: AsyncSession, row: m.Group, _auth: Auth) -> None:
    row.domain_id = row.domain_id or DEFAULT_DOMAIN_ID
    await _require_domain(s, row.domain_id)


async def _group_delete(s: AsyncSession, row: m.Group, _auth: Auth) -> None:
    await s.execute(
        delete(m.Assignment).where(
            m.Assignment.actor_type == "group", m.Assignment.actor_id == row.id
        )
    )
    await s.execute(delete(m.GroupMember).where(m.GroupMember.group_id == row.id))


async def _role_delete(s: AsyncSession, row: m.Role, _auth: Auth) -> None:
    await s.execute(delete(m.Assignment).where(m.Assignment.role_id == row.id))
    await s.execute(
        delete(m.ImpliedRole).where(
            or_(m.ImpliedRole.prior_role_id == row.id, m.ImpliedRole.implied_role_id == row.id)
        )
    )


async def _endpoint_check(s: AsyncSession, row: m.Endpoint, _auth: Auth) -> None:
    if row.interface not in ("public", "internal", "admin"):
        raise errors.BadRequest(
            f"Invalid input for field 'endpoint.interface': {row.interface!r} is not one of "
            "public, internal, admin."
        )
    if await s.get(m.Service, row.service_id) is None:
        raise errors.BadRequest(f"Could not find service: {row.service_id}.")


async def _service_delete(s: AsyncSession, row: m.Service, _auth: Auth) -> None:
    await s.execute(delete(m.Endpoint).where(m.Endpoint.service_id == row.id))


DOMAINS = Collection(
    "domains",
    "domain",
    m.Domain,
    (NAME64, DESCRIPTION, ENABLED),
    render_domain,
    filters=("name", "enabled"),
    # Keystone: a token scoped to the domain, or to a project in it, may read the domain
    target=lambda d: {"domain_id": d.id},
    before_delete=_domain_delete,
)
PROJECTS = Collection(
    "projects",
    "project",
    m.Project,
    (
        NAME64,
        DESCRIPTION,
        ENABLED,
        Field("domain_id", max_len=64, updatable=False),
        Field("parent_id", max_len=64, updatable=False, nullable=True),
        Field("tags", kind=list, default=list),
    ),
    render_project,
    filters=("name", "domain_id", "enabled", "parent_id"),
    target=lambda p: {"project_id": p.id},
    domain_readable=True,
    before_create=_project_create,
    before_delete=_project_delete,
    expand=expand_project,
)
GROUPS = Collection(
    "groups",
    "group",
    m.Group,
    (NAME64, DESCRIPTION, Field("domain_id", max_len=64, updatable=False)),
    render_group,
    filters=("name", "domain_id"),
    domain_readable=True,
    before_create=_group_create,
    before_delete=_group_delete,
)
ROLES = Collection(
    "roles",
    "role",
    m.Role,
    (Field("name", max_len=255, required=True), DESCRIPTION),
    render_role,
    before_delete=_role_delete,
)
REGIONS = Collection(
    "regions",
    "region",
    m.Region,
    (DESCRIPTION, Field("parent_region_id", max_len=255, nullable=True)),
    render_region,
    filters=("parent_region_id",),
    id_from_body=True,
)
SERVICES = Collection(
    "services",
    "service",
    m.Service,
    (
        Field("type", max_len=255, required=True),
        Field("name", max_len=255, default=""),
        DESCRIPTION,
        ENABLED,
    ),
    render_service,
    filters=("name", "type"),
    before_delete=_service_delete,
)
ENDPOINTS = Collection(
    "endpoints",
    "endpoint",
    m.Endpoint,
    (
        Field("service_id", max_len=64, required=True),
        Field("interface", max_len=8, required=True),
        Field("url", max_len=1024, required=True),
        Field("region_id", max_len=255, nullable=True),
        ENABLED,
    ),
    render_endpoint,
    filters=("service_id", "interface", "region_id"),
    before_create=_endpoint_check,
    before_update=_endpoint_check,
)

ALL = (DOMAINS, PROJECTS, GROUPS, ROLES, REGIONS, SERVICES, ENDPOINTS)
