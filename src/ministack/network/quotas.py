"""Network quotas per project: limits (Neutron's defaults from [network] unless a project has
its own), usage counted from the live rows, and atomic claims.

A claim counts and inserts in one write transaction that first locks the project's row in
`network_project_locks` (BEGIN IMMEDIATE already serialises writers on SQLite; on PostgreSQL
the row lock does), so N parallel creates against quota Q create at most Q (PROMISES 8).
Neutron answers a claim over the limit with 409 OverQuota.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import Database
from ministack.config import Settings
from ministack.network import models as m

# resource -> the table whose rows count against it
COUNTED: dict[str, Any] = {
    "network": m.Network,
    "subnet": m.Subnet,
    "subnetpool": m.SubnetPool,
    "port": m.Port,
    "router": m.Router,
    "floatingip": m.FloatingIP,
    "security_group": m.SecurityGroup,
    "security_group_rule": m.SecurityGroupRule,
}
RESOURCES = tuple(COUNTED)
UNLIMITED = -1


class OverQuota(errors.Conflict):
    pass


def defaults(settings: Settings) -> dict[str, int]:
    net = settings.network
    return {r: int(getattr(net, f"quota_{r}")) for r in RESOURCES}


async def limits(s: AsyncSession, settings: Settings, project_id: str) -> dict[str, int]:
    out = defaults(settings)
    rows = await s.execute(select(m.Quota).where(m.Quota.project_id == project_id))
    for row in rows.scalars():
        if row.resource in out:
            out[row.resource] = row.hard_limit
    return out


async def used(s: AsyncSession, project_id: str, resource: str) -> int:
    model = COUNTED[resource]
    query = select(func.count()).select_from(model).where(model.project_id == project_id)
    return int((await s.execute(query)).scalar_one())


async def lock_project(s: AsyncSession, db: Database, project_id: str) -> None:
    """Serialise quota claims of one project for the rest of the transaction `s`."""
    if db.is_sqlite:
        return  # the write transaction (BEGIN IMMEDIATE) is already exclusive
    await s.execute(pg_insert(m.ProjectLock).values(project_id=project_id).on_conflict_do_nothing())
    await s.execute(
        select(m.ProjectLock).where(m.ProjectLock.project_id == project_id).with_for_update()
    )


def usage_columns(project_id: Any, resource: str) -> tuple[Any, Any]:
    """(the project's own limit or NULL, its count of `resource`) as scalar subqueries, to be
    selected with other columns in one statement (after `lock_project`); `project_id` is a
    value or a bound parameter."""
    model = COUNTED[resource]
    own_limit = (
        select(m.Quota.hard_limit)
        .where(m.Quota.project_id == project_id, m.Quota.resource == resource)
        .scalar_subquery()
    )
    count = select(func.count()).select_from(model).where(model.project_id == project_id)
    return own_limit, count.scalar_subquery()


def check(settings: Settings, resource: str, found: int | None, in_use: int, n: int = 1) -> None:
    """409 OverQuota when `n` more `resource` would pass the limit (`found`: the project's
    own limit, None for the configured default)."""
    limit = defaults(settings)[resource] if found is None else int(found)
    if limit != UNLIMITED and int(in_use) + n > limit:
        raise OverQuota(f"Quota exceeded for resources: ['{resource}'].")


async def claim(
    s: AsyncSession, db: Database, settings: Settings, project_id: str, resource: str, n: int = 1
) -> None:
    """Lock the project and 409 OverQuota when `n` more `resource` would pass its limit.
    The caller inserts the rows in the same transaction."""
    await lock_project(s, db, project_id)
    found, in_use = (await s.execute(select(*usage_columns(project_id, resource)))).one()
    check(settings, resource, found, in_use, n)
