"""The format inspector against crafted headers and, where qemu-img exists, real images."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from ministack.common.diskformat import FormatError, inspect_file, inspect_stream
from tests.image import formats
from tests.image.formats import MiB


def check(data: bytes, declared: str) -> tuple[str, int]:
    got = inspect_stream(io.BytesIO(data), len(data), declared)
    return got.format, got.virtual_size


@pytest.mark.parametrize(
    ("data", "fmt", "virtual"),
    [
        (formats.qcow2(64 * MiB), "qcow2", 64 * MiB),
        (formats.qcow2(5 * MiB, version=2), "qcow2", 5 * MiB),
        (formats.vmdk(), "vmdk", 2048 * 512),
        (formats.vmdk("streamOptimized", 4096), "vmdk", 4096 * 512),
        (formats.vhd_dynamic(32 * MiB), "vhd", 32 * MiB),
        (formats.vhd_fixed(MiB), "vhd", MiB),
        (formats.vdi(16 * MiB), "vdi", 16 * MiB),
        (formats.vhdx(8 * MiB), "vhdx", 8 * MiB),
        (formats.iso(64), "iso", 64 * 2048),
        (b"\x01" * 4096, "raw", 4096),
    ],
)
def test_each_format_is_recognised_with_its_virtual_size(
    data: bytes, fmt: str, virtual: int
) -> None:
    assert check(data, fmt) == (fmt, virtual)


def test_an_iso_may_be_declared_raw() -> None:
    assert check(formats.iso(), "raw") == ("raw", 64 * 2048)


@pytest.mark.parametrize(
    ("data", "declared", "message"),
    [
        (b"\0" * 65536, "qcow2", "is raw, but disk_format is qcow2"),
        (formats.qcow2(), "raw", "is qcow2, but disk_format is raw"),
        (formats.vmdk(), "qcow2", "is vmdk"),
        (formats.vdi(), "vmdk", "is vdi"),
        (formats.qcow2(backing=b"/etc/passwd"), "qcow2", "backing file"),
        (formats.qcow2(data_file_bit=True), "qcow2", "external data file"),
        (formats.qcow2(data_file_ext=b"/dev/sda"), "qcow2", "external data file"),
        (formats.vmdk_flat_descriptor(), "vmdk", "text descriptor"),
        (formats.vmdk("monolithicFlat"), "vmdk", "createType 'monolithicFlat'"),
        (formats.vmdk("vmfs"), "vmdk", "createType 'vmfs'"),
        (b"QFI\xfb\0\0\0\x03", "qcow2", "truncated"),
        (formats.qcow2(version=9), "qcow2", "Unsupported qcow2 version"),
    ],
)
def test_mismatched_or_unsafe_content_is_refused(data: bytes, declared: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        check(data, declared)


def test_raw_content_declared_ami_aki_ari_passes() -> None:
    assert check(b"kernel", "aki") == ("aki", 6)
    assert check(b"\0" * 4096, "ami") == ("ami", 4096)


@pytest.mark.parametrize("declared", ["ami", "aki", "ari", "raw"])
def test_a_qcow2_with_a_backing_file_is_refused_whatever_the_declared_format(
    declared: str,
) -> None:
    for data in (formats.qcow2(backing=b"/etc/passwd"), formats.qcow2(data_file_bit=True)):
        with pytest.raises(FormatError, match=f"is qcow2, but disk_format is {declared}"):
            check(data, declared)


@pytest.mark.parametrize(
    ("declared", "container"),
    [("ploop", "bare"), ("qcow2", "ova"), ("raw", "docker"), ("ami", "compressed")],
)
def test_unsafe_content_is_refused_in_any_container(declared: str, container: str) -> None:
    data = formats.qcow2(backing=b"/etc/shadow")
    with pytest.raises(FormatError, match="backing file"):
        inspect_stream(io.BytesIO(data), len(data), declared, container)
    flat = formats.vmdk_flat_descriptor()
    with pytest.raises(FormatError, match="text descriptor"):
        inspect_stream(io.BytesIO(flat), len(flat), declared, container)


def test_a_container_may_hold_content_other_than_its_disk_format() -> None:
    archive = b"ustar\0" + b"\0" * 4096
    got = inspect_stream(io.BytesIO(archive), len(archive), "qcow2", "ova")
    assert (got.format, got.virtual_size) == ("qcow2", len(archive))
    plain = formats.qcow2(MiB)
    got = inspect_stream(io.BytesIO(plain), len(plain), "ploop", "bare")
    assert (got.format, got.virtual_size) == ("ploop", len(plain))


QEMU_IMG = shutil.which("qemu-img") or "/usr/bin/qemu-img"


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "vhdx", "vdi", "vpc"])
def test_real_images_made_by_qemu_img(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"disk.{fmt}"
    subprocess.run([QEMU_IMG, "create", "-q", "-f", fmt, str(path), "16M"], check=True)
    declared = "vhd" if fmt == "vpc" else fmt
    got = inspect_file(path, declared)
    assert got.format == declared
    assert got.virtual_size >= 16 * MiB


def test_real_qcow2_with_backing_file_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", str(base), "16M"], check=True)
    child = tmp_path / "child.qcow2"
    subprocess.run(
        [QEMU_IMG, "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(child)],
        check=True,
    )
    with pytest.raises(FormatError, match="backing file"):
        inspect_file(child, "qcow2")


def test_real_qcow2_with_data_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.qcow2"
    subprocess.run(
        [
            QEMU_IMG,
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            f"data_file={tmp_path / 'raw'}",
            str(path),
            "16M",
        ],
        check=True,
    )
    with pytest.raises(FormatError, match="external data file"):
        inspect_file(path, "qcow2")
