"""The compute agent of one host as the RPC bus sees it: topic "compute", server = host.

Every public async method here is callable over the bus; each delegates to the module for
its life cycle (build, delete, power, lifecycle) and never raises for an instance's failure:
failures are written to the instance (fault, event) where the user can see them.
"""

from __future__ import annotations

from typing import Any

from ministack.compute.agent import build, delete, host, lifecycle, power
from ministack.compute.agent.base import AgentBase
from ministack.compute.virt.driver import GuestNotFound

TOPIC = "compute"


class ComputeAgent(AgentBase):
    """One host's agent."""

    async def start(self) -> None:
        """Prepare the driver, register the host, reconcile, then start serving RPC."""
        await self.driver.init_host(self.host)
        await host.register(self)
        await host.reconcile(self)
        await self.deps.bus.serve(TOPIC, self, server=self.host)

    async def build_and_run_instance(
        self, instance_uuid: str, attempt: int = 1, tried_hosts: list[str] | None = None
    ) -> None:
        await build.build_and_run(self, instance_uuid, attempt, list(tried_hosts or []))

    async def terminate_instance(self, instance_uuid: str) -> None:
        await delete.terminate(self, instance_uuid)

    async def power_action(self, instance_uuid: str, action: str, from_vm_state: str) -> None:
        await power.power_action(self, instance_uuid, action, from_vm_state)

    async def rebuild_instance(self, instance_uuid: str, from_vm_state: str) -> None:
        await lifecycle.rebuild(self, instance_uuid, from_vm_state)

    async def resize_instance(self, instance_uuid: str) -> None:
        """Source side of a resize: stop the guest; it stays until confirm or revert."""
        await lifecycle.resize_source(self, instance_uuid)

    async def finish_resize(self, instance_uuid: str, source_host: str) -> None:
        await lifecycle.finish_resize(self, instance_uuid, source_host)

    async def confirm_resize(self, instance_uuid: str, source_host: str) -> None:
        await lifecycle.confirm_resize(self, instance_uuid, source_host)

    async def revert_resize(self, instance_uuid: str, source_host: str) -> None:
        await lifecycle.revert_resize(self, instance_uuid, source_host)

    async def finish_revert_resize(self, instance_uuid: str) -> None:
        await lifecycle.finish_revert_resize(self, instance_uuid)

    async def destroy_guest(self, instance_uuid: str) -> None:
        """Remove a guest left on this host by a resize. Idempotent."""
        await self.driver.destroy(instance_uuid)

    async def snapshot_instance(self, instance_uuid: str, image_id: str) -> None:
        await lifecycle.snapshot(self, instance_uuid, image_id)

    async def get_console_output(self, instance_uuid: str, length: int | None = None) -> str:
        """The guest's console log ('' when the guest is gone)."""
        try:
            return await self.driver.console_log(instance_uuid, length)
        except GuestNotFound:
            return ""

    async def set_fake(
        self,
        delay: dict[str, float] | None = None,
        fail: dict[str, str] | None = None,
        fail_once: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Test hook: set the fake driver's delays and failures. Errors on other drivers."""
        configure = getattr(self.driver, "configure", None)
        if configure is None:
            raise RuntimeError(f"{self.host} does not run the fake driver")
        configure(delay=delay, fail=fail, fail_once=fail_once)
        guests = [g.uuid for g in await self.driver.list_guests()]
        return {"host": self.host, "delay": delay or {}, "fail": fail or {}, "guests": guests}

    async def external_event(self, instance_uuid: str, name: str, tag: str | None) -> None:
        """network-vif-plugged, volume attach and the like: recorded, nothing waits yet."""
        return None
