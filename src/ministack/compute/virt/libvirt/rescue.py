"""Rescue and unrescue of a libvirt guest (Nova's rescue mode).

rescue: the guest's inactive definition is kept as `unrescue.xml` in its instance directory;
the domain is redefined to boot a fresh overlay of the rescue image (`disk.rescue`) as its first
disk, with the guest's own root disk attached second, and started. unrescue stops it, defines
the kept definition again, starts the original guest and removes the rescue files. Both leave
the original definition in place when they fail. `destroy` removes the rescue files with the
instance directory.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import libvirt

from ministack.compute.virt.driver import DriverError, GuestSpec
from ministack.compute.virt.libvirt import disks
from ministack.compute.virt.libvirt.connection import Connection, find_domain, hard_stop, lookup
from ministack.compute.virt.libvirt.imagecache import ImageCache
from ministack.compute.virt.libvirt.layout import InstanceLayout

RESCUE_DISK = "disk.rescue"
SAVED_XML = "unrescue.xml"
Boot = Callable[[Any], Awaitable[None]]  # the driver's start of a defined domain (taps too)


def _next_free(prefix: str, taken: set[str]) -> str:
    for letter in "abcdefghijklmnopqrstuvwxyz":
        if prefix + letter not in taken:
            return prefix + letter
    raise DriverError("the guest has no free disk name left for its rescue disk")


def rescue_xml(original: str, rescue_disk: Path) -> str:
    """The domain XML booting `rescue_disk` (qcow2) in place of the guest's root disk, which
    moves to the next free name on its bus. Pure; raises DriverError when the guest has no
    root disk (booted from a volume)."""
    domain = ET.fromstring(original)
    devices = domain.find("devices")
    disks_found = [] if devices is None else devices.findall("disk")
    roots = [d for d in disks_found if d.get("device", "disk") == "disk"]
    if devices is None or not roots:
        raise DriverError("the guest has no local root disk to rescue")
    root = roots[0]
    target = root.find("target")
    if target is None or not target.get("dev"):
        raise DriverError("the guest's root disk has no target")
    dev = str(target.get("dev"))
    taken = {str(t.get("dev")) for d in disks_found if (t := d.find("target")) is not None}
    rescue = ET.fromstring(ET.tostring(root))
    for child in list(rescue):
        if child.tag in ("source", "driver", "serial", "address", "boot"):
            rescue.remove(child)
    ET.SubElement(rescue, "driver", name="qemu", type="qcow2")
    ET.SubElement(rescue, "source", file=str(rescue_disk))
    rescue.remove(rescue.find("target"))  # type: ignore[arg-type]
    ET.SubElement(rescue, "target", dev=dev, bus=target.get("bus", "virtio"))
    target.set("dev", _next_free(dev[:-1], taken))
    address = root.find("address")
    if address is not None:
        root.remove(address)
    devices.insert(list(devices).index(root), rescue)
    return ET.tostring(domain, encoding="unicode")


async def rescue(
    connection: Connection, layout: InstanceLayout, cache: ImageCache, spec: GuestSpec, boot: Boot
) -> None:
    """See the module docstring; `spec.image_id` is the rescue image."""
    if spec.image_id is None:
        raise DriverError("rescue needs an image")
    domain = await find_domain(connection, spec.uuid)
    saved = layout.directory / SAVED_XML
    if not saved.exists():  # a second rescue keeps the first one's original definition
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
        original = await connection.call(lambda _c: domain.XMLDesc(flags))
        await asyncio.to_thread(saved.write_text, original)
    original = saved.read_text()
    rescue_path = layout.directory / RESCUE_DISK
    try:
        base = await cache.ensure(spec.image_id, spec.image_format, spec.image_properties)
        rescue_path.unlink(missing_ok=True)
        await disks.create_overlay(base.path, base.format, rescue_path, 0)
        xml = rescue_xml(original, rescue_path)
        await hard_stop(connection, spec.uuid)
        await connection.call(lambda conn: conn.defineXML(xml))
        await boot(domain)
    except Exception as exc:
        await _restore(connection, layout, spec.uuid, boot)
        if isinstance(exc, DriverError):
            raise
        raise DriverError(f"could not rescue the guest: {exc}") from exc


async def unrescue(connection: Connection, layout: InstanceLayout, uuid: str, boot: Boot) -> None:
    """See the module docstring. Idempotent: a guest not in rescue is only started."""
    await _restore(connection, layout, uuid, boot)


async def _restore(connection: Connection, layout: InstanceLayout, uuid: str, boot: Boot) -> None:
    saved = layout.directory / SAVED_XML
    if saved.exists():
        original = saved.read_text()
        await hard_stop(connection, uuid)
        await connection.call(lambda conn: conn.defineXML(original))
        saved.unlink()
        (layout.directory / RESCUE_DISK).unlink(missing_ok=True)
    domain = await connection.call(lambda conn: lookup(conn, uuid))
    if domain is not None and not await connection.call(lambda _c: domain.isActive()):
        await boot(domain)


async def inject_nmi(connection: Connection, uuid: str) -> None:
    """virDomainInjectNMI; DriverError when the guest is not running."""
    domain = await find_domain(connection, uuid)
    if not await connection.call(lambda _c: domain.isActive()):
        raise DriverError("the guest is not running")
    await connection.call(lambda _c: domain.injectNMI(0))
