"""The conductor (RPC topic "conductor"): between the API and the hosts.

It asks the scheduler for hosts, hands each instance to its host's agent, records the
scheduling outcome in the instance's events, and owns the timeouts of transitional states:
a build that outlives `build_timeout`, or whose host is declared down, is ERROR with a fault;
a delete on a down host is finished locally (PROMISES 1, 2, 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from ministack.common.db import Database, utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.agent.delete import local_delete
from ministack.config import Settings
from ministack.placement.client import PlacementClient

log = logging.getLogger("ministack.compute.conductor")
TOPIC = "conductor"
SCHEDULE_EVENT = "conductor_schedule_and_build_instances"


class Conductor:
    """The conductor's RPC endpoint and its periodic reaper."""

    def __init__(
        self, settings: Settings, db: Database, bus: Any, placement: PlacementClient
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.placement = placement
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def build_instances(
        self, instance_uuids: list[str], attempt: int = 1, tried_hosts: list[str] | None = None
    ) -> None:
        """Schedule the instances (one request) and cast each to its host. Never raises:
        no host, or a host that cannot be reached, is the instance's ERROR with a fault."""
        try:
            await self._build(instance_uuids, attempt, tried_hosts or [])
        except Exception as exc:
            log.exception("scheduling %s failed", instance_uuids)
            for uuid in instance_uuids:
                if await instances.cas(self.db, uuid, task_states=[states.SCHEDULING]):
                    await instances.set_error(self.db, uuid, f"Scheduling failed: {exc}")

    async def _build(self, instance_uuids: list[str], attempt: int, tried_hosts: list[str]) -> None:
        async with self.db.session() as s:
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
            answer = await self.bus.call(
                "scheduler",
                "select_destinations",
                instance_uuids=uuids,
                spec=rows[0].request_spec,
                ignore_hosts=list(tried_hosts or []),
            )
        except Exception as exc:
            answer = {"error": f"The scheduler did not answer: {exc}"}
        if "error" in answer:
            for u in uuids:
                await instances.whole_step(self.db, u, SCHEDULE_EVENT, started, answer["error"])
                await instances.set_error(self.db, u, answer["error"])
            return
        for u, dest in zip(uuids, answer["hosts"], strict=True):
            await self._hand_over(u, dest, attempt, tried_hosts or [], started)

    async def _hand_over(
        self,
        uuid: str,
        dest: dict[str, str],
        attempt: int,
        tried: list[str],
        started: dt.datetime,
    ) -> None:
        host, node, zone = dest["host"], dest["node"], dest.get("zone")
        moved = await instances.whole_step(
            self.db,
            uuid,
            SCHEDULE_EVENT,
            started,
            vm_states=[states.BUILDING],
            task_states=[states.SCHEDULING],
            on_host=None,
            host=host,
            node=node,
            availability_zone=zone,
        )
        if not moved:
            await self.placement.release(uuid)  # deleted while being scheduled
            return
        try:
            await self.bus.cast(
                "compute",
                "build_and_run_instance",
                server=host,
                instance_uuid=uuid,
                attempt=attempt,
                tried_hosts=tried,
            )
        except Exception as exc:
            await self.placement.release(uuid)
            await instances.set_error(
                self.db, uuid, f"The compute host {host} is unreachable: {exc}"
            )

    # -- periodic: transitional-state timeouts and down hosts --

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="conductor-reaper")

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _loop(self) -> None:
        interval = max(1, self.settings.compute.heartbeat_interval)
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)
            try:
                await self.reap()
            except Exception:
                log.exception("conductor reaper failed")

    async def down_hosts(self) -> set[str]:
        """Compute hosts whose agent missed heartbeats for service_down_time (or forced down)."""
        limit = utcnow() - dt.timedelta(seconds=self.settings.compute.service_down_time)
        async with self.db.session() as s:
            rows = (
                await s.execute(select(ServiceRecord).where(ServiceRecord.binary == "nova-compute"))
            ).scalars()
            return {r.host for r in rows if r.forced_down or r.updated_at < limit}

    async def reap(self) -> None:
        """One pass over transitional states: timeouts and instances on down hosts."""
        down = await self.down_hosts()
        now = utcnow()
        async with self.db.session() as s:
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
            await self._reap_one(inst, down, now)

    async def _reap_one(self, inst: m.Instance, down: set[str], now: dt.datetime) -> None:
        rule = states.BY_TASK_STATE.get(inst.task_state or "")
        if rule is None:
            return
        timeout = rule.timeout
        if rule.timeout == states.BUILD_TIMEOUT:
            timeout = float(self.settings.compute.build_timeout)
        started = inst.task_started_at or inst.updated_at
        expired = (now - started).total_seconds() > timeout
        host_down = inst.host is not None and inst.host in down
        if not (expired or host_down):
            return
        if rule.restart == "resume":
            if host_down or inst.host is None:
                await local_delete(self.placement, self.db, inst.uuid)
            else:
                await self.bus.cast(
                    "compute", "terminate_instance", server=inst.host, instance_uuid=inst.uuid
                )
            return
        why = f"its host {inst.host} is down" if host_down else f"it took over {timeout:g} s"
        if rule.restart == "error":
            await instances.set_error(
                self.db,
                inst.uuid,
                f"The instance was stuck in {inst.task_state} and {why}; delete it and "
                "create it again.",
            )
        else:
            await instances.cas(self.db, inst.uuid, task_states=[inst.task_state], task_state=None)

    async def resize_instance(self, instance_uuid: str) -> None:
        """Schedule a resize to another host, stop the source guest, finish on the target."""
        from ministack.compute.resize import schedule_resize

        await schedule_resize(self, instance_uuid)
