"""The compute agents one process runs (`compute.fake_hosts` of them with the fake driver),
with one heartbeat loop and one power-sync loop for all of them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from typing import Any

from ministack.compute.agent import host, hostinit
from ministack.compute.agent.base import AgentDeps
from ministack.compute.agent.manager import ComputeAgent
from ministack.compute.images_source import ImageServiceSource
from ministack.compute.virt.driver import VirtDriver
from ministack.compute.virt.fake import FakeDriver, parse_settings
from ministack.config import ComputeSection

log = logging.getLogger("ministack.compute.agent")


def host_names(base: str, count: int) -> list[str]:
    """The hosts of this process: the host name itself, or base-1..base-N for fake hosts."""
    return [base] if count <= 1 else [f"{base}-{i}" for i in range(1, count + 1)]


def make_driver(deps: AgentDeps, name: str) -> VirtDriver:
    """The configured driver for one host. ValueError for an unknown driver name."""
    cfg = deps.settings.compute
    if cfg.virt_driver == "fake":
        delays = {k: float(v or 0) for k, v in parse_settings(cfg.fake_delays).items()}
        return FakeDriver(
            name,
            vcpus=cfg.fake_vcpus,
            memory_mb=cfg.fake_memory_mb,
            disk_gb=cfg.fake_disk_gb,
            delay=delays,
            fail=parse_settings(cfg.fake_failures),
            state_file=deps.settings.state_path / "fake-hosts" / f"{name}.json",
            netns_guests=(
                deps.settings.state_path / "fake-guests" / name if cfg.fake_netns_guests else None
            ),
            host_netns=deps.settings.network_agent.host_netns or None,
        )
    if cfg.virt_driver == "libvirt":
        module: Any = importlib.import_module("ministack.compute.virt.libvirt")
        driver: VirtDriver = module.LibvirtDriver(deps.settings, ImageServiceSource(deps.images))
        return driver
    raise ValueError(f"unknown compute.virt_driver {cfg.virt_driver!r}: use fake or libvirt")


def lifecycle_interval(cfg: ComputeSection) -> int:
    """Seconds between the shelve-offload and reclaim passes: the shorter of Nova's
    shelved_poll_interval and reclaim_instance_interval (when soft delete is on)."""
    wanted = [cfg.shelved_poll_interval]
    if cfg.reclaim_instance_interval > 0:
        wanted.append(cfg.reclaim_instance_interval)
    return max(1, min(wanted))


class AgentGroup:
    """Start, run and stop this process's compute agents."""

    def __init__(self, deps: AgentDeps, hosts: list[str]) -> None:
        self.deps = deps
        self.agents = [ComputeAgent(h, make_driver(deps, h), deps) for h in hosts]
        self.started: list[ComputeAgent] = []
        self.waiting: list[ComputeAgent] = []
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start every agent; one whose driver cannot start (libvirtd down) is recorded in the
        services table and retried every hostinit.INIT_RETRY seconds (hostinit.py)."""
        for agent in self.agents:
            if await hostinit.try_start(agent):
                self.started.append(agent)
            else:
                self.waiting.append(agent)
        await self.deps.scheduler.refresh()
        self.tasks.append(asyncio.create_task(self._every("heartbeat", self._beat)))
        self.tasks.append(asyncio.create_task(self._every("power sync", self._sync)))
        self.tasks.append(asyncio.create_task(self._every("life cycle", self._lifecycle)))
        if self.waiting:
            self.tasks.append(asyncio.create_task(self._every("init retry", self._retry)))

    async def _retry(self) -> None:
        for agent in list(self.waiting):
            if await hostinit.try_start(agent):
                self.waiting.remove(agent)
                self.started.append(agent)
                await self.deps.scheduler.refresh()

    async def _beat(self) -> None:
        await host.heartbeat(self.deps.db, [a.host for a in self.started])

    async def _sync(self) -> None:
        for agent in self.started:
            await host.sync_power_states(agent)

    async def _lifecycle(self) -> None:
        for agent in self.started:
            await agent.periodic_tasks()

    async def _every(self, what: str, func: Any) -> None:
        cfg = self.deps.settings.compute
        intervals = {
            "heartbeat": cfg.heartbeat_interval,
            "init retry": hostinit.INIT_RETRY,
            "life cycle": lifecycle_interval(cfg),
        }
        interval = intervals.get(what, cfg.sync_power_state_interval)
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)
            if self.stopping.is_set():
                return
            try:
                await func()
            except Exception:
                log.exception("compute %s failed", what)

    async def stop(self) -> None:
        self.stopping.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for agent in self.agents:
            await agent.relays.stop()
