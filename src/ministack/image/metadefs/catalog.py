"""The standard namespaces every Glance installation loads (`glance-manage db_load_metadefs`),
loaded by the image service at start. Names, types, enums, limits and resource-type prefixes
are Glance's published definitions (etc/metadefs/*.json); the descriptions are ours.

`load` is idempotent: it adds each namespace that does not exist yet and never touches one
that does (an operator's edits survive a restart). Several image API processes may start at
once: losing the race for a name is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ministack.common.db import Database
from ministack.image.metadefs import namespaces
from ministack.image.metadefs.models import MetadefNamespace

IMAGE, FLAVOR, VOLUME = "OS::Glance::Image", "OS::Nova::Flavor", "OS::Cinder::Volume"
UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
TRUE_FALSE = ["true", "false"]
DISK_BUSES = ["scsi", "virtio", "uml", "xen", "ide", "usb", "fdc", "sata", "lxc"]


def prop(title: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "description": description, "type": kind, **extra}


@dataclass(frozen=True)
class Standard:
    namespace: str
    display_name: str
    description: str
    properties: dict[str, dict[str, Any]]
    associations: list[dict[str, str]] = field(default_factory=list)


STANDARD = (
    Standard(
        "OS::Compute::Libvirt",
        "libvirt Driver Options",
        "Guest options the libvirt driver reads from an image or a flavor.",
        {
            "serial_port_count": prop(
                "Serial Port Count", "integer", "How many serial ports the guest gets.", minimum=0
            ),
            "boot_menu": prop(
                "Boot Menu", "string", "Show the firmware's boot menu.", enum=TRUE_FALSE
            ),
            "mem_encryption": prop(
                "Hardware Memory Encryption",
                "string",
                "Encrypt the guest's memory where the host supports it.",
                enum=TRUE_FALSE,
            ),
            "mem_encryption_model": prop(
                "Hardware Memory Encryption Model",
                "string",
                "Which memory encryption technology to use.",
                enum=["amd-sev", "amd-sev-es", "amd-sev-snp"],
            ),
            "virtio_packed_ring": prop(
                "Virtio Packed Ring",
                "string",
                "Use the packed virtqueue layout for virtio devices.",
                enum=TRUE_FALSE,
            ),
        },
        [{"name": IMAGE, "prefix": "hw_"}, {"name": FLAVOR, "prefix": "hw:"}],
    ),
    Standard(
        "OS::Compute::LibvirtImage",
        "libvirt Driver Options for Images",
        "Virtual hardware the libvirt driver gives a guest booted from the image.",
        {
            "hw_cdrom_bus": prop(
                "CD-ROM Bus", "string", "Bus of the guest's CD-ROM drive.", enum=DISK_BUSES
            ),
            "hw_disk_bus": prop("Disk Bus", "string", "Bus of the guest's disks.", enum=DISK_BUSES),
            "hw_firmware_type": prop(
                "Firmware Type", "string", "Boot with BIOS or UEFI firmware.", enum=["bios", "uefi"]
            ),
            "hw_machine_type": prop(
                "Machine Type", "string", "The QEMU machine type, e.g. q35 or pc."
            ),
            "hw_scsi_model": prop(
                "SCSI Model", "string", "Model of the SCSI controller.", default="virtio-scsi"
            ),
            "hw_video_model": prop(
                "Video Model",
                "string",
                "Model of the guest's video device.",
                enum=["vga", "cirrus", "vmvga", "xen", "qxl", "virtio", "gop", "none", "bochs"],
            ),
            "hw_video_ram": prop(
                "Max Video Ram", "integer", "Video memory of the guest, in MiB.", minimum=0
            ),
            "os_command_line": prop(
                "Kernel Command Line", "string", "Kernel arguments for a direct kernel boot."
            ),
            "os_type": prop(
                "OS Type",
                "string",
                "The guest's operating system family.",
                enum=["linux", "windows"],
            ),
            "hw_vif_model": prop(
                "Virtual Network Interface",
                "string",
                "Model of the guest's network interfaces.",
                enum=[
                    "e1000",
                    "e1000e",
                    "ne2k_pci",
                    "netfront",
                    "pcnet",
                    "rtl8139",
                    "spapr-vlan",
                    "virtio",
                    "vmxnet3",
                    "igb",
                ],
            ),
            "hw_qemu_guest_agent": prop(
                "QEMU Guest Agent",
                "string",
                "Give the guest a channel for the QEMU guest agent.",
                enum=["yes", "no"],
            ),
            "hw_pointer_model": prop(
                "Pointer Model", "string", "Pointer device of the guest.", enum=["usbtablet"]
            ),
        },
        [{"name": IMAGE}],
    ),
    Standard(
        "OS::Compute::Hypervisor",
        "Hypervisor Selection",
        "Which hypervisor and virtualisation mode an image needs.",
        {
            "hypervisor_type": prop(
                "Hypervisor Type",
                "string",
                "Only hosts running this hypervisor may boot the image.",
                enum=[
                    "baremetal",
                    "hyperv",
                    "kvm",
                    "lxc",
                    "powervm",
                    "qemu",
                    "uml",
                    "vmware",
                    "vz",
                    "xen",
                ],
            ),
            "vm_mode": prop(
                "VM Mode",
                "string",
                "The application binary interface the guest expects.",
                enum=["hvm", "xen", "uml", "exe"],
            ),
        },
        [{"name": IMAGE}],
    ),
    Standard(
        "OS::Compute::Watchdog",
        "Watchdog Behavior",
        "A virtual hardware watchdog and what happens when the guest stops feeding it.",
        {
            "watchdog_action": prop(
                "Watchdog Action",
                "string",
                "What to do with a guest whose watchdog fires; disabled adds no device.",
                enum=["disabled", "reset", "poweroff", "pause", "none"],
            )
        },
        [
            {"name": IMAGE, "prefix": "hw_"},
            {"name": VOLUME, "prefix": "hw_", "properties_target": "image"},
            {"name": FLAVOR, "prefix": "hw:"},
        ],
    ),
    Standard(
        "OS::Compute::RandomNumberGenerator",
        "Random Number Generator",
        "A virtio entropy device for the guest, fed from the host, and its rate limit.",
        {
            "hw_rng:allowed": prop(
                "Random Number Generator Allowed",
                "boolean",
                "Whether images may ask for an entropy device.",
            ),
            "hw_rng:rate_bytes": prop(
                "Random number generator limits.",
                "integer",
                "Bytes the guest may read per period (0: no limit).",
            ),
            "hw_rng:rate_period": prop(
                "Random number generator read period.",
                "integer",
                "Length of the rate-limit period, in milliseconds.",
            ),
        },
        [{"name": FLAVOR}],
    ),
    Standard(
        "OS::Compute::GuestShutdownBehavior",
        "Shutdown Behavior",
        "How long a clean shutdown may take before the guest is powered off.",
        {
            "os_shutdown_timeout": prop(
                "Shutdown timeout",
                "integer",
                "Seconds to wait for the guest to shut down before it is powered off.",
                minimum=0,
            )
        },
        [{"name": IMAGE}],
    ),
    Standard(
        "OS::Compute::VirtCPUTopology",
        "Virtual CPU Topology",
        "How the guest's vCPUs are arranged in sockets, cores and threads, and the limits.",
        {
            name: prop(title, "integer", text)
            for name, title, text in (
                ("cpu_sockets", "vCPU Sockets", "Preferred number of sockets."),
                ("cpu_cores", "vCPU Cores", "Preferred number of cores per socket."),
                ("cpu_threads", " vCPU Threads", "Preferred number of threads per core."),
                ("cpu_max_sockets", "Max vCPU Sockets", "Most sockets allowed."),
                ("cpu_max_cores", "Max vCPU Cores", "Most cores per socket allowed."),
                ("cpu_max_threads", "Max vCPU Threads", "Most threads per core allowed."),
            )
        },
        [
            {"name": IMAGE, "prefix": "hw_"},
            {"name": VOLUME, "prefix": "hw_", "properties_target": "image"},
            {"name": FLAVOR, "prefix": "hw:"},
        ],
    ),
    Standard(
        "OS::Glance::CommonImageProperties",
        "Common Image Properties",
        "Properties many images carry, whatever the hypervisor.",
        {
            "kernel_id": prop(
                "Kernel ID", "string", "Image holding the kernel to boot.", pattern=UUID_PATTERN
            ),
            "ramdisk_id": prop(
                "Ramdisk ID", "string", "Image holding the initial ramdisk.", pattern=UUID_PATTERN
            ),
            "instance_uuid": prop(
                "Instance ID", "string", "The server this snapshot image was taken from."
            ),
            "architecture": prop(
                "CPU Architecture", "string", "CPU architecture the image needs, e.g. x86_64."
            ),
            "os_distro": prop(
                "OS Distro", "string", "The distribution in the image, lower case, e.g. debian."
            ),
            "os_version": prop("OS Version", "string", "The distribution's version, e.g. 12."),
            "hw_cpu_mode": prop("CPU Mode", "string", "The CPU model mode the guest wants."),
            "description": prop("Image description", "string", "Free text about the image."),
            "cinder_encryption_key_id": prop(
                "Cinder Encryption Key ID",
                "string",
                "Key manager id of the key of an encrypted volume's image.",
            ),
            "cinder_encryption_key_deletion_policy": prop(
                "Cinder Encryption Key Deletion Policy",
                "string",
                "Whether that key is deleted along with the image.",
                enum=["on_image_deletion", "do_not_delete"],
            ),
        },
    ),
)


async def load(db: Database) -> list[str]:
    """Add the standard namespaces that are missing (public, protected, owned by no project);
    returns the names added."""
    added = []
    for std in STANDARD:
        async with db.session() as s:
            found = await s.execute(
                select(MetadefNamespace.id).where(MetadefNamespace.namespace == std.namespace)
            )
            if found.first() is not None:
                continue
        try:
            async with db.writer() as s:
                ns = MetadefNamespace(
                    namespace=std.namespace,
                    display_name=std.display_name,
                    description=std.description,
                    visibility="public",
                    protected=True,
                    owner="admin",
                )
                s.add(ns)
                await s.flush()
                for assoc in std.associations:
                    await namespaces.add_association(s, ns, assoc, protected=True)
                await namespaces.add_contents(s, ns, {"properties": std.properties})
        except IntegrityError:
            continue  # another process loaded it first
        added.append(std.namespace)
    return added
