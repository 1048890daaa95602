"""Compute quotas per project: limits (Nova's defaults unless a project has its own), usage
counted from the live rows, and atomic claims.

A claim counts and inserts in one write transaction that first locks the project's row in
`compute_project_locks` (BEGIN IMMEDIATE already serialises writers on SQLite; on PostgreSQL
the row lock does), so N parallel creates against quota Q create at most Q (PROMISES 8).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import Database
from ministack.compute import models as m

DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
UNLIMITED = -1
DEFAULT_CLASS = "default"


async def class_limits(s: AsyncSession, class_name: str = DEFAULT_CLASS) -> dict[str, int]:
    """A quota class's limits: what it sets over Nova's defaults (it may also hold the
    legacy network keys a pre-2.50 client set)."""
    out = dict(DEFAULTS)
    rows = await s.execute(select(m.QuotaClass).where(m.QuotaClass.class_name == class_name))
    for row in rows.scalars():
        out[row.resource] = row.hard_limit
    return out


async def limits(s: AsyncSession, project_id: str) -> dict[str, int]:
    """The project's limits: its overrides over the `default` quota class (-1 is
    unlimited)."""
    out = {k: v for k, v in (await class_limits(s)).items() if k in DEFAULTS}
    rows = await s.execute(select(m.QuotaLimit).where(m.QuotaLimit.project_id == project_id))
    for row in rows.scalars():
        out[row.resource] = row.hard_limit
    return out


async def usage(s: AsyncSession, project_id: str) -> dict[str, int]:
    """What the project uses now: live instances, their cores and RAM, server groups."""
    count, cores, ram = (
        await s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(m.Instance.vcpus), 0),
                func.coalesce(func.sum(m.Instance.memory_mb), 0),
            ).where(m.Instance.project_id == project_id, m.Instance.deleted.is_(False))
        )
    ).one()
    groups = (
        await s.execute(
            select(func.count())
            .select_from(m.ServerGroup)
            .where(m.ServerGroup.project_id == project_id)
        )
    ).scalar_one()
    return {
        "instances": int(count),
        "cores": int(cores),
        "ram": int(ram),
        "server_groups": int(groups),
    }


async def lock_project(s: AsyncSession, db: Database, project_id: str) -> None:
    """Serialise quota claims of one project for the rest of the transaction `s`."""
    if db.is_sqlite:
        return  # the write transaction (BEGIN IMMEDIATE) is already exclusive
    await s.execute(pg_insert(m.ProjectLock).values(project_id=project_id).on_conflict_do_nothing())
    await s.execute(
        select(m.ProjectLock).where(m.ProjectLock.project_id == project_id).with_for_update()
    )


def check(limit: Mapping[str, int], used: Mapping[str, int], wanted: Mapping[str, int]) -> None:
    """403 overLimit in Nova's words when `wanted` more would exceed a limit."""
    over = [
        r
        for r, n in wanted.items()
        if n > 0 and limit.get(r, UNLIMITED) >= 0 and used.get(r, 0) + n > limit[r]
    ]
    if not over:
        return
    first = over[0]
    raise errors.OverLimit(
        f"Quota exceeded for {', '.join(over)}: Requested {wanted[first]}, but already used "
        f"{used.get(first, 0)} of {limit[first]} {first}"
    )


def max_instances(
    limit: Mapping[str, int], used: Mapping[str, int], per_instance: Mapping[str, int]
) -> int:
    """How many more instances of this size fit within every limit."""
    best = 10**9
    for r, n in per_instance.items():
        if n > 0 and limit.get(r, UNLIMITED) >= 0:
            best = min(best, (limit[r] - used.get(r, 0)) // n)
    return max(best, 0)
