"""The host's image cache refuses content whose real format differs from its disk_format.

Driven through `ImageCache.ensure` with an image source that hands out crafted bytes: the
refusal comes from the pure-Python inspector, before qemu-img reads the file, and the cache
is left empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ministack.compute.virt.driver import ImageUnusable
from ministack.compute.virt.libvirt.imagecache import ImageCache
from tests.image import formats

BOOT_SECTOR = b"\0" * 510 + b"\x55\xaa"


class Bytes:
    """An ImageSource serving fixed content for every image."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def fetch(self, image_id: str, dest: Path) -> None:
        dest.write_bytes(self.data)


@pytest.mark.parametrize(
    ("data", "disk_format", "reason"),
    [
        (formats.qcow2(), "raw", "is qcow2, but disk_format is raw"),
        (BOOT_SECTOR * 128, "qcow2", "is raw, but disk_format is qcow2"),
        (formats.qcow2(backing=b"/etc/passwd"), "ami", "is qcow2, but disk_format is ami"),
        (formats.qcow2(), "vmdk", "is qcow2, but disk_format is vmdk"),
        (formats.vdi(), "vhd", "is vdi, but disk_format is vhd"),
        (formats.qcow2(backing=b"/etc/passwd"), "qcow2", "backing file"),
        (formats.qcow2(data_file_ext=b"/dev/sda"), "qcow2", "external data file"),
        (formats.vmdk_flat_descriptor(), "vmdk", "text descriptor"),
    ],
)
async def test_content_not_matching_disk_format_is_refused_and_not_cached(
    tmp_path: Path, data: bytes, disk_format: str, reason: str
) -> None:
    cache = ImageCache(tmp_path / "cache", Bytes(data), max_age=3600)
    with pytest.raises(ImageUnusable, match=f"could not be booted: .*{reason}"):
        await cache.ensure("image-1", disk_format)
    assert list((tmp_path / "cache").iterdir()) == []


async def test_raw_content_declared_raw_is_cached(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "cache", Bytes(BOOT_SECTOR * 128), max_age=3600)
    base = await cache.ensure("image-1", "raw")
    assert (base.format, base.bootable) == ("raw", True)
    assert base.path.read_bytes() == BOOT_SECTOR * 128
