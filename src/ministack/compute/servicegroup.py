"""Is a compute host up? Its agent's heartbeat in the services table is younger than
`service_down_time` and it is not forced down (Nova's servicegroup, DB driver)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ministack.common.db import Database, utcnow
from ministack.common.models import ServiceRecord

COMPUTE_BINARY = "nova-compute"


def is_up(rec: ServiceRecord, down_after: float, now: dt.datetime | None = None) -> bool:
    if rec.forced_down or rec.last_error:  # last_error: the agent could not start (libvirtd)
        return False
    return ((now or utcnow()) - rec.updated_at).total_seconds() <= down_after


async def compute_services(db: Database) -> dict[str, ServiceRecord]:
    """Every compute agent's service row, by host."""
    async with db.session() as s:
        rows = await s.execute(select(ServiceRecord).where(ServiceRecord.binary == COMPUTE_BINARY))
        return {r.host: r for r in rows.scalars()}


async def host_statuses(db: Database, down_after: float) -> dict[str, str]:
    """Nova's host_status per host: UP, DOWN or MAINTENANCE (disabled)."""
    now = utcnow()
    out = {}
    for host, rec in (await compute_services(db)).items():
        if not is_up(rec, down_after, now):
            out[host] = "DOWN"
        elif rec.disabled:
            out[host] = "MAINTENANCE"
        else:
            out[host] = "UP"
    return out
