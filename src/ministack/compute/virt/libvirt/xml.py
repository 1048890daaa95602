"""Domain XML for one guest: a pure function of its GuestSpec, its files and the host.

Where it sits: `LibvirtDriver.spawn` (and resize) lay out the instance's files, then call
`domain_xml` and hand the result to libvirt's defineXML. No I/O happens here, so every
choice (disk bus, NIC model, machine type, direct kernel boot) is unit-tested without libvirt.

Image properties honoured (Glance names): hw_disk_bus (virtio, scsi, sata, ide, usb),
hw_cdrom_bus, hw_vif_model (virtio, e1000, e1000e, rtl8139, ne2k_pci, pcnet),
hw_machine_type, os_type (linux, windows), and kernel_id / ramdisk_id / os_command_line
through `GuestFiles.kernel` / `ramdisk`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ministack.compute.virt.driver import DriverError, GuestSpec, Vif

DOMAIN_PREFIX = "instance-"
METADATA_NS = "https://ministack.dev/xmlns/libvirt/instance/1.0"
METADATA_PREFIX = "ministack"
DEFAULT_KERNEL_CMDLINE = "root=/dev/vda console=tty0 console=ttyS0"

DISK_BUSES = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd", "usb": "sd"}
VIF_MODELS = {"virtio", "e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet"}
VIRT_TYPES = {"kvm", "qemu"}


@dataclass(frozen=True)
class GuestFiles:
    """Where a guest's files are on the host (all under its instance directory but the
    kernel and ramdisk, which come from the image cache)."""

    root: Path | None
    root_format: str = "qcow2"
    ephemeral: Path | None = None
    swap: Path | None = None
    config_drive: Path | None = None
    console_log: Path | None = None
    kernel: Path | None = None
    ramdisk: Path | None = None
    root_is_cdrom: bool = False  # an ISO image booted from a CD-ROM


@dataclass(frozen=True)
class HostFacts:
    """What the XML depends on from the host: chosen virt type and libvirt's capabilities."""

    virt_type: str = "qemu"
    arch: str = "x86_64"
    machines: frozenset[str] = field(default_factory=frozenset)  # empty: do not check
    emulator: str = ""
    vnc: bool = False  # a VNC screen for the web console ([console] enabled)
    vnc_listen: str = "127.0.0.1"  # where it listens ([console] proxyclient_address)


def domain_name(uuid: str) -> str:
    """The libvirt domain name of an instance."""
    return f"{DOMAIN_PREFIX}{uuid}"


