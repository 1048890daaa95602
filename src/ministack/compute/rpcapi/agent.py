"""RPC API of one host's compute agent (topic "compute", server = the host's name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ministack.common.rpc.base import LONG_CALL_TIMEOUT, Bus
from ministack.common.rpc.payload import Payload
from ministack.compute.rpcapi.agent_lifecycle import LifecycleCasts

TOPIC = "compute"
CONSOLE_TIMEOUT = 10.0
"""Seconds the API waits for a console log before telling the user the host is silent."""


@dataclass(frozen=True)
class InstanceRef(Payload):
    """An operation that needs only the instance (terminate, resize source, revert finish)."""

    instance_uuid: str


@dataclass(frozen=True)
class BuildAndRun(Payload):
    instance_uuid: str
    attempt: int = 1
    tried_hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PowerAction(Payload):
    instance_uuid: str
    action: str
    """A key of `compute.states.POWER_ACTIONS`."""
    from_vm_state: str


@dataclass(frozen=True)
class Rebuild(Payload):
    """1.1: `reimage_image_id`, the image to write onto a volume-backed server's root
    volume (Nova 2.93); None for a server booted from an image (its image_ref is the new one)."""

    VERSION = "1.1"
    instance_uuid: str
    from_vm_state: str
    reimage_image_id: str | None = None


@dataclass(frozen=True)
class ResizeStep(Payload):
    """finish, confirm or revert a resize whose guest came from `source_host`."""

    instance_uuid: str
    source_host: str


@dataclass(frozen=True)
class Snapshot(Payload):
    instance_uuid: str
    image_id: str


@dataclass(frozen=True)
class ConsoleOutput(Payload):
    instance_uuid: str
    length: int | None = None


@dataclass(frozen=True)
class ConsoleRequest(Payload):
    """Where is the guest's `kind` console ("vnc" or "serial")?"""

    instance_uuid: str
    kind: str


@dataclass(frozen=True)
class ConsoleAnswer(Payload):
    """Where the console listens on the host (TCP `host`:`port`, or the pty or socket `path`
    when `port` is 0), or why there is none (`unavailable`, a message for the user)."""

    host: str = ""
    port: int = 0
    path: str | None = None
    unavailable: str | None = None


@dataclass(frozen=True)
class ConsoleEndpointAnswer(Payload):
    """Where another machine's console proxy connects for the guest's console: TCP
    `address`:`port`, `address` being the host's `[console] proxyclient_address` (a serial
    pty is offered through a one-connection relay listening there), or why there is none
    (`unavailable`, for the log)."""

    address: str = ""
    port: int = 0
    unavailable: str | None = None


@dataclass(frozen=True)
class DiagnosticsReport(Payload):
    """What `get_diagnostics` answers: the driver's Diagnostics as JSON. `cpus` holds
    {id, time_ns, utilisation}, `disks` {device, read_bytes, read_requests, write_bytes,
    write_requests, errors_count}, `nics` {device, mac_address, rx_octets, rx_errors, rx_drop,
    rx_packets, tx_octets, tx_errors, tx_drop, tx_packets}; memory in KiB."""

    state: str
    driver: str
    hypervisor: str | None
    hypervisor_os: str | None
    uptime: int | None
    config_drive: bool
    memory_kib: int
    memory_used_kib: int | None = None
    cpus: list[dict[str, Any]] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)
    nics: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ExternalEvent(Payload):
    """1.1: the event's status (completed, failed: a volume-reimaged that failed)."""

    VERSION = "1.1"
    instance_uuid: str
    name: str
    tag: str | None = None
    status: str = "completed"


@dataclass(frozen=True)
class InterfaceAttach(Payload):
    """Give the instance one more NIC: the user's port, or a new port on `network_id`."""

    instance_uuid: str
    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None


@dataclass(frozen=True)
class InterfaceDetach(Payload):
    instance_uuid: str
    port_id: str


@dataclass(frozen=True)
class InterfaceAnswer(Payload):
    """The port attached (or detached), or why not: `error` with the HTTP `status` the API
    answers (404 unknown port or network, 409 in use or not now, 500 the host failed)."""

    port_id: str = ""
    error: str | None = None
    status: int = 0


