"""Live migration between two libvirt hosts that share no storage (`LibvirtDriver`).

Where it sits: the destination's `prepare_incoming` lays out the instance's files (root
overlay on its own cached base, ephemeral, swap, config drive) and answers `incoming_data`:
its libvirt URI and where its instance directory and image cache are. The source rewrites
its domain's migratable XML to those paths (`dest_xml`) and runs a managed (client-driven,
not peer-to-peer) `migrate3` to the destination's libvirtd, copying the disks under its
instance directory incrementally (VIR_MIGRATE_NON_SHARED_INC: the destination's overlays
already sit on the same base) while the guest runs. Memory and disks travel over loopback
only: the destination's QEMU listens on 127.0.0.1 with ports its libvirtd picks.

The blocking calls here run in the driver's threads.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt

LOOPBACK = "127.0.0.1"
"""Where the destination's QEMU listens for the memory and the disks: both libvirtds run on
this machine, and no migration traffic may leave it."""

FLAGS = (
    libvirt.VIR_MIGRATE_LIVE
    | libvirt.VIR_MIGRATE_PERSIST_DEST
    | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    | libvirt.VIR_MIGRATE_NON_SHARED_INC
)
XML_FLAGS = libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE
_RESOURCE = re.compile(r"\s*<resource>.*?</resource>", re.S)


def incoming_data(uri: str, directory: Path, image_cache: Path) -> dict[str, str]:
    """What the destination tells the source (through the conductor)."""
    return {"uri": uri, "instance_dir": str(directory), "image_cache": str(image_cache)}


def dest_xml(xml: str, moves: dict[str, str]) -> str:
    """The source's domain XML with its paths (`moves`: source directory → destination
    directory) moved, and without the cgroup partition (the destination's libvirtd picks its
    own; a session daemon has none)."""
    for source, dest in moves.items():
        xml = xml.replace(source.rstrip("/") + "/", dest.rstrip("/") + "/")
    return _RESOURCE.sub("", xml)


def local_disks(xml: str, directory: Path) -> list[str]:
    """The targets (vda, ...) of the writable disks whose files are in the instance
    directory: those the migration copies (the config drive is read-only and made afresh
    on the destination)."""
    found = []
    prefix = str(directory).rstrip("/") + "/"
    for disk in ET.fromstring(xml).iterfind("./devices/disk"):
        source, target = disk.find("source"), disk.find("target")
        if source is None or target is None or disk.find("readonly") is not None:
            continue
        if source.get("file", "").startswith(prefix):
            found.append(target.get("dev", ""))
    return found


def migrate(domain: Any, dest_uri: str, live: str, persistent: str, disks: list[str]) -> None:
    """Run the migration to `dest_uri` (blocking until it is done or failed); libvirt rolls
    a failure back (the guest keeps running here, the incoming one is removed)."""
    params: dict[str, Any] = {
        libvirt.VIR_MIGRATE_PARAM_DEST_XML: live,
        libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: persistent,
        libvirt.VIR_MIGRATE_PARAM_URI: f"tcp://{LOOPBACK}",
        libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: LOOPBACK,
        libvirt.VIR_MIGRATE_PARAM_DISKS_URI: f"tcp://{LOOPBACK}",
    }
    flags = FLAGS
    if disks:
        params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = disks
    else:
        flags &= ~libvirt.VIR_MIGRATE_NON_SHARED_INC
    dconn = libvirt.open(dest_uri)
    try:
        domain.migrate3(dconn, params, flags)
    finally:
        dconn.close()
