"""Disk files of one instance: a qcow2 overlay on a cached base, ephemeral and swap disks.

Where it sits: `LibvirtDriver.spawn`/`resize` call these after the image cache produced the
base. Every qemu-img run names its input format (-f) and is capped at 30 s of CPU and 2 GiB of
address space, so a hostile image cannot make it guess formats or exhaust the host.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
from pathlib import Path
from typing import Any

from ministack.compute.virt.driver import DriverError, ImageUnusable

GiB = 1024**3
QEMU_IMG_CPU_SECONDS = 30
QEMU_IMG_ADDRESS_SPACE = 2 * GiB
SAFE_FORMATS = ("raw", "qcow2")


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_CPU, (QEMU_IMG_CPU_SECONDS, QEMU_IMG_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (QEMU_IMG_ADDRESS_SPACE, QEMU_IMG_ADDRESS_SPACE))


async def run(*argv: str | Path, limited: bool = True) -> str:
    """Run a host program and return its stdout.

    Raises DriverError naming the program and its stderr when it is missing or fails.
    """
    args = [str(arg) for arg in argv]
    try:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_limits if limited else None,
        )
    except FileNotFoundError as exc:
        raise DriverError(f"{args[0]} is not installed (run scripts/install.sh)") from exc
    out, err = await process.communicate()
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise DriverError(f"{Path(args[0]).name} {args[1]} failed: {detail}")
    return out.decode(errors="replace")


async def image_info(path: Path, fmt: str) -> dict[str, Any]:
    """`qemu-img info` of `path` read as `fmt`; raises DriverError when unreadable."""
    text = await run("qemu-img", "info", "--output=json", "-f", fmt, path)
    info: dict[str, Any] = json.loads(text)
    return info


async def check_qcow2(path: Path) -> None:
    """Raise ImageUnusable when a qcow2 file refers to other files, DriverError when
    qemu-img finds it unreadable or corrupt.

    A backing file or external data file in an uploaded image would let the guest read host
    files, so both are refused.
    """
    info = await image_info(path, "qcow2")
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ImageUnusable("the image is a qcow2 with a backing file, which is not allowed")
    specific = info.get("format-specific", {}).get("data", {})
    if specific.get("data-file"):
        raise ImageUnusable("the image is a qcow2 with an external data file, which is not allowed")
    await run("qemu-img", "check", "-q", "-f", "qcow2", path)


async def virtual_size(path: Path, fmt: str) -> int:
    size: int = (await image_info(path, fmt))["virtual-size"]
    return size


async def create_overlay(base: Path, base_format: str, path: Path, size_gb: int) -> None:
    """Create a qcow2 overlay of `base` at `path`, `size_gb` large (0: the base's own size).

    Raises ImageUnusable when the flavor's disk is smaller than the image.
    """
    size = await virtual_size(base, base_format)
    if size_gb and size_gb * GiB < size:
        raise ImageUnusable(
            f"the flavor's root disk ({size_gb} GB) is smaller than the image "
            f"({-(-size // GiB)} GB); choose a larger flavor"
        )
    want = max(size, size_gb * GiB)
    await run(
        "qemu-img", "create", "-q", "-f", "qcow2", "-F", base_format, "-b", base, path, str(want)
    )


async def grow(path: Path, fmt: str, size_gb: int) -> None:
    """Grow a disk to `size_gb`; no-op when already that large. Refuses to shrink."""
    size = await virtual_size(path, fmt)
    if size_gb * GiB < size:
        raise DriverError(f"disks cannot shrink: {path.name} is larger than {size_gb} GB")
    if size_gb * GiB > size:
        await run("qemu-img", "resize", "-q", "-f", fmt, path, str(size_gb * GiB))


async def create_ephemeral(path: Path, size_gb: int, label: str = "ephemeral0") -> None:
    """A sparse raw disk of `size_gb` with an ext4 file system (vfat when mkfs.ext4 is absent)."""
    _sparse(path, size_gb * GiB)
    if shutil.which("mkfs.ext4"):
        await run("mkfs.ext4", "-q", "-F", "-L", label, path, limited=False)
    elif shutil.which("mkfs.vfat"):
        await run("mkfs.vfat", "-n", label.upper()[:11], path, limited=False)


async def create_swap(path: Path, size_mb: int) -> None:
    """A sparse raw swap disk of `size_mb` (formatted with mkswap when available)."""
    _sparse(path, size_mb * 1024 * 1024)
    if shutil.which("mkswap"):
        await run("mkswap", path, limited=False)


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as file:
        file.truncate(size)


async def flatten(source: Path, fmt: str, dest: Path) -> None:
    """Write `source` and its backing chain to `dest` as one standalone qcow2 file.

    Reads with force-share (-U) so a paused guest may keep the disk open; on error `dest` is
    not created.
    """
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        await run(
            "qemu-img", "convert", "-U", "-f", fmt, "-O", "qcow2", source, partial, limited=False
        )
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)


async def first_sector(path: Path, fmt: str, scratch: Path) -> bytes:
    """The first 512 bytes of the disk's content (through qcow2 when needed)."""
    if fmt == "raw":
        with path.open("rb") as file:
            return file.read(512)
    out = scratch / ".sector"
    try:
        await run(
            "qemu-img", "dd", "-f", fmt, "-O", "raw", "bs=512", "count=1", f"if={path}", f"of={out}"
        )
        return out.read_bytes()
    finally:
        out.unlink(missing_ok=True)
