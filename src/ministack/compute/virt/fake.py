"""The fake hypervisor: guests kept in memory, with configurable delays and injected failures.

It implements `VirtDriver` so tests and scale runs exercise the whole control plane without
QEMU. Delays and failures are data, per driver (so per fake host)::

    FakeDriver("host1", delay={"spawn": 2.0}, fail={"spawn": "disk full"})

A failure is raised as DriverError with its message. `fail_once` fails the next call only.
The operation "live_migrate" is the copy of a live migration: its delay is how long the copy
runs (cut short by an abort or a force-complete), its failure a copy that breaks off.
The operation "image" is the image step of spawn: its failure is ImageUnusable (the image
cannot be booted anywhere, so the build is not rescheduled).

Like a real hypervisor, the fake outlives the process that drives it when given a
`state_file`: its guests are written there (atomically, after every change) and read back by
the next driver of the host, so a restarted process finds its ACTIVE servers still running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ministack.compute.virt import netns_guest
from ministack.compute.virt.driver import (
    POWER_STATE_NAMES,
    BlockDevice,
    Capabilities,
    ConsoleEndpoint,
    ConsoleUnavailable,
    CpuStats,
    Diagnostics,
    DiskStats,
    DriverError,
    GuestInfo,
    GuestNotFound,
    GuestSpec,
    HostResources,
    ImageUnusable,
    LiveMigration,
    LiveMigrationAborted,
    PowerState,
    Vif,
)

CONSOLE_LINES = 200  # the console keeps its last lines, as a real serial log rotates
RFB_VERSION = b"RFB 003.008\n"  # what a VNC server says first


@dataclass
class _Guest:
    vcpus: int
    memory_mb: int
    power_state: PowerState
    console: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    volumes: dict[str, str] = field(default_factory=dict)
    """Attached volumes: device name -> volume id (not persisted)."""
    volume_sources: dict[str, str] = field(default_factory=dict)
    """Where each attached volume was reached: device name -> file path or nbd:// URL."""
    image_id: str | None = None
    """The image its disk was made from (not persisted; a resize's test hook reads it)."""


def _load(path: Path) -> dict[str, _Guest]:
    """The guests recorded in `path`; none when it is absent."""
    try:
        records: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {
        uuid: _Guest(r["vcpus"], r["memory_mb"], PowerState(r["power_state"]), r["console"])
        for uuid, r in records.items()
    }