@dataclass(frozen=True)
class VolumeRef(Payload):
    """Attach or detach the volume of one block device mapping (compute.agent.volumes)."""

    instance_uuid: str
    volume_id: str


@dataclass(frozen=True)
class MigrationStep(Payload):
    """One step of a live migration or evacuation (migration `migration_id`) of the instance
    between `source_host` and `dest_host` (compute/agent/migrate.py, evacuate.py). 1.1:
    `dest_data`."""

    VERSION = "1.1"
    instance_uuid: str
    migration_id: int
    source_host: str = ""
    dest_host: str = ""
    block_migration: bool = False
    dest_data: dict[str, str] | None = None
    """What the destination's driver answered to pre_live_migration (how to reach it)."""


@dataclass(frozen=True)
class FakeSettings(Payload):
    """Test hook: the fake driver's delays and failures (see `compute.virt.fake`)."""

    delay: dict[str, float] | None = None
    fail: dict[str, str] | None = None
    fail_once: dict[str, str] | None = None


class ComputeAgentAPI(LifecycleCasts):
    """What may be asked of the agent of `host`. Casts return once the bus holds the message
    (NoConsumer when the host's agent is not serving); calls raise RpcError on no answer."""

    def __init__(self, bus: Bus, host: str) -> None:
        self.bus = bus
        self.host = host

    async def _cast(self, method: str, payload: Payload) -> None:
        await self.bus.cast(TOPIC, method, server=self.host, payload=payload.to_wire())

    async def _call(self, method: str, payload: Payload, timeout: float | None = None) -> Any:
        return await self.bus.call(
            TOPIC, method, server=self.host, timeout=timeout, payload=payload.to_wire()
        )

    async def build_and_run_instance(
        self, instance_uuid: str, attempt: int = 1, tried_hosts: list[str] | None = None
    ) -> None:
        await self._cast(
            "build_and_run_instance", BuildAndRun(instance_uuid, attempt, list(tried_hosts or []))
        )

    async def terminate_instance(self, instance_uuid: str) -> None:
        await self._cast("terminate_instance", InstanceRef(instance_uuid))

    async def power_action(self, instance_uuid: str, action: str, from_vm_state: str) -> None:
        await self._cast("power_action", PowerAction(instance_uuid, action, from_vm_state))

    async def rebuild_instance(
        self, instance_uuid: str, from_vm_state: str, reimage_image_id: str | None = None
    ) -> None:
        await self._cast(
            "rebuild_instance", Rebuild(instance_uuid, from_vm_state, reimage_image_id)
        )

    async def resize_instance(self, instance_uuid: str) -> None:
        """Stop the guest on this (source) host (and upload its disk when it moves to another
        host: slow); waits, and raises when the agent could not."""
        await self._call("resize_instance", InstanceRef(instance_uuid), LONG_CALL_TIMEOUT)

    async def finish_resize(self, instance_uuid: str, source_host: str) -> None:
        await self._cast("finish_resize", ResizeStep(instance_uuid, source_host))

    async def confirm_resize(self, instance_uuid: str, source_host: str) -> None:
        await self._cast("confirm_resize", ResizeStep(instance_uuid, source_host))

    async def revert_resize(self, instance_uuid: str, source_host: str) -> None:
        await self._cast("revert_resize", ResizeStep(instance_uuid, source_host))

    async def finish_revert_resize(self, instance_uuid: str) -> None:
        await self._cast("finish_revert_resize", InstanceRef(instance_uuid))

    async def snapshot_instance(self, instance_uuid: str, image_id: str) -> None:
        await self._cast("snapshot_instance", Snapshot(instance_uuid, image_id))

    async def get_console_output(self, instance_uuid: str, length: int | None) -> str:
        """The guest's console log; raises RpcError when the host does not answer in time."""
        output = await self._call(
            "get_console_output", ConsoleOutput(instance_uuid, length), CONSOLE_TIMEOUT
        )
        return str(output)

    async def get_diagnostics(self, instance_uuid: str) -> DiagnosticsReport:
        """The hypervisor's figures for the guest; raises RpcError when the host does not
        answer in time, RemoteError when it has no such guest."""
        answer = await self._call("get_diagnostics", InstanceRef(instance_uuid), CONSOLE_TIMEOUT)
        return DiagnosticsReport.from_wire(answer)

    async def get_console(
        self, instance_uuid: str, kind: str, timeout: float = CONSOLE_TIMEOUT
    ) -> ConsoleAnswer:
        """Where the guest's console listens; raises RpcError when the host does not answer
        in `timeout` seconds, RemoteError when it has no such guest."""
        answer = await self._call("get_console", ConsoleRequest(instance_uuid, kind), timeout)
        return ConsoleAnswer.from_wire(answer)

    async def get_console_endpoint(
        self, instance_uuid: str, kind: str, timeout: float = CONSOLE_TIMEOUT
    ) -> ConsoleEndpointAnswer:
        """Where the controller's console proxy connects for the guest's `kind` console (a
        TCP address and port reachable from other machines); raises RpcError when the host
        does not answer in `timeout` seconds, RemoteError when it has no such guest."""
        answer = await self._call(
            "get_console_endpoint", ConsoleRequest(instance_uuid, kind), timeout
        )
        return ConsoleEndpointAnswer.from_wire(answer)

    async def attach_interface(self, req: InterfaceAttach, timeout: float) -> InterfaceAnswer:
        """Hot-plug a NIC and wait until it is plugged; raises RpcError past `timeout`."""
        return InterfaceAnswer.from_wire(await self._call("attach_interface", req, timeout))

    async def detach_interface(self, req: InterfaceDetach, timeout: float) -> InterfaceAnswer:
        """Unplug a NIC and release its port; raises RpcError past `timeout`."""
        return InterfaceAnswer.from_wire(await self._call("detach_interface", req, timeout))

    async def external_event(
        self, instance_uuid: str, name: str, tag: str | None, status: str = "completed"
    ) -> None:
        await self._cast("external_event", ExternalEvent(instance_uuid, name, tag, status))

    async def attach_volume(self, instance_uuid: str, volume_id: str) -> None:
        await self._cast("attach_volume", VolumeRef(instance_uuid, volume_id))

    async def detach_volume(self, instance_uuid: str, volume_id: str) -> None:
        await self._cast("detach_volume", VolumeRef(instance_uuid, volume_id))

    async def set_fake(self, settings: FakeSettings) -> dict[str, Any]:
        """Test hook; raises RemoteError when the host does not run the fake driver."""
        result: dict[str, Any] = await self._call("set_fake", settings, CONSOLE_TIMEOUT)
        return result

    async def pre_live_migration(self, step: MigrationStep) -> dict[str, str]:
        """Destination: make the incoming guest; waits, and raises when it could not.
        Answers what the source's driver needs to reach it (`MigrationStep.dest_data`)."""
        answer: dict[str, str] | None = await self._call("pre_live_migration", step)
        return dict(answer or {})

    async def live_migration(self, step: MigrationStep) -> None:
        """Source: run the copy, then finish or roll back (never raises to the caller)."""
        await self._cast("live_migration", step)

    async def post_live_migration_at_destination(self, step: MigrationStep) -> None:
        """Destination: the guest takes over here; waits, and raises when it could not."""
        await self._call("post_live_migration_at_destination", step)

    async def rollback_live_migration_at_destination(self, step: MigrationStep) -> None:
        """Destination: remove the incoming guest and its allocation; waits."""
        await self._call("rollback_live_migration_at_destination", step)

    async def live_migration_abort(self, step: MigrationStep) -> None:
        await self._cast("live_migration_abort", step)

    async def live_migration_force_complete(self, step: MigrationStep) -> None:
        await self._cast("live_migration_force_complete", step)

    async def evacuate_instance(self, step: MigrationStep) -> None:
        """Destination: rebuild the evacuated instance here."""
        await self._cast("evacuate_instance", step)
