"""Volume quotas per project: Cinder's defaults unless the project has its own limits, usage
counted from the live rows, and atomic claims.

A claim counts and writes in one write transaction that first locks the project's row in
`volume_project_locks` (BEGIN IMMEDIATE already serialises writers on SQLite; on PostgreSQL
the row lock does), so N parallel creates against quota Q create at most Q. Over quota: 413
with Cinder's messages (its VolumeLimitExceeded / VolumeSizeExceedsAvailableQuota).
A volume counts while it consumes quota (a failed create gives its quota back); snapshots
count in `snapshots` and their size in `gigabytes`, as Cinder counts them. Each volume type
has its own limits too (`volumes_<type>`, `snapshots_<type>`, `gigabytes_<type>`, unlimited
by default): a claim naming the type checks them in the same transaction as the totals.
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
PER_TYPE = ("volumes", "snapshots", "gigabytes")


async def defaults(s: AsyncSession) -> dict[str, int]:
    """Cinder's defaults, with every volume type's own limits (unlimited)."""
    out = dict(DEFAULTS)
    for name in (await s.execute(select(m.VolumeType.name).order_by(m.VolumeType.name))).scalars():
        out.update({f"{resource}_{name}": UNLIMITED for resource in PER_TYPE})
    return out


def typed(wanted: Mapping[str, int], volume_type: str | None) -> dict[str, int]:
    """`wanted` plus the same amounts under the volume type's own resources."""
    out = dict(wanted)
    if volume_type:
        for resource in PER_TYPE:
            if wanted.get(resource):
                out[f"{resource}_{volume_type}"] = wanted[resource]
    return out


async def limits(s: AsyncSession, project_id: str) -> dict[str, int]:
    """The project's limits: its own over Cinder's defaults (-1 is unlimited)."""
    out = await defaults(s)
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
    out = {
        "volumes": int(count),
        "snapshots": int(snaps),
        "gigabytes": int(size) + int(snap_size),
        "backups": 0,
        "backup_gigabytes": 0,
        "groups": 0,
        "per_volume_gigabytes": 0,
    }
    out.update(await _usage_by_type(s, project_id))
    return out


async def _usage_by_type(s: AsyncSession, project_id: str) -> dict[str, int]:
    out = {k: 0 for k in await defaults(s) if k.startswith(tuple(f"{r}_" for r in PER_TYPE))}
    volumes = await s.execute(
        select(m.VolumeType.name, func.count(), func.coalesce(func.sum(m.Volume.size), 0))
        .join(m.Volume, m.Volume.volume_type_id == m.VolumeType.id)
        .where(m.Volume.project_id == project_id, m.Volume.consumes_quota.is_(True))
        .group_by(m.VolumeType.name)
    )
    for name, n, size in volumes.all():
        out[f"volumes_{name}"] = int(n)
        out[f"gigabytes_{name}"] = out.get(f"gigabytes_{name}", 0) + int(size)
    snaps = await s.execute(
        select(m.VolumeType.name, func.count(), func.coalesce(func.sum(m.Snapshot.size), 0))
        .select_from(m.Snapshot)
        .join(m.Volume, m.Volume.id == m.Snapshot.volume_id)
        .join(m.VolumeType, m.VolumeType.id == m.Volume.volume_type_id)
        .where(m.Snapshot.project_id == project_id)
        .group_by(m.VolumeType.name)
    )
    for name, n, size in snaps.all():
        out[f"snapshots_{name}"] = int(n)
        out[f"gigabytes_{name}"] = out.get(f"gigabytes_{name}", 0) + int(size)
    return out


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
    # counts first, then sizes (Cinder's order): totals before a type's own limits
    order = sorted(wanted, key=lambda r: (r.startswith("gigabytes"), "_" in r, r))
    for resource in order:
        n = wanted[resource]
        allowed = limit.get(resource, UNLIMITED)
        if resource == "per_volume_gigabytes" or n <= 0 or allowed < 0:
            continue
        consumed = used.get(resource, 0)
        if consumed + n <= allowed:
            continue
        if resource.startswith("gigabytes"):
            raise errors.PayloadTooLarge(
                f"Requested volume or snapshot exceeds allowed {resource} quota. Requested "
                f"{n}G, quota is {allowed}G and {consumed}G has been consumed."
            )
        kind = "snapshots" if resource.startswith("snapshots") else "volumes"
        raise errors.PayloadTooLarge(
            f"Maximum number of {kind} allowed ({allowed}) exceeded for quota '{resource}'."
        )


async def claim(
    s: AsyncSession,
    db: Database,
    project_id: str,
    wanted: Mapping[str, int],
    volume_type: str | None = None,
) -> None:
    """Check `wanted` (and, for a `volume_type` name, the same under that type's own
    resources) against the project's limits inside write transaction `s`, whose caller then
    writes the rows that consume it (the claim is the committed rows)."""
    await lock_project(s, db, project_id)
    check(await limits(s, project_id), await usage(s, project_id), typed(wanted, volume_type))


async def type_name(s: AsyncSession, volume: m.Volume) -> str | None:
    """The name of the volume's type (whose own quotas it counts in)."""
    row = await s.get(m.VolumeType, volume.volume_type_id) if volume.volume_type_id else None
    return row.name if row is not None else None