class _Devices:
    """Hands out device names per bus prefix (vda, vdb, ..., hda, hdb, ...)."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        index = self._used.get(prefix, 0)
        self._used[prefix] = index + 1
        return prefix + "abcdefghijklmnopqrstuvwxyz"[index]


def _property(spec: GuestSpec, key: str, allowed: set[str] | dict[str, str], default: str) -> str:
    value = spec.image_properties.get(key, "") or default
    if value not in allowed:
        choices = ", ".join(sorted(allowed))
        raise DriverError(f"image property {key}={value!r} is not supported; use one of {choices}")
    return value


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _metadata(domain: ET.Element, spec: GuestSpec) -> None:
    meta = _sub(domain, "metadata")
    ns = f"{{{METADATA_NS}}}"
    instance = _sub(meta, f"{ns}instance")
    _sub(instance, f"{ns}name", spec.name)
    _sub(instance, f"{ns}project", spec.project_id)
    _sub(instance, f"{ns}image", spec.image_id or "")
    _sub(
        instance,
        f"{ns}flavor",
        vcpus=str(spec.vcpus),
        memory_mb=str(spec.memory_mb),
        root_gb=str(spec.root_gb),
        ephemeral_gb=str(spec.ephemeral_gb),
        swap_mb=str(spec.swap_mb),
    )


def _os(domain: ET.Element, spec: GuestSpec, files: GuestFiles, host: HostFacts) -> None:
    os_element = _sub(domain, "os")
    machine = spec.image_properties.get("hw_machine_type", "")
    attrib = {"arch": host.arch}
    if machine:
        if host.machines and machine not in host.machines:
            raise DriverError(
                f"image property hw_machine_type={machine!r} is not offered by this host's "
                f"QEMU; use one of: {', '.join(sorted(host.machines))}"
            )
        attrib["machine"] = machine
    _sub(os_element, "type", "hvm", **attrib)
    if files.kernel is not None:
        _sub(os_element, "kernel", str(files.kernel))
        if files.ramdisk is not None:
            _sub(os_element, "initrd", str(files.ramdisk))
        cmdline = spec.image_properties.get("os_command_line") or DEFAULT_KERNEL_CMDLINE
        _sub(os_element, "cmdline", cmdline)
    else:
        _sub(os_element, "boot", dev="cdrom" if files.root_is_cdrom else "hd")


def _cache_mode(kind: str, device: str) -> str:
    """QEMU's cache mode for a disk: read-only CD-ROMs need no flushes; file disks go through
    the host page cache (writeback, flushes honoured): firmware and boot loaders read them in
    small pieces, and every guest on a base shares its cached pages (O_DIRECT, cache=none,
    made a TCG boot ~0.5 s slower); volumes (block devices) bypass it."""
    if device == "cdrom":
        return "unsafe"
    return "none" if kind == "block" else "writeback"


def _disk(
    devices: ET.Element,
    path: Path | str,
    fmt: str,
    target: tuple[str, str],
    *,
    device: str = "disk",
    read_only: bool = False,
    serial: str = "",
) -> None:
    kind = "block" if str(path).startswith("/dev/") else "file"
    disk = _sub(devices, "disk", type=kind, device=device)
    _sub(disk, "driver", name="qemu", type=fmt, cache=_cache_mode(kind, device))
    _sub(disk, "source", **({"dev": str(path)} if kind == "block" else {"file": str(path)}))
    _sub(disk, "target", dev=target[0], bus=target[1])
    if read_only:
        _sub(disk, "readonly")
    if serial:
        _sub(disk, "serial", serial[:20])


def _disks(devices: ET.Element, spec: GuestSpec, files: GuestFiles, host: HostFacts) -> None:
    bus = _property(spec, "hw_disk_bus", DISK_BUSES, "virtio")
    machine = spec.image_properties.get("hw_machine_type", "")
    cdrom_default = "sata" if "q35" in machine else "ide"
    cdrom_bus = _property(spec, "hw_cdrom_bus", {"ide", "sata", "scsi", "usb"}, cdrom_default)
    names = _Devices()
    if files.root is not None:
        if files.root_is_cdrom:
            target = (names.next(DISK_BUSES[cdrom_bus]), cdrom_bus)
            _disk(devices, files.root, files.root_format, target, device="cdrom", read_only=True)
        else:
            target = (names.next(DISK_BUSES[bus]), bus)
            _disk(devices, files.root, files.root_format, target)
    for path in (files.ephemeral, files.swap):
        if path is not None:
            _disk(devices, path, "raw", (names.next(DISK_BUSES[bus]), bus))
    for volume in spec.block_devices:
        name = volume.device.removeprefix("/dev/") or names.next("vd")
        _disk(
            devices,
            volume.path,
            volume.format,
            (name, "virtio"),
            read_only=volume.read_only,
            serial=volume.volume_id,
        )
    if files.config_drive is not None:
        target = (names.next(DISK_BUSES[cdrom_bus]), cdrom_bus)
        _disk(devices, files.config_drive, "raw", target, device="cdrom", read_only=True)
    if bus == "scsi" or cdrom_bus == "scsi":
        _sub(devices, "controller", type="scsi", model="virtio-scsi")


def _interfaces(devices: ET.Element, spec: GuestSpec, own_taps: bool) -> None:
    model = spec.image_properties.get("hw_vif_model", "")
    for vif in spec.vifs:
        _interface(devices, vif, model, own_taps)


def tap_of(vif: Vif) -> str:
    """The host-side device name of `vif` (the network's name for its port's tap)."""
    return vif.tap or f"tap{vif.port_id[:11]}"


def _interface(
    devices: ET.Element, vif: Vif, model: str = "", own_taps: bool = False
) -> ET.Element:
    chosen = model or vif.model or "virtio"
    if chosen not in VIF_MODELS:
        raise DriverError(
            f"NIC model {chosen!r} is not supported; use one of {', '.join(sorted(VIF_MODELS))}"
        )
    if own_taps:  # libvirt makes the tap in no bridge; the driver hands it to the data plane
        nic = _sub(devices, "interface", type="ethernet")
        _sub(nic, "mac", address=vif.mac)
        _sub(nic, "model", type=chosen)
        _sub(nic, "target", dev=tap_of(vif))
        _sub(nic, "mtu", size=str(vif.mtu))
        return nic
    if vif.bridge:
        nic = _sub(devices, "interface", type="bridge")
        _sub(nic, "source", bridge=vif.bridge)
    elif vif.tap:
        nic = _sub(devices, "interface", type="ethernet")
    else:
        raise DriverError(f"port {vif.port_id} has neither a bridge nor a tap device")
    _sub(nic, "mac", address=vif.mac)
    _sub(nic, "model", type=chosen)
    if vif.tap:
        _sub(nic, "target", dev=vif.tap, **({} if vif.bridge else {"managed": "no"}))
    _sub(nic, "mtu", size=str(vif.mtu))
    return nic


def interface_xml(vif: Vif, model: str = "", own_taps: bool = False) -> str:
    """One `<interface>` device for hot-plug (attachDeviceFlags), as the domain XML has it."""
    holder = ET.Element("devices")
    return ET.tostring(_interface(holder, vif, model, own_taps), encoding="unicode")


def ethernet_taps(xml: str) -> list[str]:
    """The tap names of a domain's `type="ethernet"` NICs (its live XML)."""
    root = ET.fromstring(xml)
    found = root.findall("./devices/interface[@type='ethernet']/target")
    return [str(t.get("dev")) for t in found if t.get("dev")]


