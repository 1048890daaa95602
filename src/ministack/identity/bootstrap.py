"""First start: the Default domain, the default roles, the admin and service projects, the admin
user with the admin role on the admin project, the Default domain and the system (as
``keystone-manage bootstrap``). Idempotent: run at every start, it only fills in what is
missing, so an install made before the system grant existed gains it at its next start."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common.db import new_id
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
        await _project(s, "service")
        admin = (
            (
                await s.execute(
                    select(m.User).where(
                        m.User.name == "admin", m.User.domain_id == DEFAULT_DOMAIN_ID
                    )
                )
            )
            .scalars()
            .first()
        )
        password = admin_password
        if admin is None:
            password = password or secrets.token_urlsafe(16)
            admin = m.User(
                id=new_id(),
                name="admin",
                domain_id=DEFAULT_DOMAIN_ID,
                enabled=True,
                password_hash=await core.hasher.hash(password),
                extra={},
            )
            s.add(admin)
            await s.flush()
        elif password and not await core.check_password(admin.id, password, admin.password_hash):
            admin.password_hash = await core.hasher.hash(password)
        for target_type, target_id in (
            ("project", admin_project.id),
            ("domain", DEFAULT_DOMAIN_ID),
            ("system", SYSTEM_ALL),
        ):
            key2 = ("user", admin.id, target_type, target_id, roles["admin"].id, False)
            if await s.get(m.Assignment, key2) is None:
                s.add(
                    m.Assignment(
                        actor_type="user",
                        actor_id=admin.id,
                        target_type=target_type,
                        target_id=target_id,
                        role_id=roles["admin"].id,
                        inherited=False,
                    )
                )
        await core.bump(s)
    return password