def _save(path: Path, guests: Mapping[str, _Guest]) -> None:
    """Write `guests` to `path` atomically (a temporary file renamed over it), mode 0600.

    No fsync: the promise is surviving a killed process, not a lost machine, and scale runs
    with thousands of fake hosts should not wait on the disk.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    records = {
        uuid: {
            "vcpus": g.vcpus,
            "memory_mb": g.memory_mb,
            "power_state": int(g.power_state),
            "console": g.console,
        }
        for uuid, g in guests.items()
    }
    data = json.dumps(records, separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def parse_settings(text: str) -> dict[str, str]:
    """Parse 'spawn=2.0,destroy' into {'spawn': '2.0', 'destroy': ''}."""
    out: dict[str, str] = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name:
            out[name.strip()] = value.strip()
    return out


class FakeDriver:
    """A hypervisor that only pretends. Idempotent where the interface says so."""

    capabilities = Capabilities(
        console_log=True,
        snapshot=True,
        console_url=True,
        serial_console=True,
        attach_interface=True,
        live_migration=True,
    )

    def __init__(
        self,
        host: str,
        *,
        vcpus: int = 16,
        memory_mb: int = 32768,
        disk_gb: int = 1024,
        delay: Mapping[str, float] | None = None,
        fail: Mapping[str, str] | None = None,
        state_file: Path | None = None,
        netns_guests: Path | None = None,
        host_netns: str | None = None,
    ) -> None:
        """`state_file`: where the guests persist across processes (None: memory only).
        `netns_guests`: a directory; each guest with ports is then a namespace guest
        (`netns_guest.py`) whose files live there, its taps in `host_netns` (the simulated
        host the network agent runs in; None: this host's namespace)."""
        self.host = host
        self.resources = HostResources(
            hypervisor_hostname=host,
            hypervisor_type="fake",
            hypervisor_version=1000,
            vcpus=vcpus,
            memory_mb=memory_mb,
            disk_gb=disk_gb,
        )
        self.delay: dict[str, float] = dict(delay or {})
        self.fail: dict[str, str] = dict(fail or {})
        self.fail_once: dict[str, str] = {}
        self.state_file = state_file
        self.netns_guests = netns_guests
        self.host_netns = host_netns
        if netns_guests is not None:  # its namespace guests plug real taps
            self.capabilities = dataclasses.replace(self.capabilities, plugs_vifs=True)
        self.guests: dict[str, _Guest] = _load(state_file) if state_file else {}
        self.consoles: dict[tuple[str, str], asyncio.Server] = {}

    def _persist(self) -> None:
        if self.state_file is not None:
            _save(self.state_file, self.guests)

    def configure(
        self,
        delay: Mapping[str, float] | None = None,
        fail: Mapping[str, str] | None = None,
        fail_once: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the delays and failures (the admin test hook calls this)."""
        self.delay = dict(delay or {})
        self.fail = dict(fail or {})
        self.fail_once = dict(fail_once or {})

    async def _step(self, op: str, error: type[DriverError] = DriverError) -> None:
        wait = self.delay.get(op, 0.0)
        if wait:
            await asyncio.sleep(wait)
        if op in self.fail_once:
            message = self.fail_once.pop(op)
            raise error(message or f"fake {op} failure injected on {self.host}")
        if op in self.fail:
            raise error(self.fail[op] or f"fake {op} failure injected on {self.host}")

    def _guest(self, uuid: str) -> _Guest:
        guest = self.guests.get(uuid)
        if guest is None:
            raise GuestNotFound(f"no guest {uuid} on {self.host}")
        return guest

    async def init_host(self, host: str) -> None:
        self.host = host

    async def host_resources(self) -> HostResources:
        return self.resources

    async def list_guests(self) -> list[GuestInfo]:
        return [self._info(u, g) for u, g in self.guests.items()]

    @staticmethod
    def _info(uuid: str, guest: _Guest) -> GuestInfo:
        return GuestInfo(
            uuid=uuid,
            power_state=guest.power_state,
            vcpus=guest.vcpus,
            memory_mb=guest.memory_mb,
        )

    async def spawn(self, spec: GuestSpec) -> None:
        """Create and start the guest; on an injected failure nothing is left behind."""
        if spec.image_id is not None:
            await self._step("image", ImageUnusable)
        await self._step("spawn")
        if self.netns_guests is not None and spec.vifs:
            await asyncio.to_thread(self._spawn_netns, spec)
        console = [f"{spec.hostname} login:"]
        guest = _Guest(spec.vcpus, spec.memory_mb, PowerState.RUNNING, console)
        # the volumes it boots with (block_device_mapping_v2): the root one is /dev/vda
        guest.volumes = {d.device: d.volume_id for d in spec.block_devices}
        guest.image_id = spec.image_id
        self.guests[spec.uuid] = guest
        self._persist()

    async def destroy(self, uuid: str, *, keep_disks: bool = False) -> None:
        """Remove the guest; succeeds when it is already gone."""
        await self._step("destroy")
        for kind in ("vnc", "serial"):
            server = self.consoles.pop((uuid, kind), None)
            if server is not None:
                server.close()
        if self.netns_guests is not None:
            await asyncio.to_thread(self._destroy_netns, uuid)
        if self.guests.pop(uuid, None) is not None:
            self._persist()

    def _spawn_netns(self, spec: GuestSpec) -> None:
        """Plug a namespace guest with one veth per port; on failure nothing is left."""
        assert self.netns_guests is not None
        nics = [
            netns_guest.Nic(v.tap or f"tap{v.port_id[:11]}", v.mac, v.bridge, v.mtu)
            for v in spec.vifs
        ]
        ns, state = netns_guest.namespace(spec.uuid), self.netns_guests / spec.uuid
        (state).mkdir(parents=True, exist_ok=True)
        (state / "taps").write_text("\n".join(n.tap for n in nics))
        try:
            netns_guest.plug(ns, nics, self.host_netns)
            netns_guest.start(ns, state, spec.hostname, [f"eth{i}" for i in range(len(nics))])
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            self._destroy_netns(spec.uuid)
            raise DriverError(f"namespace guest {spec.uuid} could not start: {exc}") from exc

    async def attach_interface(self, uuid: str, vif: Vif) -> None:
        """Plug one more NIC; a namespace guest gets one more veth (no DHCP on it)."""
        self._guest(uuid)
        await self._step("attach_interface")
        if self.netns_guests is not None:
            await asyncio.to_thread(self._plug_netns, uuid, vif)

    async def detach_interface(self, uuid: str, vif: Vif) -> None:
        """Unplug a NIC; fine when it (or the guest) is not there."""
        await self._step("detach_interface")
        if self.netns_guests is not None and uuid in self.guests:
            await asyncio.to_thread(self._unplug_netns, uuid, vif)

    def _taps(self, uuid: str) -> list[str]:
        assert self.netns_guests is not None
        try:
            return [t for t in (self.netns_guests / uuid / "taps").read_text().split() if t]
        except FileNotFoundError:
            return []

    def _plug_netns(self, uuid: str, vif: Vif) -> None:
        assert self.netns_guests is not None
        taps = self._taps(uuid)
        if vif.tap in taps:
            return
        nic = netns_guest.Nic(vif.tap, vif.mac, vif.bridge, vif.mtu)
        try:
            netns_guest.plug(netns_guest.namespace(uuid), [nic], self.host_netns, len(taps))
        except (OSError, RuntimeError) as exc:
            raise DriverError(f"could not plug port {vif.port_id}: {exc}") from exc
        (self.netns_guests / uuid / "taps").write_text("\n".join([*taps, vif.tap]))

    def _unplug_netns(self, uuid: str, vif: Vif) -> None:
        assert self.netns_guests is not None
        taps = self._taps(uuid)
        if vif.tap not in taps:
            return
        netns_guest.remove_taps([vif.tap], self.host_netns)
        (self.netns_guests / uuid / "taps").write_text("\n".join(t for t in taps if t != vif.tap))

    def _destroy_netns(self, uuid: str) -> None:
        assert self.netns_guests is not None
        state = self.netns_guests / uuid
        try:
            taps = [t for t in (state / "taps").read_text().split() if t]
        except FileNotFoundError:
            taps = []
        netns_guest.remove(netns_guest.namespace(uuid), state, self.host_netns, taps)
        shutil.rmtree(state, ignore_errors=True)

    async def _set_power(self, op: str, uuid: str, state: PowerState) -> None:
        guest = self._guest(uuid)
        await self._step(op)
        guest.power_state = state
        guest.console.append(f"fake: {op}")
        del guest.console[:-CONSOLE_LINES]
        self._persist()

    async def power_off(self, uuid: str, *, timeout: float = 60.0) -> None:
        await self._set_power("power_off", uuid, PowerState.SHUTDOWN)

    async def power_on(self, uuid: str) -> None:
        await self._set_power("power_on", uuid, PowerState.RUNNING)

    async def reboot(self, uuid: str, *, hard: bool = False) -> None:
        await self._set_power("reboot", uuid, PowerState.RUNNING)

    async def pause(self, uuid: str) -> None:
        await self._set_power("pause", uuid, PowerState.PAUSED)

    async def unpause(self, uuid: str) -> None:
        await self._set_power("unpause", uuid, PowerState.RUNNING)

    async def suspend(self, uuid: str) -> None:
        await self._set_power("suspend", uuid, PowerState.SUSPENDED)

    async def resume(self, uuid: str) -> None:
        await self._set_power("resume", uuid, PowerState.RUNNING)

    async def get_info(self, uuid: str) -> GuestInfo:
        return self._info(uuid, self._guest(uuid))

    async def rescue(self, spec: GuestSpec) -> None:
        """Record the rescue boot on the console (what a test reads back)."""
        guest = self._guest(spec.uuid)
        await self._step("rescue")
        guest.power_state = PowerState.RUNNING
        guest.console.append(f"fake: rescue from image {spec.image_id}")
        for device in spec.block_devices:  # behind the rescue disk, as stable device rescue
            guest.console.append(f"fake: rescue keeps volume {device.volume_id} attached")
        self._persist()

    async def unrescue(self, uuid: str) -> None:
        guest = self._guest(uuid)
        await self._step("unrescue")
        guest.power_state = PowerState.RUNNING
        guest.console.append("fake: unrescue")
        self._persist()

    async def inject_nmi(self, uuid: str) -> None:
        """Record the NMI on the console, as a guest kernel would log it."""
        guest = self._guest(uuid)
        await self._step("inject_nmi")
        guest.console.append("fake: NMI received, dumping")
        del guest.console[:-CONSOLE_LINES]
        self._persist()

    async def snapshot(self, uuid: str, dest: Path) -> str:
        """Write a small raw 'disk' naming the guest; returns its disk format."""
        self._guest(uuid)  # GuestNotFound when absent
        await self._step("snapshot")
        dest.write_bytes(f"fake disk of {uuid}\n".encode().ljust(512, b"\0"))
        return "raw"

    async def console_log(self, uuid: str, length: int | None = None) -> str:
        lines = self._guest(uuid).console
        return "\n".join(lines if length is None else lines[-length:]) + "\n"

    async def get_diagnostics(self, uuid: str) -> Diagnostics:
        """Plausible figures that grow with the guest's age (since this process found or
        made it): a few percent of each vCPU, three quarters of its memory in use, a boot's
        worth of disk reads on vda; the fake guest has a config drive and no interfaces."""
        guest = self._guest(uuid)
        await self._step("get_diagnostics")
        age = max(time.monotonic() - guest.started, 0.0)
        seconds = int(age)
        return Diagnostics(
            state=POWER_STATE_NAMES[guest.power_state],
            # Nova's `driver` is an enum of real drivers (no "fake"): its own fake driver
            # reports "libvirt" too, so strict clients accept the body
            driver="libvirt",
            hypervisor="fake",
            hypervisor_os="fake-os",
            uptime=seconds,
            config_drive=True,
            memory_kib=guest.memory_mb * 1024,
            memory_used_kib=guest.memory_mb * 768,
            cpus=tuple(
                CpuStats(id=i, time_ns=int(age * 5e7) + 17_300_000 * (i + 1), utilisation=5)
                for i in range(guest.vcpus)
            ),
            disks=(
                DiskStats(
                    device="vda",
                    read_bytes=262_144 + 4096 * seconds,
                    read_requests=112 + seconds,
                    write_bytes=5_778_432 + 512 * seconds,
                    write_requests=488 + seconds // 2,
                    errors_count=0,
                ),
            ),
        )

    async def get_console(self, uuid: str, kind: str) -> ConsoleEndpoint:
        """A fake console on 127.0.0.1, started on first use: "vnc" greets with the RFB
        version, "serial" with the guest's console log; both then echo what they receive."""
        guest = self._guest(uuid)
        await self._step("get_console", ConsoleUnavailable)
        if guest.power_state != PowerState.RUNNING:
            raise ConsoleUnavailable(f"guest {uuid} is not running")
        server = self.consoles.get((uuid, kind))
        if server is None:
            greeting = RFB_VERSION if kind == "vnc" else "\r\n".join(guest.console).encode()

            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                writer.write(greeting)
                while data := await reader.read(4096):
                    writer.write(data)
                writer.close()

            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            self.consoles[(uuid, kind)] = server
        port: int = server.sockets[0].getsockname()[1]
        return ConsoleEndpoint(host="127.0.0.1", port=port)

    def guest_volumes(self) -> dict[str, dict[str, str]]:
        """Test hook: each guest's volumes, device name -> volume id."""
        return {uuid: dict(g.volumes) for uuid, g in self.guests.items()}

    def guest_images(self) -> dict[str, str | None]:
        """Test hook: the image each guest's disk was made from (None: unknown or a volume)."""
        return {uuid: g.image_id for uuid, g in self.guests.items()}

    async def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        """Record the volume on the guest; `attach_volume` failures are injectable."""
        guest = self._guest(uuid)
        await self._step("attach_volume")
        if device.device in guest.volumes:
            raise DriverError(f"{device.device} is taken on guest {uuid}")
        guest.volumes[device.device] = device.volume_id
        nbd = device.nbd
        source = f"nbd://{nbd.host}:{nbd.port}/{nbd.name}" if nbd else device.path
        guest.volume_sources[device.device] = source
        guest.console.append(f"fake: attach_volume {device.device} {source}")
        del guest.console[:-CONSOLE_LINES]
        self._persist()

    async def detach_volume(self, uuid: str, device: BlockDevice) -> None:
        await self._step("detach_volume")
        guest = self.guests.get(uuid)
        if guest is not None:
            guest.volumes.pop(device.device, None)
            guest.volume_sources.pop(device.device, None)

    async def extend_volume(self, uuid: str, device: BlockDevice, size_bytes: int) -> None:
        """As a hypervisor would: grow the volume's file (qemu-img) while it is attached."""
        guest = self._guest(uuid)
        await self._step("extend_volume")
        if device.device not in guest.volumes:
            raise DriverError(f"{device.device} is not attached to guest {uuid}")
        proc = await asyncio.create_subprocess_exec(
            "qemu-img",
            "resize",
            "-q",
            "-f",
            device.format,
            device.path,
            str(size_bytes),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise DriverError(f"growing {device.device} failed: {err.decode().strip()}")

    async def prepare_incoming(self, spec: GuestSpec) -> dict[str, str]:
        """The destination's guest of a live migration, waiting for the memory (no state)."""
        await self._step("prepare_incoming")
        console = [f"{spec.hostname} login:"]
        guest = _Guest(spec.vcpus, spec.memory_mb, PowerState.NOSTATE, console)
        guest.volumes = {d.device: d.volume_id for d in spec.block_devices}
        self.guests[spec.uuid] = guest
        self._persist()
        return {}

    async def live_migrate(self, uuid: str, job: LiveMigration) -> None:
        """Copy for `delay["live_migrate"]` seconds unless aborted or forced to complete; then
        the guest is gone from here. An abort or an injected failure leaves it running here."""
        self._guest(uuid)
        wait = self.delay.get("live_migrate", 0.0)
        if wait:
            waits = [asyncio.ensure_future(e.wait()) for e in (job.abort, job.force_complete)]
            await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for pending in waits:
                pending.cancel()
        if job.abort.is_set():
            raise LiveMigrationAborted(f"live migration of {uuid} aborted")
        message = self.fail_once.pop("live_migrate", None)
        message = self.fail.get("live_migrate", message)
        if message is not None:
            raise DriverError(message or f"fake live_migrate failure injected on {self.host}")
        if self.guests.pop(uuid, None) is not None:
            self._persist()

    async def finish_incoming(self, uuid: str, power_state: PowerState) -> None:
        guest = self._guest(uuid)
        await self._step("finish_incoming")
        guest.power_state = power_state
        guest.console.append("fake: live migrated here")
        self._persist()
