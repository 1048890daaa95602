"""Crafted disk-image headers for tests: just enough of each format for the inspector."""

from __future__ import annotations

import struct

MiB = 1 << 20


def qcow2(
    virtual_size: int = 64 * MiB,
    version: int = 3,
    backing: bytes = b"",
    data_file_bit: bool = False,
    data_file_ext: bytes = b"",
) -> bytes:
    """A qcow2 header (cluster size 64 KiB) padded to 256 KiB."""
    header_length = 104 if version >= 3 else 72
    backing_offset = 512 if backing else 0
    head = b"QFI\xfb" + struct.pack(">IQI", version, backing_offset, len(backing))
    head += struct.pack(">IQ", 16, virtual_size)  # cluster_bits, size
    head += struct.pack(">IIQIIQ", 0, 1, 0x30000, 1, 0, 0)  # crypt, l1, l1 off, rc...
    head = head.ljust(72, b"\0")
    if version >= 3:
        incompatible = 1 << 2 if data_file_bit else 0
        head += struct.pack(">QQQII", incompatible, 0, 0, 4, header_length)
    ext = b""
    if data_file_ext:
        padded = data_file_ext.ljust((len(data_file_ext) + 7) & ~7, b"\0")
        ext = struct.pack(">II", 0x44415441, len(data_file_ext)) + padded
    ext += struct.pack(">II", 0, 0)
    out = bytearray((head + ext).ljust(256 * 1024, b"\0"))
    if backing:
        out[512 : 512 + len(backing)] = backing
    return bytes(out)


def vmdk(create_type: str = "monolithicSparse", capacity_sectors: int = 2048) -> bytes:
    """A sparse VMDK header with an embedded descriptor at sector 1."""
    desc = (
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        f'createType="{create_type}"\nRW {capacity_sectors} SPARSE "disk.vmdk"\n'
    ).encode()
    head = b"KDMV" + struct.pack("<II", 1, 3) + struct.pack("<QQQQ", capacity_sectors, 128, 1, 20)
    out = bytearray(head.ljust(512, b"\0") + desc.ljust(20 * 512, b"\0"))
    return bytes(out.ljust(64 * 1024, b"\0"))


def vmdk_flat_descriptor() -> bytes:
    return (
        b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
        b'RW 2048 FLAT "/etc/shadow" 0\n'
    )


def vhd_footer(size: int) -> bytes:
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    struct.pack_into(">QQ", footer, 40, size, size)
    return bytes(footer)


def vhd_dynamic(size: int = 32 * MiB) -> bytes:
    return (vhd_footer(size) + bytes(1024)).ljust(64 * 1024, b"\0") + vhd_footer(size)


def vhd_fixed(size: int = 1 * MiB) -> bytes:
    return bytes(size) + vhd_footer(size)


def vdi(size: int = 16 * MiB) -> bytes:
    head = bytearray(b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(0x40, b"\0"))
    head += struct.pack("<I", 0xBEDA107F)
    head = head.ljust(0x170, b"\0") + struct.pack("<Q", size)
    return bytes(head.ljust(64 * 1024, b"\0"))


def vhdx(size: int = 8 * MiB) -> bytes:
    """File identifier, a region table at 192 KiB, metadata at 1 MiB with VirtualDiskSize."""
    out = bytearray(1 * MiB + 128 * 1024)
    out[0:8] = b"vhdxfile"
    table = bytearray(b"regi" + bytes(4) + struct.pack("<II", 1, 0))
    table += bytes.fromhex("06A27C8B90479A4BB8FE575F050F886E") + struct.pack(
        "<QII", MiB, 64 * 1024, 1
    )
    out[0x30000 : 0x30000 + len(table)] = table
    meta = bytearray(b"metadata" + bytes(2) + struct.pack("<H", 1) + bytes(20))
    meta += bytes.fromhex("2442A52F1BCD7648B2115DBED83BF4B8") + struct.pack("<III", 65536, 8, 0)
    out[MiB : MiB + len(meta)] = meta
    struct.pack_into("<Q", out, MiB + 65536, size)
    return bytes(out)


def iso(blocks: int = 64) -> bytes:
    out = bytearray(blocks * 2048)
    pvd = 0x8000
    out[pvd] = 1
    out[pvd + 1 : pvd + 6] = b"CD001"
    struct.pack_into("<I", out, pvd + 80, blocks)
    struct.pack_into("<H", out, pvd + 128, 2048)
    return bytes(out)
