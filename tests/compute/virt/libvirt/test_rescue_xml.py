"""The libvirt rescue domain: the rescue disk boots first, the guest's own disk is attached
second, everything else is kept (pure, no libvirt needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ministack.compute.virt.driver import DriverError
from ministack.compute.virt.libvirt.rescue import rescue_xml
from ministack.compute.virt.libvirt.xml import HostFacts, domain_xml
from tests.compute.virt.libvirt.test_libvirt_xml import DIR, FILES, spec


def disks(xml: str) -> list[tuple[str, str, str]]:
    devices = ET.fromstring(xml).find("devices")
    assert devices is not None
    return [
        (d.get("device", ""), d.find("source").get("file", ""), d.find("target").get("dev", ""))  # type: ignore[union-attr]
        for d in devices.findall("disk")
    ]


def test_rescue_disk_first_and_the_guest_disk_second() -> None:
    original = domain_xml(spec(), FILES, HostFacts())
    rescue = DIR / "disk.rescue"
    rescued = rescue_xml(original, rescue)
    found = disks(rescued)
    assert found[0] == ("disk", str(rescue), "vda")
    root_at = [f for f in found if f[1] == str(DIR / "disk")]
    assert len(root_at) == 1 and root_at[0][2] not in {"vda"} | {f[2] for f in disks(original)}
    assert len(found) == len(disks(original)) + 1
    assert ET.fromstring(rescued).find("uuid").text == ET.fromstring(original).find("uuid").text  # type: ignore[union-attr]


def test_a_guest_without_a_root_disk_cannot_be_rescued() -> None:
    original = domain_xml(spec(image_id=None), FILES.__class__(root=None), HostFacts())
    with pytest.raises(DriverError):
        rescue_xml(original, Path("/x/disk.rescue"))
