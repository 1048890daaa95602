"""The bootable disk: an MBR, one FAT partition with syslinux, the kernel and the initramfs.

Everything is written into the image file itself (mtools, `syslinux --offset`), so no loop
device, mount or root is needed. SeaBIOS boots it like any disk: MBR -> syslinux -> kernel.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ministack.compute.guestimage.initramfs import FIXED_MTIME
from ministack.compute.guestimage.tools import SYSLINUX_MBR, run

SECTOR = 512
DISK_BYTES = 64 * 1024 * 1024
PARTITION_START = 2048  # sectors: the usual 1 MiB alignment
HEADS, SECTORS_PER_TRACK = 64, 32  # the geometry mtools and the CHS fields agree on
FAT_LABEL = "MSTACKBOOT"
FAT_SERIAL = "4d530001"  # fixed, so the image is reproducible
DISK_SIGNATURE = 0x4D535431
PARTITION_TYPE_FAT16_LBA = 0x0E
KERNEL_CMDLINE = "console=tty0 console=ttyS0,115200n8"

SYSLINUX_CFG = f"""\
SERIAL 0 115200
DEFAULT ministack
PROMPT 0
TIMEOUT 0
LABEL ministack
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND {KERNEL_CMDLINE}
"""


def _chs(lba: int) -> bytes:
    cylinder, rest = divmod(lba, HEADS * SECTORS_PER_TRACK)
    head, sector = divmod(rest, SECTORS_PER_TRACK)
    cylinder = min(cylinder, 1023)
    return bytes([head, (sector + 1) | ((cylinder >> 8) << 6), cylinder & 0xFF])


def master_boot_record(boot_code: bytes, start: int, sectors: int) -> bytes:
    """A 512-byte MBR: boot code, a fixed disk signature, one active partition."""
    entry = (
        b"\x80"
        + _chs(start)
        + bytes([PARTITION_TYPE_FAT16_LBA])
        + _chs(start + sectors - 1)
        + struct.pack("<II", start, sectors)
    )
    table = entry + b"\x00" * 48
    return (
        boot_code[:440].ljust(440, b"\x00")
        + struct.pack("<IH", DISK_SIGNATURE, 0)
        + table
        + b"\x55\xaa"
    )


def make_boot_disk(vmlinuz: Path, initrd: Path, output: Path, work: Path) -> None:
    """Write a qcow2 disk that boots vmlinuz + initrd from syslinux; console on ttyS0.

    work is a scratch directory the caller removes; output is written in full or not at all.
    """
    raw = work / "disk.raw"
    with raw.open("wb") as file:
        file.truncate(DISK_BYTES)
    sectors = DISK_BYTES // SECTOR - PARTITION_START
    offset = PARTITION_START * SECTOR
    # SOURCE_DATE_EPOCH fixes the FAT timestamps mtools (and syslinux through it) write.
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_MTIME), "MTOOLS_SKIP_CHECK": "1"}
    target = f"{raw}@@{offset}"
    run(
        [
            "mformat",
            "-i",
            target,
            "-T",
            str(sectors),
            "-h",
            str(HEADS),
            "-s",
            str(SECTORS_PER_TRACK),
            "-H",
            str(PARTITION_START),
            "-v",
            FAT_LABEL,
            "-N",
            FAT_SERIAL,
            "::",
        ],
        env=env,
    )
    config = work / "syslinux.cfg"
    config.write_text(SYSLINUX_CFG)
    for source, name in ((vmlinuz, "vmlinuz"), (initrd, "initrd.gz"), (config, "syslinux.cfg")):
        os.utime(source, (FIXED_MTIME, FIXED_MTIME))
        run(["mcopy", "-m", "-i", target, source, f"::/{name}"], env=env)
    run(["syslinux", "--offset", str(offset), "--install", raw], env=env)
    with raw.open("r+b") as file:
        file.write(master_boot_record(SYSLINUX_MBR.read_bytes(), PARTITION_START, sectors))
    partial = output.with_name(f".{output.name}.partial")
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, partial])
    os.replace(partial, output)
