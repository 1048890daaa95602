"""Domain XML from GuestSpec: pure, no libvirt needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ministack.compute.virt.driver import BlockDevice, DriverError, GuestSpec, Vif
from ministack.compute.virt.libvirt.xml import (
    METADATA_NS,
    GuestFiles,
    HostFacts,
    domain_name,
    domain_xml,
    ethernet_taps,
    interface_xml,
)

UUID = "6f1c3a0e-1111-4222-8333-944455556666"
DIR = Path("/var/lib/ministack/instances") / UUID


def spec(**changes: object) -> GuestSpec:
    values: dict[str, object] = {
        "uuid": UUID,
        "name": "web-1",
        "hostname": "web-1",
        "vcpus": 2,
        "memory_mb": 256,
        "root_gb": 1,
        "image_id": "img-1",
        "project_id": "p1",
    }
    values.update(changes)
    return GuestSpec(**values)  # type: ignore[arg-type]


FILES = GuestFiles(
    root=DIR / "disk",
    config_drive=DIR / "disk.config",
    console_log=DIR / "console.log",
)


def parse(s: GuestSpec, files: GuestFiles = FILES, host: HostFacts | None = None) -> ET.Element:
    return ET.fromstring(domain_xml(s, files, host or HostFacts()))


def test_basic_domain() -> None:
    dom = parse(spec())
    assert dom.get("type") == "qemu"
    assert dom.findtext("name") == domain_name(UUID) == f"instance-{UUID}"
    assert dom.findtext("uuid") == UUID
    assert dom.findtext("memory") == "256" and dom.find("memory").get("unit") == "MiB"  # type: ignore[union-attr]
    assert dom.findtext("vcpu") == "2"
    assert dom.find("features/acpi") is not None
    assert dom.find(f"metadata/{{{METADATA_NS}}}instance/{{{METADATA_NS}}}name").text == "web-1"  # type: ignore[union-attr]
    disks = dom.findall("devices/disk")
    assert [
        (d.get("device"), d.find("target").get("dev"), d.find("target").get("bus"))  # type: ignore[union-attr]
        for d in disks
    ] == [("disk", "vda", "virtio"), ("cdrom", "hda", "ide")]
    assert disks[0].find("source").get("file") == str(DIR / "disk")  # type: ignore[union-attr]
    assert disks[0].find("driver").get("type") == "qcow2"  # type: ignore[union-attr]
    assert disks[1].find("readonly") is not None
    log = dom.find("devices/serial/log")
    assert log is not None and log.get("file") == str(DIR / "console.log")
    assert dom.find("devices/interface") is None
    assert dom.find("cpu") is None  # TCG: QEMU's default CPU model


def test_headless_server_has_no_usb_balloon_or_display() -> None:
    # each device costs boot time under TCG (firmware and kernel probe it); none is needed here
    dom = parse(spec())
    usb = [c for c in dom.findall("devices/controller") if c.get("type") == "usb"]
    assert [c.get("model") for c in usb] == ["none"]
    assert dom.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert dom.find("devices/graphics") is None and dom.find("devices/video") is None
    assert dom.find("devices/input").get("bus") == "ps2"  # type: ignore[union-attr]
    caches = [d.find("driver").get("cache") for d in dom.findall("devices/disk")]  # type: ignore[union-attr]
    assert caches == ["writeback", "unsafe"]  # page cache, not O_DIRECT: shared, fast reads


@pytest.mark.parametrize(
    "props", [{"os_type": "windows"}, {"hw_disk_bus": "usb"}, {"hw_cdrom_bus": "usb"}]
)
def test_usb_kept_when_a_device_needs_it(props: dict[str, str]) -> None:
    dom = parse(spec(image_properties=props))
    models = [c.get("model") for c in dom.findall("devices/controller") if c.get("type") == "usb"]
    # exactly no USB controller element (the headless default writes model="none"): libvirt
    # then adds its default USB controller
    assert models == []


def test_kvm_uses_host_model() -> None:
    dom = parse(spec(), host=HostFacts(virt_type="kvm"))
    assert dom.get("type") == "kvm"
    assert dom.find("cpu").get("mode") == "host-model"  # type: ignore[union-attr]


def test_image_properties_pick_bus_model_and_machine() -> None:
    props = {"hw_disk_bus": "scsi", "hw_vif_model": "e1000", "hw_machine_type": "q35"}
    s = spec(
        image_properties=props,
        vifs=(Vif(port_id="p", mac="fa:16:3e:00:00:01", bridge="brq1", tap="tap1", mtu=1450),),
        ephemeral_gb=1,
        swap_mb=64,
    )
    files = GuestFiles(
        root=DIR / "disk",
        ephemeral=DIR / "disk.eph0",
        swap=DIR / "disk.swap",
        config_drive=DIR / "disk.config",
    )
    dom = parse(s, files, HostFacts(machines=frozenset({"q35", "pc"})))
    assert dom.find("os/type").get("machine") == "q35"  # type: ignore[union-attr]
    targets = [
        (d.find("target").get("dev"), d.find("target").get("bus"))  # type: ignore[union-attr]
        for d in dom.findall("devices/disk")
    ]
    assert targets == [("sda", "scsi"), ("sdb", "scsi"), ("sdc", "scsi"), ("sdd", "sata")]
    assert dom.find("devices/controller").get("model") == "virtio-scsi"  # type: ignore[union-attr]
    nic = dom.find("devices/interface")
    assert nic is not None and nic.get("type") == "bridge"
    assert nic.find("source").get("bridge") == "brq1"  # type: ignore[union-attr]
    assert nic.find("model").get("type") == "e1000"  # type: ignore[union-attr]
    assert nic.find("mac").get("address") == "fa:16:3e:00:00:01"  # type: ignore[union-attr]
    assert nic.find("mtu").get("size") == "1450"  # type: ignore[union-attr]


def test_direct_kernel_boot() -> None:
    files = GuestFiles(root=DIR / "disk", kernel=Path("/c/k"), ramdisk=Path("/c/r"))
    dom = parse(spec(image_properties={"os_command_line": "console=ttyS0 quiet"}), files)
    assert dom.findtext("os/kernel") == "/c/k"
    assert dom.findtext("os/initrd") == "/c/r"
    assert dom.findtext("os/cmdline") == "console=ttyS0 quiet"
    assert dom.find("os/boot") is None


def test_windows_clock_and_volumes() -> None:
    s = spec(
        image_properties={"os_type": "windows"},
        block_devices=(BlockDevice(volume_id="vol-1", path="/dev/loop7", read_only=True),),
    )
    dom = parse(s)
    assert dom.find("clock").get("offset") == "localtime"  # type: ignore[union-attr]
    assert dom.find("features/hyperv") is not None
    volume = dom.findall("devices/disk")[1]
    assert volume.get("type") == "block"
    assert volume.find("source").get("dev") == "/dev/loop7"  # type: ignore[union-attr]
    assert volume.findtext("serial") == "vol-1"
    assert volume.find("readonly") is not None
    assert volume.find("driver").get("cache") == "none"  # type: ignore[union-attr]
    assert dom.find("devices/input").get("type") == "tablet"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_properties": {"hw_disk_bus": "floppy"}}, "hw_disk_bus"),
        (
            {
                "image_properties": {"hw_vif_model": "vmxnet9"},
                "vifs": (Vif(port_id="p", mac="m", bridge="b"),),
            },
            "NIC model",
        ),
        ({"image_properties": {"hw_machine_type": "virt"}}, "hw_machine_type"),
        ({"vifs": (Vif(port_id="p", mac="m"),)}, "neither a bridge nor a tap"),
        ({"memory_mb": 0}, "flavor too small"),
    ],
)
def test_bad_input_is_a_driver_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DriverError, match=message):
        domain_xml(spec(**changes), FILES, HostFacts(machines=frozenset({"pc"})))


def test_deterministic() -> None:
    assert domain_xml(spec(), FILES, HostFacts()) == domain_xml(spec(), FILES, HostFacts())


def test_console_screen_listens_on_loopback_only() -> None:
    # [console] enabled: a VNC screen for the web console, reachable only on the host
    dom = parse(spec(), host=HostFacts(vnc=True))
    graphics = dom.find("devices/graphics")
    assert graphics is not None and graphics.get("type") == "vnc"
    assert graphics.get("autoport") == "yes" and graphics.get("listen") == "127.0.0.1"
    assert [e.get("address") for e in graphics.findall("listen")] == ["127.0.0.1"]
    assert dom.find("devices/video/model").get("type") == "vga"  # type: ignore[union-attr]
    # the serial port stays a logged pty: the web console and console.log both read it
    serial = dom.find("devices/serial")
    assert serial is not None and serial.get("type") == "pty"
    assert serial.find("log") is not None


def test_console_screen_listens_on_the_proxyclient_address() -> None:
    # a host the controller's proxy reaches from another machine ([console] proxyclient_address)
    dom = parse(spec(), host=HostFacts(vnc=True, vnc_listen="10.0.0.7"))
    graphics = dom.find("devices/graphics")
    assert graphics is not None and graphics.get("listen") == "10.0.0.7"
    assert [e.get("address") for e in graphics.findall("listen")] == ["10.0.0.7"]


def test_a_hot_plugged_interface_is_the_domains_bridge_nic() -> None:
    """os-interface attach hands libvirt the same <interface> the domain XML has at boot."""
    vif = Vif(port_id="p", mac="fa:16:3e:00:00:02", bridge="brq1", tap="tapp", mtu=1450)
    nic = ET.fromstring(interface_xml(vif))
    assert (nic.tag, nic.get("type")) == ("interface", "bridge")
    assert nic.find("source").get("bridge") == "brq1"  # type: ignore[union-attr]
    assert nic.find("mac").get("address") == "fa:16:3e:00:00:02"  # type: ignore[union-attr]
    assert nic.find("target").get("dev") == "tapp"  # type: ignore[union-attr]
    assert nic.find("model").get("type") == "virtio"  # type: ignore[union-attr]
    assert nic.find("mtu").get("size") == "1450"  # type: ignore[union-attr]
    booted = ET.fromstring(domain_xml(spec(vifs=(vif,)), FILES, HostFacts()))
    at_boot = ET.tostring(booted.find("devices/interface"))  # type: ignore[arg-type]
    assert ET.canonicalize(at_boot, strip_text=True) == ET.canonicalize(
        interface_xml(vif), strip_text=True
    )


def test_own_taps_are_unbridged_ethernet_nics_libvirt_makes() -> None:
    """With a namespaced data plane libvirt makes each tap (no managed="no") in no bridge;
    ethernet_taps reads the names back from the domain XML for the hand-over."""
    vif = Vif(port_id="0123456789abcdef", mac="fa:16:3e:00:00:03", bridge="brq1", mtu=1450)
    nic = ET.fromstring(interface_xml(vif, own_taps=True))
    assert (nic.get("type"), nic.find("source")) == ("ethernet", None)
    target = nic.find("target")
    assert target is not None and target.attrib == {"dev": "tap0123456789a"}
    booted = domain_xml(spec(vifs=(vif,)), FILES, HostFacts(), own_taps=True)
    assert ethernet_taps(booted) == ["tap0123456789a"]
    assert ethernet_taps(domain_xml(spec(vifs=(vif,)), FILES, HostFacts())) == []
