"""The conductor's half of a build: one scheduling request for a batch of instances, then each
instance handed to its host's agent. Never raises: no host, or a host that cannot be reached,
is the instance's ERROR with a fault the user can read."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from ministack.common.db import utcnow
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.conductor.base import ConductorDeps
from ministack.compute.instances import Change
from ministack.compute.rpcapi.scheduler import Destination, Selection

log = logging.getLogger("ministack.compute.conductor")
SCHEDULE_EVENT = "conductor_schedule_and_build_instances"


async def build_instances(
    deps: ConductorDeps, instance_uuids: list[str], attempt: int, tried_hosts: list[str]
) -> None:
    """Schedule the instances still waiting in `scheduling` and cast each to its host."""
    try:
        await _build(deps, instance_uuids, attempt, tried_hosts)
    except Exception as exc:
        log.exception("scheduling %s failed", instance_uuids)
        for uuid in instance_uuids:
            if await instances.cas(deps.db, uuid, task_states=[states.SCHEDULING]):
                await instances.set_error(deps.db, uuid, f"Scheduling failed: {exc}")


async def _build(
    deps: ConductorDeps, instance_uuids: list[str], attempt: int, tried_hosts: list[str]
) -> None:
    async with deps.db.session() as s:
        rows = list(
            (
                await s.execute(
                    select(m.Instance)
                    .where(
                        m.Instance.uuid.in_(instance_uuids),
                        m.Instance.deleted.is_(False),
                        m.Instance.task_state == states.SCHEDULING,
                    )
                    .order_by(m.Instance.launch_index)
                )
            ).scalars()
        )
    if not rows:
        return
    uuids = [r.uuid for r in rows]
    started = utcnow()
    try:
        answer = await deps.scheduler.select_destinations(
            uuids, rows[0].request_spec, list(tried_hosts)
        )
    except Exception as exc:
        answer = Selection(error=f"The scheduler did not answer: {exc}")
    if answer.error is not None:
        for u in uuids:
            await instances.whole_step(
                deps.db, u, SCHEDULE_EVENT, started, answer.error, host=deps.settings.hostname
            )
            await instances.set_error(deps.db, u, answer.error)
        return
    for u, dest in zip(uuids, answer.hosts, strict=True):
        await _hand_over(deps, u, dest, attempt, tried_hosts, started)


async def _hand_over(
    deps: ConductorDeps,
    uuid: str,
    dest: Destination,
    attempt: int,
    tried: list[str],
    started: dt.datetime,
) -> None:
    moved = await instances.whole_step(
        deps.db,
        uuid,
        SCHEDULE_EVENT,
        started,
        vm_states=[states.BUILDING],
        task_states=[states.SCHEDULING],
        on_host=None,
        change=Change(host=dest.host, node=dest.node, availability_zone=dest.zone),
        host=deps.settings.hostname,
    )
    if not moved:
        await deps.placement.release(uuid)  # deleted while being scheduled
        return
    try:
        await deps.agent(dest.host).build_and_run_instance(uuid, attempt, tried)
    except Exception as exc:
        await deps.placement.release(uuid)
        await instances.set_error(
            deps.db, uuid, f"The compute host {dest.host} is unreachable: {exc}"
        )