def _console(devices: ET.Element, files: GuestFiles) -> None:
    serial = _sub(devices, "serial", type="pty")
    if files.console_log is not None:
        # virtlogd writes the file, so the log survives QEMU restarts and is capped in size
        _sub(serial, "log", file=str(files.console_log), append="on")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")


def _graphics(devices: ET.Element, listen: str) -> None:
    """A VNC screen for the web console, listening only on `listen` (the address the
    controller's console proxy, its one client, reaches; loopback by default), at a port
    libvirt picks (5900 and up)."""
    graphics = _sub(devices, "graphics", type="vnc", autoport="yes", listen=listen)
    _sub(graphics, "listen", type="address", address=listen)
    video = _sub(devices, "video")
    _sub(video, "model", type="vga", heads="1")


def domain_xml(spec: GuestSpec, files: GuestFiles, host: HostFacts, own_taps: bool = False) -> str:
    """The libvirt domain XML of `spec` with its disks at `files` on a `host`; `own_taps`:
    NICs are taps libvirt makes outside any bridge (handed to a namespaced data plane).

    Pure and deterministic. Raises DriverError with a message a user can act on when an image
    property asks for something unsupported or absent on this host.
    """
    if host.virt_type not in VIRT_TYPES:
        raise DriverError(f"virt_type {host.virt_type!r} is not one of kvm, qemu")
    if spec.vcpus < 1 or spec.memory_mb < 16:
        raise DriverError(f"flavor too small: {spec.vcpus} vCPUs, {spec.memory_mb} MB")
    ET.register_namespace(METADATA_PREFIX, METADATA_NS)
    domain = ET.Element("domain", type=host.virt_type)
    _sub(domain, "name", domain_name(spec.uuid))
    _sub(domain, "uuid", spec.uuid)
    _sub(domain, "title", spec.name[:255])
    _metadata(domain, spec)
    _sub(domain, "memory", str(spec.memory_mb), unit="MiB")
    _sub(domain, "vcpu", str(spec.vcpus))
    _os(domain, spec, files, host)
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    windows = spec.image_properties.get("os_type", "") == "windows"
    if windows:
        hyperv = _sub(features, "hyperv")
        for name in ("relaxed", "vapic"):
            _sub(hyperv, name, state="on")
        _sub(hyperv, "spinlocks", state="on", retries="8191")
    if host.virt_type == "kvm":
        _sub(domain, "cpu", mode="host-model")
    clock = _sub(domain, "clock", offset="localtime" if windows else "utc")
    _sub(clock, "timer", name="rtc", tickpolicy="catchup")
    _sub(clock, "timer", name="pit", tickpolicy="delay")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    devices = _sub(domain, "devices")
    if host.emulator:
        _sub(devices, "emulator", host.emulator)
    _disks(devices, spec, files, host)
    _interfaces(devices, spec, own_taps)
    _console(devices, files)
    if host.vnc:
        _graphics(devices, host.vnc_listen)
    usb_disks = "usb" in (
        spec.image_properties.get("hw_disk_bus"),
        spec.image_properties.get("hw_cdrom_bus"),
    )
    if not (windows or usb_disks):
        # headless server: no USB controller for firmware and kernel to probe (PS/2 is built in)
        _sub(devices, "controller", type="usb", model="none")
    _sub(devices, "input", type="tablet" if windows else "mouse", bus="usb" if windows else "ps2")
    # no balloon: nothing here asks a guest to give memory back, and it is one more device
    _sub(devices, "memballoon", model="none")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")
