"""The host side of the libvirt driver: the connection to libvirtd, its capabilities, and the
choice between KVM and QEMU emulation.

Where it sits: `LibvirtDriver.init_host` connects through `connect`, reads `host_facts`, and
with virt_type = auto runs `probe_kvm`: a 512-byte boot sector that writes a marker to the
serial port is booted under KVM, and KVM is used only when the marker appears. On hosts where
/dev/kvm exists but guests hang or abort (as on the project's CI machines) that gives QEMU
(TCG). The outcome is cached per kernel, libvirt and QEMU version.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt

from ministack.compute.virt.driver import DriverError
from ministack.compute.virt.libvirt.xml import HostFacts

log = logging.getLogger(__name__)

START_HINT = "start it with scripts/stack.d/libvirt.sh (or ./stack.sh)"
PROBE_MARKER = b"MSKVMOK"
PROBE_TIMEOUT = 10.0
_CONNECTION_CODES = {
    libvirt.VIR_ERR_SYSTEM_ERROR,
    libvirt.VIR_ERR_NO_CONNECT,
    libvirt.VIR_ERR_INVALID_CONN,
    libvirt.VIR_ERR_RPC,
    libvirt.VIR_ERR_INTERNAL_ERROR,
}


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; the driver reports them itself."""


libvirt.registerErrorHandler(_quiet, None)


def connect(uri: str) -> Any:
    """Open a read-write connection to libvirtd at `uri`.

    Raises DriverError saying libvirtd is not running (and how to start it) when it fails.
    """
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise DriverError(
            f"libvirtd is not reachable at {uri}: {exc.get_error_message()}; {START_HINT}"
        ) from exc


def is_connection_error(exc: libvirt.libvirtError, conn: Any) -> bool:
    """Whether `exc` means the connection broke (libvirtd restarted), not the operation."""
    if exc.get_error_code() not in _CONNECTION_CODES:
        return False
    try:
        return not conn.isAlive()
    except libvirt.libvirtError:
        return True


def host_facts(conn: Any, virt_type: str) -> HostFacts:
    """Architecture, machine types and emulator libvirt offers for `virt_type` guests."""
    caps = ET.fromstring(conn.getCapabilities())
    arch = caps.findtext("host/cpu/arch", "x86_64")
    for guest in caps.findall("guest"):
        element = guest.find("arch")
        if element is None or element.get("name") != arch:
            continue
        machines: set[str] = set()
        for machine in element.findall("machine"):
            if machine.text:
                machines.add(machine.text)
            if machine.get("canonical") and machine.text:
                machines.add(machine.text)
        for domain in element.findall("domain"):
            if domain.get("type") == virt_type:
                machines.update(m.text for m in domain.findall("machine") if m.text)
        return HostFacts(virt_type, arch, frozenset(machines), element.findtext("emulator", ""))
    raise DriverError(
        f"libvirt offers no {arch} guests on this host; is qemu-system-x86 installed?"
    )


def cpu_info(conn: Any) -> str:
    """The host CPU as Nova's cpu_info JSON (arch, model, vendor, topology, features)."""
    cpu = ET.fromstring(conn.getCapabilities()).find("host/cpu")
    if cpu is None:
        return "{}"
    topology = cpu.find("topology")
    info = {
        "arch": cpu.findtext("arch", ""),
        "model": cpu.findtext("model", ""),
        "vendor": cpu.findtext("vendor", ""),
        "topology": {
            k: int(v)
            for k, v in (topology.attrib if topology is not None else {}).items()
            if k in ("sockets", "cores", "threads")
        },
        "features": sorted(f.get("name", "") for f in cpu.findall("feature")),
    }
    return json.dumps(info)


# The probe's boot sector, assembled from (GNU as --32; ld -Ttext 0x7c00 --oformat binary):
#   cli; zero ds/ss; sp=0x7c00; lgdt; set CR0.PE; ljmp 8:pm
#   pm: (32-bit) ds=es=ss=0x10; esp=0x7000; pushf; push 8; push after; iret
#   after: print "MSKVMOK\r\n" to port 0x3f8; cli; hlt; loop
# Real mode alone runs under broken KVM too; protected mode and iret is where it fails.
_PROBE_CODE = bytes.fromhex(
    "fa31c08ed88ed0bc007c660f0116687c0f20c06683c8010f22c066ea227c0000080066b810008ed88ec0"
    "8ed0bc007000009c6a08683a7c0000cf66baf803be6e7c0000ac84c07403eeebf8faf4ebfc9000000000"
    "00000000ffff0000009acf00ffff00000092cf001700507c00004d534b564d4f4b0d0a00"
)


def _boot_sector() -> bytes:
    """A bootable 512-byte disk that enters protected mode, then writes PROBE_MARKER."""
    return _PROBE_CODE.ljust(510, b"\x00") + b"\x55\xaa"


def _probe_xml(name: str, disk: Path, log_file: Path, virt_type: str) -> str:
    return f"""<domain type='{virt_type}'>
  <name>{name}</name><uuid>{uuidlib.uuid4()}</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='{disk}'/><target dev='hda' bus='ide'/></disk>
    <serial type='file'><source path='{log_file}'/><target port='0'/></serial>
  </devices>
</domain>"""


def probe_kvm(
    conn: Any, workdir: Path, timeout: float = PROBE_TIMEOUT, virt_type: str = "kvm"
) -> bool:
    """Boot a one-sector guest under `virt_type` (KVM); True only if its code really ran.

    Leaves nothing behind. Blocking (call it in a thread). Never raises for KVM failures:
    they mean "use QEMU".
    """
    if virt_type == "kvm" and not os.path.exists("/dev/kvm"):
        return False
    workdir.mkdir(parents=True, exist_ok=True)
    disk, log_file = workdir / "kvm-probe.img", workdir / "kvm-probe.log"
    disk.write_bytes(_boot_sector())
    log_file.unlink(missing_ok=True)
    name = f"ministack-kvm-probe-{os.getpid()}"
    domain = None
    try:
        domain = conn.createXML(_probe_xml(name, disk, log_file, virt_type), 0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log_file.is_file() and PROBE_MARKER in log_file.read_bytes():
                return True
            if not domain.isActive():
                break
            time.sleep(0.2)
        log.info("KVM probe guest did not run within %.0f s: using QEMU emulation", timeout)
        return False
    except libvirt.libvirtError as exc:
        log.info("KVM probe guest failed (%s): using QEMU emulation", exc.get_error_message())
        return False
    finally:
        if domain is not None:
            with contextlib.suppress(libvirt.libvirtError):
                domain.destroy()
        disk.unlink(missing_ok=True)
        log_file.unlink(missing_ok=True)


def choose_virt_type(conn: Any, configured: str, workdir: Path) -> str:
    """The virt type to use: `configured` unless auto, else KVM when the probe succeeds.

    The probe result is cached in `workdir` per kernel, libvirt and QEMU version.
    """
    if configured in ("kvm", "qemu"):
        return configured
    if configured != "auto":
        raise DriverError(f"[libvirt] virt_type must be auto, kvm or qemu, not {configured!r}")
    key = f"{os.uname().release} {conn.getLibVersion()} {conn.getVersion()}"
    cache = workdir / "virt_type.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        record = json.loads(cache.read_text())
        if record["key"] == key:
            return str(record["virt_type"])
    chosen = "kvm" if probe_kvm(conn, workdir) else "qemu"
    workdir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "virt_type": chosen}))
    return chosen
