"""First start: the Default domain, the default roles, the admin and service projects, the admin
user with the admin role on the admin project, the Default domain and the system (as
``keystone-manage bootstrap``; an older install gains the system grant at its next start),
and one user per service (nova, glance, placement) with the service
and admin roles on the service project, as DevStack makes them; their passwords come from
[service_auth] (written by `ministack init`). Idempotent: run at every start, it only fills in
what is missing (and sets a password the configuration changed)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common.db import new_id
from ministack.config import SERVICE_USERS
from ministack.identity import models as m
from ministack.identity.api.resources import DEFAULT_DOMAIN_ID
from ministack.identity.core import IdentityCore
from ministack.identity.tokens import SYSTEM_ALL

DEFAULT_ROLES = ("admin", "manager", "member", "reader", "service")
# prior -> implied, as Keystone's bootstrap sets them
IMPLIED = (("admin", "manager"), ("manager", "member"), ("member", "reader"))


async def _role(s: AsyncSession, name: str) -> m.Role:
    role = (await s.execute(select(m.Role).where(m.Role.name == name))).scalars().first()
    if role is None:
        role = m.Role(id=new_id(), name=name, description="")
        s.add(role)
        await s.flush()
    return role


async def _project(s: AsyncSession, name: str) -> m.Project:
    project = (
        (
            await s.execute(
                select(m.Project).where(
                    m.Project.name == name, m.Project.domain_id == DEFAULT_DOMAIN_ID
                )
            )
        )
        .scalars()
        .first()
    )
    if project is None:
        project = m.Project(
            id=new_id(),
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            description=f"{name} project",
            enabled=True,
            tags=[],
        )
        s.add(project)
        await s.flush()
    return project


async def _user(
    s: AsyncSession, core: IdentityCore, name: str, password: str
) -> tuple[m.User, str]:
    """The user `name` in the Default domain with `password` (generated when empty and the user
    is new; changed when it no longer matches); returns it and the password in effect."""
    user = (
        (
            await s.execute(
                select(m.User).where(m.User.name == name, m.User.domain_id == DEFAULT_DOMAIN_ID)
            )
        )
        .scalars()
        .first()
    )
    if user is None:
        password = password or secrets.token_urlsafe(16)
        user = m.User(
            id=new_id(),
            name=name,
            domain_id=DEFAULT_DOMAIN_ID,
            enabled=True,
            password_hash=await core.hasher.hash(password),
            extra={},
        )
        s.add(user)
        await s.flush()
    elif password and not await core.check_password(user.id, password, user.password_hash):
        user.password_hash = await core.hasher.hash(password)
    return user, password


async def _grant(s: AsyncSession, user: m.User, target: tuple[str, str], role: m.Role) -> None:
    key = ("user", user.id, target[0], target[1], role.id, False)
    if await s.get(m.Assignment, key) is None:
        s.add(
            m.Assignment(
                actor_type="user",
                actor_id=user.id,
                target_type=target[0],
                target_id=target[1],
                role_id=role.id,
                inherited=False,
            )
        )


async def bootstrap(core: IdentityCore, admin_password: str) -> str:
    """Create what is missing; returns the admin password in effect (generated if needed)."""
    async with core.db.writer() as s:
        if await s.get(m.Domain, DEFAULT_DOMAIN_ID) is None:
            s.add(
                m.Domain(
                    id=DEFAULT_DOMAIN_ID,
                    name="Default",
                    description="The default domain",
                    enabled=True,
                )
            )
            await s.flush()
        roles = {name: await _role(s, name) for name in DEFAULT_ROLES}
        for prior, implied in IMPLIED:
            key = (roles[prior].id, roles[implied].id)
            if await s.get(m.ImpliedRole, key) is None:
                s.add(m.ImpliedRole(prior_role_id=key[0], implied_role_id=key[1]))
        admin_project = await _project(s, "admin")
        admin, password = await _user(s, core, "admin", admin_password)
        # as keystone-manage bootstrap: admin of its project, the Default domain and the system
        admin_targets = (
            ("project", admin_project.id),
            ("domain", DEFAULT_DOMAIN_ID),
            ("system", SYSTEM_ALL),
        )
        for target in admin_targets:
            await _grant(s, admin, target, roles["admin"])
        service_project = await _project(s, core.settings.service_auth.project_name)
        for name in SERVICE_USERS.values():
            service_password = core.settings.service_auth.password(name)
            if not service_password:
                continue  # not configured: nobody could log in as it
            user, _ = await _user(s, core, name, service_password)
            for role in ("service", "admin"):
                await _grant(s, user, ("project", service_project.id), roles[role])
        await core.bump(s)
    return password
