"""LibvirtDriver: the VirtDriver that runs real QEMU guests (KVM or TCG) through libvirtd.

Where it sits: the compute agent calls it; it is the only code that talks to libvirt. Blocking
libvirt calls run in threads (`asyncio.to_thread`). A broken connection (libvirtd restarted) is
reopened once per call, so the driver survives a libvirtd restart; domains are persistent and
carry the instance uuid as their own uuid, so a restarted agent finds them with `list_guests`.

Construct it with settings or explicit options and the agent's image client::

    driver = LibvirtDriver(settings, images)          # [libvirt] section of ministack.toml
    driver = LibvirtDriver(LibvirtOptions(uri="qemu:///system", virt_type="qemu",
                                          instances_path=Path(...), image_cache_path=Path(...)),
                           images)
    await driver.init_host("host1")                   # raises DriverError if libvirtd is down
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import libvirt
from pyroute2.netlink.exceptions import NetlinkError

from ministack.common.storagedaemon import StorageDaemonError
from ministack.compute.virt.driver import (
    BlockDevice,
    Capabilities,
    ConsoleEndpoint,
    ConsoleUnavailable,
    Diagnostics,
    DriverError,
    GuestInfo,
    GuestNotFound,
    GuestSpec,
    HostResources,
    ImageSource,
    ImageUnusable,
    LiveMigration,
    LiveMigrationAborted,
    PowerState,
    Vif,
)
from ministack.compute.virt.libvirt import (
    access,
    consoles,
    diagnostics,
    disks,
    host,
    migration,
    nbd,
    rescue,
    taps,
    volumes,
)
from ministack.compute.virt.libvirt.configdrive import write_config_drive
from ministack.compute.virt.libvirt.connection import (
    Connection,
    LibvirtOptions,
    find_domain,
    hard_stop,
    ignore_not_running,
    lookup,
)
from ministack.compute.virt.libvirt.imagecache import ImageCache
from ministack.compute.virt.libvirt.layout import InstanceLayout, bases_in_use
from ministack.compute.virt.libvirt.xml import (
    DOMAIN_PREFIX,
    METADATA_NS,
    GuestFiles,
    HostFacts,
    domain_xml,
    ethernet_taps,
    interface_xml,
)
from ministack.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

PRUNE_INTERVAL = 600.0  # seconds between image cache prunes
ACPI_RETRY = 5.0  # a guest still booting may miss the first power button press
JOB_RETRY = 0.2  # seconds before retrying an abort or pause the migration job was not ready for
_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,  # shutting down: still running
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}


class LibvirtDriver:
    """Real guests through libvirtd. See the module docstring for construction."""

    capabilities = Capabilities(
        pause=True,
        suspend=True,
        snapshot=True,
        resize=True,
        console_log=True,
        plugs_vifs=True,
        attach_interface=True,
        live_migration=True,
    )

    def __init__(self, options: LibvirtOptions | Settings, images: ImageSource) -> None:
        if isinstance(options, Settings):
            options = LibvirtOptions.from_settings(options)
        self.options = options
        self.capabilities = dataclasses.replace(
            self.capabilities, console_url=options.vnc, serial_console=True
        )
        self.cache = ImageCache(options.image_cache_path, images, options.image_cache_max_age)
        self.host = ""
        self.connection = Connection(options.uri)
        self._facts: HostFacts | None = None
        self._last_prune = 0.0

    async def _call(self, work: Callable[[Any], T]) -> T:
        return await self.connection.call(work)

    async def _domain(self, uuid: str) -> Any:
        """The domain of `uuid`; raises GuestNotFound."""
        return await find_domain(self.connection, uuid)

    def _layout(self, uuid: str) -> InstanceLayout:
        return InstanceLayout(self.options.instances_path / uuid)

    # -- host -------------------------------------------------------------------------------

    async def init_host(self, host_name: str) -> None:
        """Connect, choose KVM or QEMU, create the state directories. Idempotent.

        Raises DriverError saying how to start libvirtd when it is not reachable.
        """
        self.host = host_name
        gid = access.hypervisor_gid()
        for path in (self.options.instances_path, self.options.image_cache_path):
            access.shared_dir(path, gid)
            access.reachable(path, gid)
        probe_dir = self.options.instances_path / ".host"
        access.shared_dir(probe_dir, gid)
        virt_type = await self._call(
            lambda conn: host.choose_virt_type(conn, self.options.virt_type, probe_dir)
        )
        facts = await self._call(lambda conn: host.host_facts(conn, virt_type))
        self._facts = dataclasses.replace(
            facts, vnc=self.options.vnc, vnc_listen=self.options.vnc_listen
        )
        log.info("libvirt driver on %s: %s, virt_type %s", host_name, self.options.uri, virt_type)
        await self.prune_image_cache(force=True)

    async def facts(self) -> HostFacts:
        if self._facts is None:
            await self.init_host(self.host)
        assert self._facts is not None
        return self._facts

    async def host_resources(self) -> HostResources:
        """CPUs and memory from libvirt, disk from the instances file system."""
        facts = await self.facts()

        def read(conn: Any) -> tuple[list[Any], int, str, str]:
            return conn.getInfo(), conn.getVersion(), conn.getHostname(), host.cpu_info(conn)

        info, version, hostname, cpu = await self._call(read)
        disk_gb = shutil.disk_usage(self.options.instances_path).total // disks.GiB
        return HostResources(
            hypervisor_hostname=self.host or hostname,
            hypervisor_type="KVM" if facts.virt_type == "kvm" else "QEMU",
            hypervisor_version=version,
            vcpus=int(info[2]),
            memory_mb=int(info[1]),
            disk_gb=int(disk_gb),
            cpu_info=cpu,
            architecture=facts.arch,
        )

    async def list_guests(self) -> list[GuestInfo]:
        """Every ministack domain (name instance-<uuid> with ministack metadata) of this
        driver's instances_path: another cloud on the same libvirtd is not ours to reap."""

        def collect(conn: Any) -> list[GuestInfo]:
            found = []
            for domain in conn.listAllDomains(0):
                if not domain.name().startswith(DOMAIN_PREFIX):
                    continue
                if not self._layout(domain.UUIDString()).directory.exists():
                    continue  # another cloud's (or another test's) guest
                try:
                    domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
                except libvirt.libvirtError:
                    continue  # not ours
                found.append(self._info(domain))
            return found

        return await self._call(collect)

    def _info(self, domain: Any) -> GuestInfo:
        state, _max_kib, memory_kib, vcpus, cpu_time = domain.info()
        power = _STATES.get(state, PowerState.NOSTATE)
        if power is PowerState.SHUTDOWN and domain.hasManagedSaveImage(0):
            power = PowerState.SUSPENDED
        return GuestInfo(domain.UUIDString(), power, vcpus, memory_kib // 1024, cpu_time)

    async def get_info(self, uuid: str) -> GuestInfo:
        domain = await self._domain(uuid)
        return await self._call(lambda _conn: self._info(domain))

    async def prune_image_cache(self, *, force: bool = False) -> list[Path]:
        """Remove cached bases no instance has used for image_cache_max_age. Idempotent."""
        if not force and time.monotonic() - self._last_prune < PRUNE_INTERVAL:
            return []
        self._last_prune = time.monotonic()
        used = bases_in_use(self.options.instances_path)
        removed = await asyncio.to_thread(self.cache.prune, used)
        for path in removed:
            log.info("removed unused base image %s", path.name)
        return removed

    # -- build and delete -------------------------------------------------------------------

    async def spawn(self, spec: GuestSpec) -> None:
        """Create the disks, config drive and domain of `spec` and start it.

        On failure leaves nothing behind (no domain, no instance directory) and raises
        DriverError; an image that cannot boot says so. A stopped domain of the same uuid with
        its disks (cold resize on this host) is reused: disks grow, the domain is redefined.
        """
        facts = await self.facts()
        existing = await self._call(lambda conn: lookup(conn, spec.uuid))
        layout = self._layout(spec.uuid)
        if existing is not None:
            if await self._call(lambda _c: existing.isActive()):
                raise DriverError(f"guest {spec.uuid} is already running on this host")
            if layout.root.exists() or spec.image_id is None:
                await self._respawn(spec, existing, layout, facts)
                return
            await self.destroy(spec.uuid)
        try:
            async with AsyncExitStack() as undo:
                if layout.directory.exists():  # leftovers of a guest that no longer exists
                    shutil.rmtree(layout.directory)
                access.shared_dir(layout.directory, access.hypervisor_gid())
                undo.push_async_callback(asyncio.to_thread, shutil.rmtree, layout.directory, True)
                files = await self._make_files(spec, layout)
                xml = domain_xml(spec, files, facts, self._own_taps)
                domain = await self._call(lambda conn: conn.defineXML(xml))
                undo.push_async_callback(self._undefine, spec.uuid)
                undo.push_async_callback(self._hard_stop, spec.uuid)
                await self._start(domain)
                undo.pop_all()
        except DriverError:
            raise
        except Exception as exc:
            raise DriverError(f"could not create the guest: {exc}") from exc

    @property
    def _own_taps(self) -> bool:
        return bool(self.options.tap_netns)

    async def _start(self, domain: Any) -> None:
        try:
            await self._call(lambda _conn: domain.create())
        except DriverError as exc:
            raise DriverError(f"the image could not be booted: {exc}") from exc
        await self._hand_over_taps(domain)

    async def _hand_over_taps(self, domain: Any) -> None:
        """With a namespaced data plane, move the running domain's taps into it."""
        if not self._own_taps:
            return
        names = ethernet_taps(await self._call(lambda _conn: domain.XMLDesc(0)))
        try:
            await asyncio.to_thread(taps.hand_over, names, self.options.tap_netns)
        except (OSError, NetlinkError) as exc:
            raise DriverError(
                f"could not move the guest's taps into {self.options.tap_netns}: {exc}"
            ) from exc

    async def _volume_boot(
        self, spec: GuestSpec, record: dict[str, str]
    ) -> tuple[str | None, str | None]:
        """A volume-backed guest: QEMU may reach its volumes' files; the kernel and ramdisk
        its image properties name (direct kernel boot) are fetched into the cache."""
        for device in spec.block_devices:
            await asyncio.to_thread(volumes.let_hypervisor_reach, Path(device.path))
        for key in ("kernel_id", "ramdisk_id"):
            if spec.image_properties.get(key):
                extra = await self.cache.ensure(spec.image_properties[key], "raw")
                record[key.removesuffix("_id")] = str(extra.path)
        return record.get("kernel"), record.get("ramdisk")

    async def _make_files(
        self, spec: GuestSpec, layout: InstanceLayout, *, reuse: bool = False
    ) -> GuestFiles:
        """Root overlay, ephemeral, swap and config drive (`reuse`: grow existing disks)."""
        record: dict[str, str] = {}
        root: Path | None = None
        kernel = ramdisk = None
        props = spec.image_properties
        if spec.image_id is None:  # volume-backed: the root volume is vda, the kernel its image's
            kernel, ramdisk = await self._volume_boot(spec, record)
        if spec.image_id is not None:
            base = await self.cache.ensure(spec.image_id, spec.image_format, props)
            record.update(base=str(base.path), base_format=base.format)
            for key in ("kernel_id", "ramdisk_id"):
                if props.get(key):
                    extra = await self.cache.ensure(props[key], "raw")
                    record[key.removesuffix("_id")] = str(extra.path)
            kernel, ramdisk = record.get("kernel"), record.get("ramdisk")
            if not base.bootable and kernel is None:
                raise ImageUnusable(
                    "the image could not be booted: its disk has no boot sector and it names "
                    "no kernel_id; upload a bootable disk image"
                )
            root = layout.root
            if reuse and root.exists():
                if spec.root_gb:
                    await disks.grow(root, "qcow2", spec.root_gb)
            else:
                await disks.create_overlay(base.path, base.format, root, spec.root_gb)
        ephemeral = swap = None
        if spec.ephemeral_gb:
            ephemeral = layout.ephemeral
            if reuse and ephemeral.exists():
                await disks.grow(ephemeral, "raw", spec.ephemeral_gb)
            else:
                await disks.create_ephemeral(ephemeral, spec.ephemeral_gb)
        if spec.swap_mb:
            swap = layout.swap
            layout.swap.unlink(missing_ok=True)
            await disks.create_swap(swap, spec.swap_mb)
        config_drive = None
        if spec.config_drive:
            config_drive = layout.config_drive
            await asyncio.to_thread(write_config_drive, spec, config_drive)
        layout.write_info(record)
        return GuestFiles(
            root=root,
            ephemeral=ephemeral,
            swap=swap,
            config_drive=config_drive,
            console_log=layout.console_log,
            kernel=Path(kernel) if kernel else None,
            ramdisk=Path(ramdisk) if ramdisk else None,
        )

    async def _respawn(
        self, spec: GuestSpec, domain: Any, layout: InstanceLayout, facts: HostFacts
    ) -> None:
        """Redefine a stopped guest with a new spec, keeping (growing) its disks; start it.

        On failure the stopped guest and its disks stay as they were (disks never shrink).
        """
        try:
            files = await self._make_files(spec, layout, reuse=True)
        except OSError as exc:
            raise DriverError(f"could not prepare the guest's disks: {exc}") from exc
        xml = domain_xml(spec, files, facts, self._own_taps)
        await self._call(lambda conn: conn.defineXML(xml))
        await self._start(domain)

    async def resize(self, spec: GuestSpec) -> None:
        """Cold resize on this host: stop the guest, grow its disks to `spec`'s flavor,
        redefine it with the new vCPUs and memory, and start it. Disks never shrink."""
        await self.power_off(spec.uuid, timeout=self.options.shutdown_timeout)
        await self.spawn(spec)

    async def _hard_stop(self, uuid: str) -> None:
        await hard_stop(self.connection, uuid)

    async def _undefine(self, uuid: str) -> None:
        flags = (
            libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
        )

        def undefine(conn: Any) -> None:
            domain = lookup(conn, uuid)
            if domain is not None:
                ignore_not_running(lambda: domain.undefineFlags(flags))

        await self._call(undefine)

    async def destroy(self, uuid: str, *, keep_disks: bool = False) -> None:
        """Stop and undefine the domain and remove the instance directory (disks, config
        drive, console log) unless keep_disks. Succeeds when the guest is already gone."""
        await self._hard_stop(uuid)
        await self._undefine(uuid)
        await nbd.disconnect_all(self._layout(uuid).directory)
        if not keep_disks:
            await asyncio.to_thread(shutil.rmtree, self._layout(uuid).directory, True)
        await self.prune_image_cache()

    # -- interfaces -------------------------------------------------------------------------

    async def attach_interface(self, uuid: str, vif: Vif) -> None:
        """Hot-plug a bridge NIC live (when running) and into the definition; idempotent."""
        domain = await self._domain(uuid)
        device = interface_xml(vif, own_taps=self._own_taps)

        def attach(_conn: Any) -> None:
            if f"'{vif.mac}'" in domain.XMLDesc(0):
                return
            flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            if domain.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            domain.attachDeviceFlags(device, flags)

        try:
            await self._call(attach)
        except libvirt.libvirtError as exc:
            raise DriverError(f"could not attach port {vif.port_id}: {exc}") from exc
        if await self._call(lambda _c: domain.isActive()):
            await self._hand_over_taps(domain)

    async def detach_interface(self, uuid: str, vif: Vif) -> None:
        """Unplug the NIC live and from the definition; fine when it is not there."""
        try:
            domain = await self._domain(uuid)
        except GuestNotFound:
            return
        device = interface_xml(vif, own_taps=self._own_taps)

        def detach(_conn: Any) -> None:
            if f"'{vif.mac}'" not in domain.XMLDesc(0):
                return
            flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            if domain.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            domain.detachDeviceFlags(device, flags)

        try:
            await self._call(detach)
        except libvirt.libvirtError as exc:
            raise DriverError(f"could not detach port {vif.port_id}: {exc}") from exc

    # -- power ------------------------------------------------------------------------------

    async def power_off(self, uuid: str, *, timeout: float = 60.0) -> None:
        """ACPI power button, repeated every few seconds; hard stop after `timeout`.
        Idempotent; raises GuestNotFound."""
        domain = await self._domain(uuid)
        state = await self._call(lambda _c: domain.state()[0])
        if state == libvirt.VIR_DOMAIN_SHUTOFF:
            return
        deadline = time.monotonic() + timeout
        if state not in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED):
            next_press = 0.0
            while time.monotonic() < deadline:
                if not await self._call(lambda _c: domain.isActive()):
                    return
                if time.monotonic() >= next_press:
                    await self._call(lambda _c: ignore_not_running(domain.shutdown))
                    next_press = time.monotonic() + ACPI_RETRY
                await asyncio.sleep(0.25)
            log.info("guest %s ignored ACPI shutdown for %.0f s: stopping it", uuid, timeout)
        await self._hard_stop(uuid)

    async def power_on(self, uuid: str) -> None:
        """Start a stopped (or suspended) guest. Idempotent; raises GuestNotFound."""
        domain = await self._domain(uuid)
        if not await self._call(lambda _c: domain.isActive()):
            await self._start(domain)

    async def reboot(self, uuid: str, *, hard: bool = False) -> None:
        """Soft: clean shutdown (hard stop after shutdown_timeout) then start. Hard: stop and
        start. Either way a stopped guest is started."""
        if hard:
            await self._hard_stop(uuid)
        else:
            await self.power_off(uuid, timeout=self.options.shutdown_timeout)
        await self.power_on(uuid)

    async def pause(self, uuid: str) -> None:
        domain = await self._domain(uuid)
        if await self._call(lambda _c: domain.state()[0]) != libvirt.VIR_DOMAIN_PAUSED:
            await self._call(lambda _c: domain.suspend())

    async def unpause(self, uuid: str) -> None:
        domain = await self._domain(uuid)
        if await self._call(lambda _c: domain.state()[0]) == libvirt.VIR_DOMAIN_PAUSED:
            await self._call(lambda _c: domain.resume())

    async def suspend(self, uuid: str) -> None:
        """Save the guest's memory to disk (managed save) and stop it. Idempotent."""
        domain = await self._domain(uuid)
        if await self._call(lambda _c: domain.isActive()):
            await self._call(lambda _c: domain.managedSave(0))

    async def resume(self, uuid: str) -> None:
        """Restore a suspended guest from its managed save. Idempotent."""
        await self.power_on(uuid)

    # -- rescue and crash dump (virt/libvirt/rescue.py) ------------------------------------

    async def rescue(self, spec: GuestSpec) -> None:
        layout = self._layout(spec.uuid)
        await rescue.rescue(self.connection, layout, self.cache, spec, self._start)

    async def unrescue(self, uuid: str) -> None:
        await rescue.unrescue(self.connection, self._layout(uuid), uuid, self._start)

    async def inject_nmi(self, uuid: str) -> None:
        await rescue.inject_nmi(self.connection, uuid)

    # -- data out ---------------------------------------------------------------------------

    async def snapshot(self, uuid: str, dest: Path) -> str:
        """The root disk flattened into a standalone qcow2 at `dest`. A running guest is
        paused meanwhile (QEMU flushes its disks on pause) and resumed after."""
        domain = await self._domain(uuid)
        root = self._layout(uuid).root
        if not root.exists():
            raise DriverError(f"guest {uuid} has no root disk on this host (boot from volume)")
        state = await self._call(lambda _c: domain.state()[0])
        paused_here = state == libvirt.VIR_DOMAIN_RUNNING
        if paused_here:
            await self._call(lambda _c: domain.suspend())
        try:
            await disks.flatten(root, "qcow2", dest)
        finally:
            if paused_here:
                await self._call(lambda _c: domain.resume())
        return "qcow2"

    async def console_log(self, uuid: str, length: int | None = None) -> str:
        """The last `length` lines of the serial console (all when None); raises
        GuestNotFound when there is neither a domain nor a log."""
        path = self._layout(uuid).console_log
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            await self._domain(uuid)
            return ""
        text = data.decode(errors="replace")
        if length is None:
            return text
        lines = text.splitlines(keepends=True)
        return "".join(lines[-length:]) if length > 0 else ""

    async def get_diagnostics(self, uuid: str) -> Diagnostics:
        """vCPU times, memory and per-device counters of the running domain; raises
        GuestNotFound."""
        domain = await self._domain(uuid)
        virt_type = (await self.facts()).virt_type
        has_drive = await asyncio.to_thread(self._layout(uuid).config_drive.exists)
        try:
            return await self._call(
                lambda _conn: diagnostics.read(domain, virt_type, has_drive, _STATES)
            )
        except libvirt.libvirtError as exc:
            raise GuestNotFound(f"no guest {uuid} on this host: {exc}") from None

    async def get_console(self, uuid: str, kind: str) -> ConsoleEndpoint:
        """Where the running domain's VNC screen (its listen address and libvirt's port) or
        serial pty (/dev/pts/N, port 0) is, read from its live XML; raises
        ConsoleUnavailable when it has none, GuestNotFound when there is no domain."""
        if kind == "vnc" and not self.capabilities.console_url:
            raise ConsoleUnavailable("this host gives its guests no VNC screen ([console] enabled)")
        domain = await self._domain(uuid)

        def read(_conn: Any) -> tuple[bool, str]:
            return bool(domain.isActive()), str(domain.XMLDesc(0))

        active, xml = await self._call(read)
        if not active:
            raise ConsoleUnavailable(f"guest {uuid} is not running")
        return consoles.endpoint(xml, kind)

    async def attach_volume(self, uuid: str, device: BlockDevice) -> None:
        """A file volume, or an NBD export through a local TLS-PSK client (nbd.py)."""
        domain = await self._domain(uuid)
        directory = self._layout(uuid).directory
        sock = None
        if device.nbd is not None:
            try:
                sock = await nbd.connect(directory, device)
            except StorageDaemonError as exc:
                raise DriverError(f"reaching volume {device.volume_id} failed: {exc}") from None
        try:
            await self._call(lambda _conn: volumes.attach(domain, device, sock))
        except libvirt.libvirtError as exc:
            if sock is not None:
                await nbd.disconnect(directory, device.volume_id)
            raise DriverError(f"attaching {device.device} failed: {exc}") from None

    async def detach_volume(self, uuid: str, device: BlockDevice) -> None:
        directory = self._layout(uuid).directory
        sock = nbd.socket_path(directory, device.volume_id) if device.nbd else None
        try:
            domain = await self._domain(uuid)
        except GuestNotFound:
            await nbd.disconnect(directory, device.volume_id)
            return
        try:
            await self._call(lambda _conn: volumes.detach(domain, device, sock))
        except (libvirt.libvirtError, RuntimeError) as exc:
            raise DriverError(f"detaching {device.device} failed: {exc}") from None
        await nbd.disconnect(directory, device.volume_id)

    async def extend_volume(self, uuid: str, device: BlockDevice, size_bytes: int) -> None:
        domain = await self._domain(uuid)
        try:
            await self._call(lambda _conn: volumes.grow(domain, device, size_bytes))
        except libvirt.libvirtError as exc:
            raise DriverError(f"growing {device.device} failed: {exc}") from None

    # -- live migration (virt/libvirt/migration.py) -----------------------------------------

    async def prepare_incoming(self, spec: GuestSpec) -> dict[str, str]:
        """Destination: lay out the incoming guest's files (the migration copies the disks'
        contents into them and defines the domain); answers how the source reaches this
        host. A guest with volumes is refused (their connections do not move yet), and so is
        a source on this same libvirtd (it cannot migrate to itself)."""
        if spec.block_devices:
            raise DriverError(
                "live migration of a guest with volumes attached is not supported by the "
                "libvirt driver"
            )
        if await self._call(lambda conn: lookup(conn, spec.uuid)) is not None:
            raise DriverError(
                f"guest {spec.uuid} already has a domain on {self.options.uri}: both hosts "
                "use the same libvirtd, which cannot live migrate to itself"
            )
        layout = self._layout(spec.uuid)
        try:
            if layout.directory.exists():  # leftovers of an earlier attempt
                await asyncio.to_thread(shutil.rmtree, layout.directory)
            access.shared_dir(layout.directory, access.hypervisor_gid())
            files = await self._make_files(spec, layout)
            await asyncio.to_thread(access.create_shared_file, layout.console_log)
            own = [files.root, files.ephemeral, files.swap, layout.console_log]
            record = layout.read_info()
            bases = [Path(record[k]) for k in ("base", "kernel", "ramdisk") if record.get(k)]
            await asyncio.to_thread(access.hand_over, [p for p in own if p], bases)
        except Exception as exc:
            await asyncio.to_thread(shutil.rmtree, layout.directory, True)
            if isinstance(exc, DriverError):
                raise
            raise DriverError(f"could not prepare the incoming guest: {exc}") from exc
        return migration.incoming_data(
            self.options.uri, layout.directory, self.options.image_cache_path
        )

    async def live_migrate(self, uuid: str, job: LiveMigration) -> None:
        """Source: copy the running guest (memory and local disks) to the destination's
        libvirtd, then remove its files here. `job.abort` aborts libvirt's job (the guest
        keeps running here); `job.force_complete` pauses the guest so the copy converges
        (the destination resumes it). Raises LiveMigrationAborted, DriverError."""
        data = job.dest_data
        if not data.get("uri"):
            raise DriverError(f"{job.dest_host} gave no libvirt URI to migrate to")
        domain = await self._domain(uuid)
        layout = self._layout(uuid)
        moves = {
            str(layout.directory): data["instance_dir"],
            str(self.options.image_cache_path): data["image_cache"],
        }

        def describe(_conn: Any) -> tuple[str, str]:
            flags = migration.XML_FLAGS
            return domain.XMLDesc(flags), domain.XMLDesc(flags | libvirt.VIR_DOMAIN_XML_INACTIVE)

        live, persistent = await self._call(describe)
        running = await self._call(lambda _c: domain.state()[0]) == libvirt.VIR_DOMAIN_RUNNING
        disks = migration.local_disks(live, layout.directory)
        copy = asyncio.ensure_future(
            self._call(
                lambda _conn: migration.migrate(
                    domain,
                    data["uri"],
                    migration.dest_xml(live, moves),
                    migration.dest_xml(persistent, moves),
                    disks,
                )
            )
        )
        paused = await self._watch(domain, copy, job)
        try:
            await copy
        except DriverError as exc:
            if paused and running:  # a guest paused before stays paused
                await self._call(lambda _c: ignore_not_running(domain.resume))
            if job.abort.is_set():
                raise LiveMigrationAborted(f"live migration of {uuid} aborted") from exc
            raise DriverError(f"live migration to {job.dest_host} failed: {exc}") from exc
        log.info("guest %s live migrated to %s (%s)", uuid, job.dest_host, data["uri"])
        await nbd.disconnect_all(layout.directory)
        await asyncio.to_thread(shutil.rmtree, layout.directory, True)
        await self.prune_image_cache()

    async def _watch(self, domain: Any, copy: asyncio.Future[None], job: LiveMigration) -> bool:
        """Until `copy` ends: abort libvirt's job when `job.abort` is set, pause the guest
        when `job.force_complete` is. Answers whether it paused the guest."""
        paused = aborted = False
        while not copy.done():
            waits: set[asyncio.Future[Any]] = {copy}
            if not aborted:
                waits.add(asyncio.ensure_future(job.abort.wait()))
            if not paused:
                waits.add(asyncio.ensure_future(job.force_complete.wait()))
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits - {copy}:
                waiter.cancel()
            if copy.done():
                break
            if job.abort.is_set() and not aborted:
                aborted = await self._try_job(domain.abortJob)
            if job.force_complete.is_set() and not paused:
                paused = await self._try_job(domain.suspend)
            if (job.abort.is_set() and not aborted) or (job.force_complete.is_set() and not paused):
                await asyncio.wait({copy}, timeout=JOB_RETRY)  # the job has not begun yet
        return paused

    async def _try_job(self, action: Callable[[], object]) -> bool:
        try:
            await self._call(lambda _conn: action())
        except DriverError as exc:
            log.info("live migration control not applied yet: %s", exc)
            return False
        return True

    async def finish_incoming(self, uuid: str, power_state: PowerState) -> None:
        """Destination: the migrated domain runs here; resumed when the source was paused
        to force completion (unless the server was paused), its taps handed over."""
        domain = await self._domain(uuid)
        state = await self._call(lambda _c: domain.state()[0])
        if power_state is PowerState.RUNNING and state == libvirt.VIR_DOMAIN_PAUSED:
            await self._call(lambda _c: domain.resume())
        elif power_state is PowerState.PAUSED and state != libvirt.VIR_DOMAIN_PAUSED:
            await self._call(lambda _c: domain.suspend())
        await self._hand_over_taps(domain)
