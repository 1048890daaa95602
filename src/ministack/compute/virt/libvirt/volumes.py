"""Volumes hot-plugged into libvirt guests: a volume's file as a virtio-blk disk.

Where it sits: the compute agent (compute.agent.volumes) asks the driver to attach the
connection info the volume service handed out (driver_volume_type "file": a qcow2 path on
this host); `LibvirtDriver.attach_volume` builds the disk XML here and plugs it live and in the
saved definition, so the disk survives a stop/start. Detach unplugs it and waits until the
guest let it go (virtio-blk unplug needs the guest's ack).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import libvirt

from ministack.compute.virt.driver import BlockDevice
from ministack.compute.virt.libvirt import access, nbd

DETACH_WAIT = 20.0
"""Seconds a live detach may take before the agent reports it failed."""


def target(device: str) -> str:
    """libvirt's target dev of a Nova device name: /dev/vdb -> vdb."""
    return device.rsplit("/", 1)[-1]


def disk_xml(device: BlockDevice, sock: Path | None = None) -> str:
    """The <disk> element of a file volume (or, with `sock`, of an NBD export reached through
    the local client on that socket: nbd.py) as virtio-blk with the volume id as serial (the
    guest finds it under /dev/disk/by-id/virtio-<id prefix>)."""
    readonly = "<readonly/>" if device.read_only else ""
    if sock is not None and device.nbd is not None:
        head = (
            "<disk type='network' device='disk'>"
            "<driver name='qemu' type='raw' cache='none'/>"
            f"{nbd.source_xml(device, sock)}"
        )
    else:
        head = (
            "<disk type='file' device='disk'>"
            f"<driver name='qemu' type={quoteattr(device.format)} cache='none' io='native'/>"
            f"<source file={quoteattr(device.path)}/>"
        )
    return (
        f"{head}<target dev={quoteattr(target(device.device))} bus='virtio'/>"
        f"<serial>{device.volume_id[:20]}</serial>"
        f"{readonly}</disk>"
    )


def _flags(domain: Any) -> int:
    live = libvirt.VIR_DOMAIN_AFFECT_LIVE if domain.isActive() else 0
    return int(live | libvirt.VIR_DOMAIN_AFFECT_CONFIG)


def let_hypervisor_reach(path: Path) -> None:
    """QEMU runs as libvirt-qemu: give the hypervisor's group traverse-only (0710) on the
    volume's directory when it is private (the volume service makes it 0700); libvirt's
    dynamic ownership hands QEMU the file itself while attached. Blocking."""
    gid = access.hypervisor_gid()
    directory = path.parent
    if gid is None or not directory.is_dir():
        return
    stat = directory.stat()
    if stat.st_gid != gid:
        os.chown(directory, -1, gid)
    if stat.st_mode & 0o010 == 0:
        directory.chmod((stat.st_mode & 0o7777) | 0o010)


def attach(domain: Any, device: BlockDevice, sock: Path | None = None) -> None:
    """Plug the disk (live when the guest runs, and in its definition). Blocking."""
    if sock is None:
        let_hypervisor_reach(Path(device.path))
    domain.attachDeviceFlags(disk_xml(device, sock), _flags(domain))


def _has(domain: Any, flags: int, dev: str) -> bool:
    return f"<target dev='{dev}'" in domain.XMLDesc(flags)


def detach(domain: Any, device: BlockDevice, sock: Path | None = None) -> None:
    """Unplug the disk and wait until the live guest released it; nothing to do when it is
    not there. Raises RuntimeError when the guest keeps it past DETACH_WAIT. Blocking."""
    dev = target(device.device)
    inactive = libvirt.VIR_DOMAIN_XML_INACTIVE
    active = bool(domain.isActive())
    if _has(domain, inactive, dev):
        domain.detachDeviceFlags(disk_xml(device, sock), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    if not active or not _has(domain, 0, dev):
        return
    domain.detachDeviceFlags(disk_xml(device, sock), libvirt.VIR_DOMAIN_AFFECT_LIVE)
    deadline = time.monotonic() + DETACH_WAIT
    while _has(domain, 0, dev):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the guest did not release {device.device} in {DETACH_WAIT}s")
        time.sleep(0.2)


def grow(domain: Any, device: BlockDevice, size_bytes: int) -> None:
    """QEMU grows the image it holds open and tells the guest (blockResize). Blocking."""
    domain.blockResize(target(device.device), size_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
