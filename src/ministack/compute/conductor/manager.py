"""The conductor's RPC endpoint (topic "conductor") and its periodic reaper task."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import receives
from ministack.compute.conductor import build, moves, reaper, resize, unshelve
from ministack.compute.conductor.base import ConductorDeps
from ministack.compute.rpcapi.conductor import (
    BuildInstances,
    MoveInstance,
    ResizeInstance,
    UnshelveInstance,
)
from ministack.config import Settings
from ministack.placement.client import PlacementClient

log = logging.getLogger("ministack.compute.conductor")


class Conductor:
    """Serves BuildInstances, ResizeInstance and MoveInstance; `start` runs the reaper every
    heartbeat."""

    def __init__(
        self, settings: Settings, db: Database, bus: Bus, placement: PlacementClient
    ) -> None:
        self.deps = ConductorDeps(settings, db, bus, placement)
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @receives(BuildInstances)
    async def build_instances(self, req: BuildInstances) -> None:
        """Never raises: every outcome is written to the instances."""
        await build.build_instances(self.deps, req.instance_uuids, req.attempt, req.tried_hosts)

    @receives(ResizeInstance)
    async def resize_instance(self, req: ResizeInstance) -> None:
        """Schedule a resize to another host, stop the source guest, finish on the target."""
        await resize.schedule_resize(self.deps, req.instance_uuid)

    @receives(UnshelveInstance)
    async def unshelve_instance(self, req: UnshelveInstance) -> None:
        """Unshelve on the server's host, or schedule it again when it was offloaded."""
        await unshelve.unshelve_instance(self.deps, req)

    @receives(MoveInstance)
    async def live_migrate_instance(self, req: MoveInstance) -> None:
        """Choose the destination of a live migration and hand it to the agents."""
        await moves.live_migrate(self.deps, req)

    @receives(MoveInstance)
    async def evacuate_instance(self, req: MoveInstance) -> None:
        """Choose the new host of a down host's instance; its agent rebuilds it there."""
        await moves.evacuate(self.deps, req)

    async def down_hosts(self) -> set[str]:
        return await reaper.down_hosts(self.deps)

    async def reap(self) -> None:
        await reaper.reap(self.deps)

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name="conductor-reaper")

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _loop(self) -> None:
        interval = max(1, self.deps.settings.compute.heartbeat_interval)
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)
            try:
                await reaper.reap(self.deps)
            except Exception:
                log.exception("conductor reaper failed")
