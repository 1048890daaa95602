"""Volume quotas per project: Cinder's defaults unless the project has its own limits, usage
counted from the live rows, and atomic claims.

A claim counts and writes in one write transaction that first locks the project's row in
`volume_project_locks` (BEGIN IMMEDIATE already serialises writers on SQLite; on PostgreSQL
the row lock does), so N parallel creates against quota Q create at most Q. Over quota: 413
with Cinder's messages (its VolumeLimitExceeded / VolumeSizeExceedsAvailableQuota).
A volume counts while it consumes quota (a failed create gives its quota back); snapshots
count in `snapshots` and their size in `gigabytes`, as Cinder counts them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import Database
from ministack.volume import models as m

DEFAULTS: dict[str, int] = {
    "volumes": 10,
    "snapshots": 10,
    "gigabytes": 1000,
    "per_volume_gigabytes": -1,
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
}
UNLIMITED = -1


async def limits(s: AsyncSession, project_id: str) -> dict[str, int]:
    """The project's limits: its own over Cinder's defaults (-1 is unlimited)."""
    out = dict(DEFAULTS)
    rows = await s.execute(select(m.QuotaLimit).where(m.QuotaLimit.project_id == project_id))
    for row in rows.scalars():
        out[row.resource] = row.hard_limit
    return out


async def usage(s: AsyncSession, project_id: str) -> dict[str, int]:
    """What the project uses now: volumes, snapshots, and their gigabytes together."""
    count, size = (
        await s.execute(
            select(func.count(), func.coalesce(func.sum(m.Volume.size), 0)).where(
                m.Volume.project_id == project_id, m.Volume.consumes_quota.is_(True)
            )
        )
    ).one()
    snaps, snap_size = (
        await s.execute(
            select(func.count(), func.coalesce(func.sum(m.Snapshot.size), 0)).where(
                m.Snapshot.project_id == project_id
            )
        )
    ).one()
    return {
        "volumes": int(count),
        "snapshots": int(snaps),
        "gigabytes": int(size) + int(snap_size),
        "backups": 0,
        "backup_gigabytes": 0,
        "groups": 0,
        "per_volume_gigabytes": 0,
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
    """413 in Cinder's words when `wanted` more would exceed a limit."""
    per_volume = limit.get("per_volume_gigabytes", UNLIMITED)
    size = wanted.get("per_volume_gigabytes", 0)
    if per_volume >= 0 and size > per_volume:
        raise errors.PayloadTooLarge(
            f"Volume size '{size}'GB is larger than the maximum allowed size of "
            f"'{per_volume}'GB (per_volume_gigabytes)."
        )
    for resource in ("volumes", "snapshots"):
        n = wanted.get(resource, 0)
        allowed = limit.get(resource, UNLIMITED)
        if n > 0 and allowed >= 0 and used.get(resource, 0) + n > allowed:
            kind = "volumes" if resource == "volumes" else "snapshots"
            raise errors.PayloadTooLarge(
                f"Maximum number of {kind} allowed ({allowed}) exceeded for quota '{resource}'."
            )
    gb = wanted.get("gigabytes", 0)
    allowed = limit.get("gigabytes", UNLIMITED)
    if gb > 0 and allowed >= 0 and used.get("gigabytes", 0) + gb > allowed:
        raise errors.PayloadTooLarge(
            f"Requested volume or snapshot exceeds allowed gigabytes quota. Requested {gb}G, "
            f"quota is {allowed}G and {used.get('gigabytes', 0)}G has been consumed."
        )


async def claim(s: AsyncSession, db: Database, project_id: str, wanted: Mapping[str, int]) -> None:
    """Check `wanted` against the project's limits inside write transaction `s`, whose
    caller then writes the rows that consume it (the claim is the committed rows)."""
    await lock_project(s, db, project_id)
    check(await limits(s, project_id), await usage(s, project_id), wanted)
