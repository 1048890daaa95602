"""Disk format inspection: does a file really hold the declared disk_format, and is it safe?

A pure-Python reader of the few header fields that matter (no qemu-img, no subprocess): it
recognises raw, qcow2, vmdk, vhd, vhdx, vdi and iso, reports the virtual size, and refuses
content that does not match the declared format, a qcow2 with a backing file or an external
data file, and a VMDK whose extents live in other files (PROMISES 20). Everything here reads
at most a few MiB of the file whatever its size.

Two services use it: the image service on every upload (whatever the declared disk and
container formats), and the compute host's image cache before it boots a base image.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

QCOW2_MAGIC = b"QFI\xfb"
VMDK_MAGIC = b"KDMV"
VHD_COOKIE = b"conectix"
VHDX_SIGNATURE = b"vhdxfile"
VDI_SIGNATURE = 0xBEDA107F
ISO_MAGIC = b"CD001"
ISO_PVD_OFFSET = 0x8000
QCOW2_INCOMPAT_DATA_FILE = 1 << 2
QCOW2_EXT_DATA_FILE = 0x44415441
QCOW2_EXT_BACKING_FORMAT = 0xE2792ACA
VMDK_SAFE_TYPES = ("monolithicSparse", "streamOptimized")
VHDX_REGION_TABLE = 0x30000
VHDX_METADATA_GUID = bytes.fromhex("06A27C8B90479A4BB8FE575F050F886E")
VHDX_VIRTUAL_SIZE_GUID = bytes.fromhex("2442A52F1BCD7648B2115DBED83BF4B8")
MAX_DESCRIPTOR = 1 << 20
# Formats the inspector understands.
INSPECTED = ("raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso")
# Amazon kernel, ramdisk and machine images are plain bytes: their content must look raw.
RAW_LIKE = ("ami", "aki", "ari")
# Containers whose data is the disk itself, so the declared disk_format must match the content.
PLAIN_CONTAINERS = ("bare", "ovf", "ami", "aki", "ari")


class FormatError(ValueError):
    """The content is not the declared format, or it is a format that is unsafe to use."""


@dataclass(frozen=True)
class Inspection:
    format: str
    virtual_size: int


def _read(fh: BinaryIO, offset: int, length: int) -> bytes:
    fh.seek(offset)
    return fh.read(length)


def detect(fh: BinaryIO, size: int) -> str:
    """The format the content looks like: one of INSPECTED ("raw" when nothing else matches)."""
    head = _read(fh, 0, 512)
    if head.startswith(QCOW2_MAGIC):
        return "qcow2"
    if head.startswith(VMDK_MAGIC) or head.startswith(b"# Disk DescriptorFile"):
        return "vmdk"
    if head.startswith(VHDX_SIGNATURE):
        return "vhdx"
    if head.startswith(VHD_COOKIE):
        return "vhd"
    if len(head) >= 0x44 and struct.unpack_from("<I", head, 0x40)[0] == VDI_SIGNATURE:
        return "vdi"
    if size >= 512 and _read(fh, size - 512, 8) == VHD_COOKIE:
        return "vhd"
    if _read(fh, ISO_PVD_OFFSET + 1, 5) == ISO_MAGIC:
        return "iso"
    return "raw"


def _qcow2(fh: BinaryIO) -> int:
    header = _read(fh, 0, 112)
    if len(header) < 72:
        raise FormatError("The qcow2 header is truncated.")
    version, backing_offset, backing_size = struct.unpack_from(">IQI", header, 4)
    virtual_size = struct.unpack_from(">Q", header, 24)[0]
    if backing_offset or backing_size:
        raise FormatError("The qcow2 image has a backing file, which is not allowed.")
    if version not in (2, 3):
        raise FormatError(f"Unsupported qcow2 version {version}.")
    if version == 3:
        if len(header) < 104:
            raise FormatError("The qcow2 v3 header is truncated.")
        incompatible = struct.unpack_from(">Q", header, 72)[0]
        if incompatible & QCOW2_INCOMPAT_DATA_FILE:
            raise FormatError("The qcow2 image uses an external data file, which is not allowed.")
        header_length = struct.unpack_from(">I", header, 100)[0]
    else:
        header_length = 72
    _qcow2_extensions(fh, header_length)
    return int(virtual_size)


def _qcow2_extensions(fh: BinaryIO, offset: int) -> None:
    for _ in range(64):
        raw = _read(fh, offset, 8)
        if len(raw) < 8:
            return
        kind, length = struct.unpack(">II", raw)
        if kind == 0:
            return
        if kind == QCOW2_EXT_DATA_FILE:
            raise FormatError("The qcow2 image names an external data file, which is not allowed.")
        offset += 8 + ((length + 7) & ~7)


def _vmdk(fh: BinaryIO) -> int:
    head = _read(fh, 0, 512)
    if not head.startswith(VMDK_MAGIC):
        raise FormatError(
            "The VMDK is a text descriptor pointing at other files (a flat or split VMDK); "
            "upload a monolithicSparse or streamOptimized VMDK."
        )
    capacity, _grain, desc_offset, desc_size = struct.unpack_from("<QQQQ", head, 12)
    if not desc_offset or not desc_size or desc_size * 512 > MAX_DESCRIPTOR:
        raise FormatError("The VMDK has no readable embedded descriptor.")
    text = _read(fh, desc_offset * 512, desc_size * 512).split(b"\0", 1)[0].decode("latin-1")
    create_type = ""
    extents = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("createType"):
            create_type = line.split("=", 1)[1].strip().strip('"')
        elif line.startswith(("RW ", "RDONLY ", "NOACCESS ")):
            extents += 1
    if create_type not in VMDK_SAFE_TYPES:
        raise FormatError(
            f"VMDK createType {create_type or 'missing'!r} is not allowed; "
            f"only {', '.join(VMDK_SAFE_TYPES)}."
        )
    if extents > 1:
        raise FormatError("The VMDK has more than one extent, which is not allowed.")
    return int(capacity) * 512


def _vhd(fh: BinaryIO, size: int) -> int:
    footer = _read(fh, 0, 512)
    if not footer.startswith(VHD_COOKIE):
        footer = _read(fh, size - 512, 512)
    if len(footer) < 56:
        raise FormatError("The VHD footer is truncated.")
    return int(struct.unpack_from(">Q", footer, 48)[0])


def _vdi(fh: BinaryIO) -> int:
    header = _read(fh, 0, 0x178)
    if len(header) < 0x178:
        raise FormatError("The VDI header is truncated.")
    return int(struct.unpack_from("<Q", header, 0x170)[0])


def _vhdx(fh: BinaryIO) -> int:
    table = _read(fh, VHDX_REGION_TABLE, 64 * 1024)
    if table[:4] != b"regi":
        raise FormatError("The VHDX region table is missing.")
    count = struct.unpack_from("<I", table, 8)[0]
    for i in range(min(count, 2047)):
        entry = table[16 + 32 * i : 48 + 32 * i]
        if entry[:16] == VHDX_METADATA_GUID:
            region_offset, region_length = struct.unpack_from("<QI", entry, 16)
            return _vhdx_metadata(fh, region_offset, region_length)
    raise FormatError("The VHDX has no metadata region.")


def _vhdx_metadata(fh: BinaryIO, offset: int, length: int) -> int:
    meta = _read(fh, offset, min(length, 64 * 1024))
    if meta[:8] != b"metadata":
        raise FormatError("The VHDX metadata table is missing.")
    count = struct.unpack_from("<H", meta, 10)[0]
    for i in range(min(count, 2047)):
        entry = meta[32 + 32 * i : 64 + 32 * i]
        if entry[:16] == VHDX_VIRTUAL_SIZE_GUID:
            item_offset = struct.unpack_from("<I", entry, 16)[0]
            return int(struct.unpack("<Q", _read(fh, offset + item_offset, 8))[0])
    raise FormatError("The VHDX metadata has no virtual disk size.")


def _iso(fh: BinaryIO) -> int:
    pvd = _read(fh, ISO_PVD_OFFSET, 2048)
    blocks = struct.unpack_from("<I", pvd, 80)[0]
    block_size = struct.unpack_from("<H", pvd, 128)[0]
    return int(blocks) * int(block_size)


def inspect_stream(
    fh: BinaryIO, size: int, disk_format: str, container_format: str | None = "bare"
) -> Inspection:
    """Check that `fh` (seekable, `size` bytes) holds `disk_format` and is safe; measure it.

    Every upload is inspected, whatever its declared formats: content that is really a qcow2
    (or VMDK) is checked for backing and data files even when declared ami, aki, ari or ploop
    or wrapped in an unusual container. When the container holds the disk itself (bare, ovf,
    ami, aki, ari), the content must also match `disk_format` (ami/aki/ari and raw: raw or
    iso). Raises FormatError saying what the content is when it does not match, or why it is
    unsafe. virtual_size is the declared format's size when it was read, else `size`.
    """
    found = detect(fh, size)
    expected = "raw" if disk_format in RAW_LIKE else disk_format
    strict = (container_format or "bare") in PLAIN_CONTAINERS and expected in INSPECTED
    matches = found == expected or (expected == "raw" and found == "iso")
    if strict and not matches:
        raise FormatError(
            f"The image data is {found}, but disk_format is {disk_format}: "
            f"set disk_format to {found} or upload {disk_format} data."
        )
    if found == "raw" or (found == "iso" and expected != "iso"):
        return Inspection(disk_format, size)
    readers = {"qcow2": _qcow2, "vmdk": _vmdk, "vdi": _vdi, "vhdx": _vhdx, "iso": _iso}
    try:
        virtual = _vhd(fh, size) if found == "vhd" else readers[found](fh)
    except struct.error:
        raise FormatError(f"The {found} header is truncated or corrupt.") from None
    return Inspection(found, virtual) if matches else Inspection(disk_format, size)


def inspect_file(path: Path, disk_format: str, container_format: str | None = "bare") -> Inspection:
    """`inspect_stream` on a file; blocking, so call it in a thread from async code."""
    with path.open("rb") as fh:
        return inspect_stream(fh, path.stat().st_size, disk_format, container_format)
