"""The compute agent of one host as the RPC bus sees it: topic "compute", server = host.

Every public async method here is callable over the bus; each delegates to the module for
its life cycle (build, delete, power, lifecycle) and never raises for an instance's failure:
failures are written to the instance (fault, event) where the user can see them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ministack.common.rpc.payload import receives
from ministack.compute.agent import (
    build,
    console_relay,
    delete,
    evacuate,
    host,
    interfaces,
    lifecycle,
    migrate,
    networking,
    power,
    volumes,
)
from ministack.compute.agent.endpoints import LifecycleEndpoints
from ministack.compute.agent.networking import VIF_PLUGGED
from ministack.compute.rpcapi.agent import (
    TOPIC,
    BuildAndRun,
    ConsoleAnswer,
    ConsoleOutput,
    ConsoleRequest,
    DiagnosticsReport,
    ExternalEvent,
    FakeSettings,
    InstanceRef,
    InterfaceAttach,
    InterfaceDetach,
    MigrationStep,
    PowerAction,
    Rebuild,
    ResizeStep,
    Snapshot,
    VolumeRef,
)
from ministack.compute.virt.driver import ConsoleUnavailable, GuestNotFound


class ComputeAgent(LifecycleEndpoints):
    """One host's agent."""

    async def start(self) -> None:
        """Prepare the driver, reconcile, serve RPC, then register the host: the scheduler
        sees it up only once its queue is served (a build cast earlier would find no one)."""
        await self.driver.init_host(self.host)
        await self.reconcile_lifecycle()
        await host.reconcile(self)
        await self.deps.bus.serve(TOPIC, self, server=self.host)
        await host.register(self)

    @receives(BuildAndRun)
    async def build_and_run_instance(self, req: BuildAndRun) -> None:
        await build.build_and_run(self, req.instance_uuid, req.attempt, list(req.tried_hosts))

    @receives(InstanceRef)
    async def terminate_instance(self, req: InstanceRef) -> None:
        await delete.terminate(self, req.instance_uuid)

    @receives(PowerAction)
    async def power_action(self, req: PowerAction) -> None:
        await power.power_action(self, req.instance_uuid, req.action, req.from_vm_state)

    @receives(Rebuild)
    async def rebuild_instance(self, req: Rebuild) -> None:
        await lifecycle.rebuild(self, req.instance_uuid, req.from_vm_state, req.reimage_image_id)

    @receives(InstanceRef)
    async def resize_instance(self, req: InstanceRef) -> None:
        """Source side of a resize: stop the guest; it stays until confirm or revert."""
        await lifecycle.resize_source(self, req.instance_uuid)

    @receives(ResizeStep)
    async def finish_resize(self, req: ResizeStep) -> None:
        await lifecycle.finish_resize(self, req.instance_uuid, req.source_host)

    @receives(ResizeStep)
    async def confirm_resize(self, req: ResizeStep) -> None:
        await lifecycle.confirm_resize(self, req.instance_uuid, req.source_host)

    @receives(ResizeStep)
    async def revert_resize(self, req: ResizeStep) -> None:
        await lifecycle.revert_resize(self, req.instance_uuid, req.source_host)

    @receives(InstanceRef)
    async def finish_revert_resize(self, req: InstanceRef) -> None:
        await lifecycle.finish_revert_resize(self, req.instance_uuid)

    @receives(MigrationStep)
    async def pre_live_migration(self, req: MigrationStep) -> dict[str, str]:
        return await migrate.pre_live_migration(self, req)

    @receives(MigrationStep)
    async def live_migration(self, req: MigrationStep) -> None:
        await migrate.live_migration(self, req)

    @receives(MigrationStep)
    async def post_live_migration_at_destination(self, req: MigrationStep) -> None:
        await migrate.post_live_migration_at_destination(self, req)

    @receives(MigrationStep)
    async def rollback_live_migration_at_destination(self, req: MigrationStep) -> None:
        await migrate.rollback_at_destination(self, req)

    @receives(MigrationStep)
    async def live_migration_abort(self, req: MigrationStep) -> None:
        migrate.abort(self, req)

    @receives(MigrationStep)
    async def live_migration_force_complete(self, req: MigrationStep) -> None:
        migrate.force_complete(self, req)

    @receives(MigrationStep)
    async def evacuate_instance(self, req: MigrationStep) -> None:
        await evacuate.evacuate(self, req)

    @receives(Snapshot)
    async def snapshot_instance(self, req: Snapshot) -> None:
        await lifecycle.snapshot(self, req.instance_uuid, req.image_id)

    @receives(ConsoleOutput)
    async def get_console_output(self, req: ConsoleOutput) -> str:
        """The guest's console log ('' when the guest is gone)."""
        try:
            return await self.driver.console_log(req.instance_uuid, req.length)
        except GuestNotFound:
            return ""

    @receives(ConsoleRequest)
    async def get_console(self, req: ConsoleRequest) -> dict[str, Any]:
        """Where the guest's console listens, as a ConsoleAnswer; a driver without that
        console, or a guest not running, answers `unavailable` (the API's 4xx, never a 500).
        Raises GuestNotFound (a RemoteError to the caller) when the guest is not here."""
        reason = console_relay.refusal(self.driver, req.kind)
        if reason is not None:
            return ConsoleAnswer(unavailable=reason).to_wire()
        try:
            found = await self.driver.get_console(req.instance_uuid, req.kind)
        except ConsoleUnavailable as exc:
            return ConsoleAnswer(unavailable=str(exc)).to_wire()
        return ConsoleAnswer(host=found.host, port=found.port, path=found.path).to_wire()

    @receives(ConsoleRequest)
    async def get_console_endpoint(self, req: ConsoleRequest) -> dict[str, Any]:
        """Where the controller's console proxy connects for the guest's console, as a
        ConsoleEndpointAnswer (agent/console_relay.py); raises GuestNotFound."""
        c = self.deps.settings.console
        answer = await console_relay.endpoint(
            self.driver,
            self.relays,
            c.proxyclient_address,
            c.relay_accept_timeout,
            req.instance_uuid,
            req.kind,
        )
        return answer.to_wire()

    @receives(InstanceRef)
    async def get_diagnostics(self, req: InstanceRef) -> dict[str, Any]:
        """The driver's diagnostics of the guest, as a DiagnosticsReport on the wire; raises
        GuestNotFound (a RemoteError to the caller) when the guest is not here."""
        found = await self.driver.get_diagnostics(req.instance_uuid)
        report = DiagnosticsReport(
            state=found.state,
            driver=found.driver,
            hypervisor=found.hypervisor,
            hypervisor_os=found.hypervisor_os,
            uptime=found.uptime,
            config_drive=found.config_drive,
            memory_kib=found.memory_kib,
            memory_used_kib=found.memory_used_kib,
            cpus=[asdict(c) for c in found.cpus],
            disks=[asdict(d) for d in found.disks],
            nics=[asdict(n) for n in found.nics],
        )
        return report.to_wire()

    @receives(VolumeRef)
    async def attach_volume(self, req: VolumeRef) -> None:
        await volumes.attach(self, req.instance_uuid, req.volume_id)

    @receives(VolumeRef)
    async def detach_volume(self, req: VolumeRef) -> None:
        await volumes.detach(self, req.instance_uuid, req.volume_id)

    @receives(FakeSettings)
    async def set_fake(self, req: FakeSettings) -> dict[str, Any]:
        """Test hook: set the fake driver's delays and failures. Errors on other drivers."""
        configure = getattr(self.driver, "configure", None)
        if configure is None:
            raise RuntimeError(f"{self.host} does not run the fake driver")
        configure(delay=req.delay, fail=req.fail, fail_once=req.fail_once)
        guests = [g.uuid for g in await self.driver.list_guests()]
        return {
            "host": self.host,
            "delay": req.delay or {},
            "fail": req.fail or {},
            "guests": guests,
            "volumes": getattr(self.driver, "guest_volumes", dict)(),
            "images": getattr(self.driver, "guest_images", dict)(),
        }

    @receives(InterfaceAttach)
    async def attach_interface(self, req: InterfaceAttach) -> dict[str, Any]:
        """Hot-plug a NIC (os-interface POST): an InterfaceAnswer on the wire."""
        return (await interfaces.attach(self, req)).to_wire()

    @receives(InterfaceDetach)
    async def detach_interface(self, req: InterfaceDetach) -> dict[str, Any]:
        """Unplug a NIC (os-interface DELETE): an InterfaceAnswer on the wire."""
        return (await interfaces.detach(self, req)).to_wire()

    @receives(ExternalEvent)
    async def external_event(self, req: ExternalEvent) -> None:
        """network-vif-plugged wakes the operation waiting for it; network-changed refreshes
        the instance's info cache (under its lock: after a build or attach in progress);
        volume-extended grows the attached volume in the guest."""
        if req.name == "volume-extended" and req.tag:
            await volumes.extended(self, req.instance_uuid, req.tag)
            return
        if self.events.deliver(req.instance_uuid, req.name, req.tag, req.status):
            return
        if req.name in ("network-changed", VIF_PLUGGED):
            async with self.locks[req.instance_uuid]:
                await networking.refresh(self, req.instance_uuid)
