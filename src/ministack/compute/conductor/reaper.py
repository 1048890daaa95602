"""The conductor's periodic pass over transitional states (PROMISES 1, 2, 4): each task_state
in `states.TRANSITIONAL` has a timeout and a restart rule; an instance past its timeout, or on
a host that stopped heartbeating for `service_down_time`, is moved on by that rule."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.claims import local_delete
from ministack.compute.conductor import moves
from ministack.compute.conductor.base import ConductorDeps
from ministack.compute.instances import Change

log = logging.getLogger("ministack.compute.conductor")


async def down_hosts(deps: ConductorDeps) -> set[str]:
    """Compute hosts whose agent missed heartbeats for service_down_time (or forced down)."""
    limit = utcnow() - dt.timedelta(seconds=deps.settings.compute.service_down_time)
    async with deps.db.session() as s:
        rows = (
            await s.execute(select(ServiceRecord).where(ServiceRecord.binary == "nova-compute"))
        ).scalars()
        return {r.host for r in rows if r.forced_down or r.updated_at < limit}


async def reap(deps: ConductorDeps) -> None:
    """One pass over transitional states: timeouts and instances on down hosts."""
    down = await down_hosts(deps)
    now = utcnow()
    async with deps.db.session() as s:
        rows = list(
            (
                await s.execute(
                    select(m.Instance).where(
                        m.Instance.deleted.is_(False), m.Instance.task_state.is_not(None)
                    )
                )
            ).scalars()
        )
    for inst in rows:
        await _reap_one(deps, inst, down, now)


async def _reap_one(
    deps: ConductorDeps, inst: m.Instance, down: set[str], now: dt.datetime
) -> None:
    rule = states.BY_TASK_STATE.get(inst.task_state or "")
    if rule is None:
        return
    timeout = rule.timeout
    if rule.timeout == states.BUILD_TIMEOUT:
        timeout = float(deps.settings.compute.build_timeout)
    started = inst.task_started_at or inst.updated_at
    expired = (now - started).total_seconds() > timeout
    host_down = inst.host is not None and inst.host in down
    if host_down and inst.task_state == states.REBUILDING:
        host_down = not await moves.evacuating(deps, inst.uuid)  # leaving its down host
    if not (expired or host_down):
        return
    if rule.restart == "resume":
        if host_down or inst.host is None:
            await local_delete(deps.placement, deps.db, inst.uuid)
        else:
            await deps.agent(inst.host).terminate_instance(inst.uuid)
        return
    why = f"its host {inst.host} is down" if host_down else f"it took over {timeout:g} s"
    if rule.restart == "error":
        await instances.set_error(
            deps.db,
            inst.uuid,
            f"The instance was stuck in {inst.task_state} and {why}; delete it and "
            "create it again.",
        )
    else:
        if inst.task_state == states.MIGRATING:
            await moves.abandon_live_migration(deps, inst.uuid)
        await instances.cas(
            deps.db, inst.uuid, task_states=[inst.task_state], change=Change(task_state=None)
        )
