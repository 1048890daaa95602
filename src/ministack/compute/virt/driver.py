"""The virt driver interface: what the compute agent asks of a hypervisor, and nothing more.

The agent is the only caller. Every method is async and idempotent where it says so; `spawn`
leaves nothing behind when it fails and `destroy` succeeds when the guest is already gone.
Optional features are `Capabilities` flags: the API checks them and answers 4xx instead of
letting an agent fail. Two implementations: `virt.fake.FakeDriver` (tests, scale runs) and
`virt.libvirt.LibvirtDriver` (real QEMU/KVM guests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Drivers report Nova's power_state codes; the vocabulary lives with the other states.
from ministack.compute.states import PowerState as PowerState


class DriverError(Exception):
    """A hypervisor operation failed; the message is safe to show in an instance fault."""


class ImageUnusable(DriverError):
    """The image cannot be booted on any host (corrupt or unsafe file, wrong or unsupported
    format, no boot sector, larger than the flavor's disk): the build is aborted, not
    rescheduled. The message names no host paths."""


class GuestNotFound(DriverError):
    """The hypervisor has no guest with that uuid."""


class ConsoleUnavailable(DriverError):
    """The guest has no console of that kind (the driver lacks it, or the guest is not
    running); the message is safe to show to the user."""


class LiveMigrationAborted(DriverError):
    """The live migration was aborted (os-migrations DELETE); the guest still runs here."""


@dataclass(frozen=True)
class LiveMigration:
    """One live migration as the source's driver runs it: where to, whether the disks are
    copied too, and the events the API sets through the agent to abort it or to force it to
    complete (the guest is paused so the copy converges)."""

    dest_host: str
    block_migration: bool = False
    dest_data: dict[str, str] = field(default_factory=dict)
    """What the destination's `prepare_incoming` answered (how to reach it)."""
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    force_complete: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class ConsoleEndpoint:
    """Where a guest's console listens on its host: TCP `host`:`port` (VNC), or the unix
    socket `path` when `port` is 0 (serial). Only the console proxy connects there."""

    host: str
    port: int = 0
    path: str | None = None


@dataclass(frozen=True)
class Vif:
    """One network interface of a guest, plugged by the network agent into `bridge`."""

    port_id: str
    mac: str
    bridge: str = ""
    tap: str = ""
    mtu: int = 1500
    model: str = "virtio"


@dataclass(frozen=True)
class NbdSource:
    """A volume exported by a volume service on another machine (connection_info "nbd"):
    an NBD export that requires TLS with the attachment's pre-shared key."""

    host: str
    port: int
    name: str
    identity: str
    key: str = field(repr=False)


@dataclass(frozen=True)
class BlockDevice:
    """An attached volume: a host path (file or block device) exposed to the guest, or an
    NBD export (`nbd`, then `path` is empty)."""

    volume_id: str
    path: str
    device: str = ""  # e.g. /dev/vdb; the driver picks one when empty
    read_only: bool = False
    format: str = "qcow2"
    nbd: NbdSource | None = None


@dataclass(frozen=True)
class GuestSpec:
    """Everything needed to build a guest. Frozen: a change is a new spec."""

    uuid: str
    name: str
    hostname: str
    vcpus: int
    memory_mb: int
    root_gb: int
    image_id: str | None
    image_format: str = "qcow2"
    image_properties: Mapping[str, str] = field(default_factory=dict)
    ephemeral_gb: int = 0
    swap_mb: int = 0
    flavor_extra_specs: Mapping[str, str] = field(default_factory=dict)
    user_data: bytes | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    public_keys: Mapping[str, str] = field(default_factory=dict)
    admin_password: str | None = None
    config_drive: bool = True
    vifs: tuple[Vif, ...] = ()
    block_devices: tuple[BlockDevice, ...] = ()
    project_id: str = ""
    availability_zone: str = "nova"
    network_data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class GuestInfo:
    uuid: str
    power_state: PowerState
    vcpus: int = 0
    memory_mb: int = 0
    cpu_time_ns: int = 0


# Nova's names of the power states, as diagnostics report them
POWER_STATE_NAMES = {
    PowerState.NOSTATE: "pending",
    PowerState.RUNNING: "running",
    PowerState.PAUSED: "paused",
    PowerState.SHUTDOWN: "shutdown",
    PowerState.CRASHED: "crashed",
    PowerState.SUSPENDED: "suspended",
}


@dataclass(frozen=True)
class CpuStats:
    """One vCPU: its time in ns and utilisation in percent (None when unknown)."""

    id: int
    time_ns: int | None = None
    utilisation: int | None = None


@dataclass(frozen=True)
class DiskStats:
    """One guest disk's counters (libvirt's blockStats); `device` is the target (vda)."""

    device: str
    read_bytes: int | None = None
    read_requests: int | None = None
    write_bytes: int | None = None
    write_requests: int | None = None
    errors_count: int | None = None


@dataclass(frozen=True)
class NicStats:
    """One guest interface's counters (libvirt's interfaceStats); `device` is the host tap."""

    device: str
    mac_address: str
    rx_octets: int | None = None
    rx_errors: int | None = None
    rx_drop: int | None = None
    rx_packets: int | None = None
    tx_octets: int | None = None
    tx_errors: int | None = None
    tx_drop: int | None = None
    tx_packets: int | None = None


@dataclass(frozen=True)
class Diagnostics:
    """What the hypervisor reports about one running guest (server diagnostics).

    `state` is Nova's power state name (running, paused, shutdown, ...); `driver` the driver
    (libvirt, fake); `hypervisor` the virt type (qemu, kvm, fake); memory in KiB, as libvirt
    counts it (`memory_used_kib` None when the guest has no balloon statistics)."""

    state: str
    driver: str
    hypervisor: str | None
    hypervisor_os: str | None
    uptime: int | None
    config_drive: bool
    memory_kib: int
    memory_used_kib: int | None = None
    cpus: tuple[CpuStats, ...] = ()
    disks: tuple[DiskStats, ...] = ()
    nics: tuple[NicStats, ...] = ()


@dataclass(frozen=True)
class HostResources:
    """What the host offers, reported to placement as inventories."""

    hypervisor_hostname: str
    hypervisor_type: str  # "QEMU", "KVM" or "fake"
    hypervisor_version: int
    vcpus: int
    memory_mb: int
    disk_gb: int
    cpu_info: str = "{}"
    architecture: str = "x86_64"


@dataclass(frozen=True)
class Capabilities:
    pause: bool = True
    suspend: bool = True
    snapshot: bool = True
    resize: bool = True
    console_log: bool = True
    console_url: bool = False  # a VNC console (noVNC)
    serial_console: bool = False
    attach_volume: bool = False
    attach_interface: bool = False
    live_migration: bool = False
    plugs_vifs: bool = False
    """Its guests' taps appear on the host, so the network agent reports each port plugged
    (network-vif-plugged) and a build waits for that (false: the fake driver's pretend guests)."""


class ImageSource(Protocol):
    """Where drivers get image bytes: the agent's client of the image service."""

    async def fetch(self, image_id: str, dest: Path) -> None:
        """Download the image to `dest` (atomically: a temp file renamed at the end)."""
        ...


class VirtDriver(Protocol):
    capabilities: Capabilities

    async def init_host(self, host: str) -> None:
        """Connect to the hypervisor and prepare local state. Idempotent."""
        ...

    async def attach_interface(self, uuid: str, vif: Vif) -> None:
        """Hot-plug `vif` into the guest, live (when it runs) and in its definition.
        Idempotent for a vif already there. Raises GuestNotFound, DriverError."""
        ...

    async def detach_interface(self, uuid: str, vif: Vif) -> None:
        """Unplug `vif` from the guest, live and from its definition; succeeds when it is not
        plugged (or the guest is gone)."""
        ...

    async def host_resources(self) -> HostResources: ...

    async def list_guests(self) -> list[GuestInfo]:
        """Every guest this driver manages on the host (matched to instances by uuid)."""
        ...

    async def spawn(self, spec: GuestSpec) -> None:
        """Create and start the guest. On failure leaves nothing behind and raises DriverError."""
        ...

    async def destroy(self, uuid: str, *, keep_disks: bool = False) -> None:
        """Stop and remove the guest and (unless keep_disks) its disks, config drive and console
        log. Succeeds when the guest is already gone."""
        ...

    async def power_off(self, uuid: str, *, timeout: float = 60.0) -> None:
        """Clean shutdown (ACPI), hard stop after `timeout` seconds. Idempotent."""
        ...

    async def power_on(self, uuid: str) -> None:
        """Start a stopped guest. Idempotent."""
        ...

    async def reboot(self, uuid: str, *, hard: bool = False) -> None: ...

    async def pause(self, uuid: str) -> None: ...

    async def unpause(self, uuid: str) -> None: ...

    async def suspend(self, uuid: str) -> None: ...

    async def resume(self, uuid: str) -> None: ...

    async def get_info(self, uuid: str) -> GuestInfo:
        """The guest's state; raises GuestNotFound."""
        ...

    async def snapshot(self, uuid: str, dest: Path) -> str:
        """Write the guest's root disk to `dest` as a standalone image; returns its disk format."""
        ...

    async def console_log(self, uuid: str, length: int | None = None) -> str:
        """The last `length` lines of the serial console (all when None)."""
        ...

    async def get_diagnostics(self, uuid: str) -> Diagnostics:
        """The guest's CPU, memory, disk and NIC counters; raises GuestNotFound."""
        ...

    async def get_console(self, uuid: str, kind: str) -> ConsoleEndpoint:
        """Where the running guest's `kind` console ("vnc" or "serial") listens; raises
        ConsoleUnavailable when it has none, GuestNotFound when the guest is gone."""
        ...

    async def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        """Hot-plug the volume at `device.path` into the guest as `device.device` (e.g.
        /dev/vdb), live and in its saved definition; raises DriverError (nothing attached)."""
        ...

    async def detach_volume(self, uuid: str, device: BlockDevice) -> None:
        """Unplug the volume; succeeds when it (or the guest) is already gone."""
        ...

    async def rescue(self, spec: GuestSpec) -> None:
        """Boot the rescue image `spec.image_id` in place of the guest, its root disk attached
        second, the original definition kept for `unrescue`. Raises DriverError (the guest is
        then as it was) or GuestNotFound."""
        ...

    async def unrescue(self, uuid: str) -> None:
        """Back to the original guest, running; the rescue disk is removed. Idempotent."""
        ...

    async def inject_nmi(self, uuid: str) -> None:
        """Send the guest a non-maskable interrupt (trigger_crash_dump: a kernel set up for
        it dumps and reboots). Raises GuestNotFound, DriverError."""
        ...

    async def extend_volume(self, uuid: str, device: BlockDevice, size_bytes: int) -> None:
        """Grow the attached volume to `size_bytes` through the hypervisor, so the running
        guest sees the new size (volume-extended); raises DriverError."""
        ...

    async def prepare_incoming(self, spec: GuestSpec) -> dict[str, str]:
        """Destination of a live migration: make the guest that will receive the source's
        memory (not yet running). Answers what the source's `live_migrate` needs to reach
        it (`LiveMigration.dest_data`; driver-specific, may be empty). Raises DriverError,
        leaving nothing behind."""
        ...

    async def live_migrate(self, uuid: str, job: LiveMigration) -> None:
        """Source: copy the running guest to `job.dest_host`; on success it is gone from here.
        Raises LiveMigrationAborted when `job.abort` is set first, DriverError on failure (the
        guest still runs here in both cases)."""
        ...

    async def finish_incoming(self, uuid: str, power_state: PowerState) -> None:
        """Destination: the migrated guest takes over in `power_state` (running or paused).
        The incoming guest is removed with `destroy` when the migration fails."""
        ...
