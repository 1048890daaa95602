"""qemu-img for the file backend: every run names its input format (-f) and is capped at
30 s of CPU and 2 GiB of address space (PROMISES 20), so a hostile image cannot make it guess
formats or exhaust the host."""

from __future__ import annotations

import asyncio
import json
import resource
import struct
from pathlib import Path
from typing import Any

from ministack.volume.backends.base import BackendError

GiB = 1024**3
CPU_SECONDS = 30
ADDRESS_SPACE = 2 * GiB
QCOW2_MAGIC = b"QFI\xfb"


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


async def run(*argv: str | Path) -> str:
    """Run qemu-img with the limits; its stdout. BackendError naming the step on failure."""
    args = ["qemu-img", *(str(a) for a in argv)]
    try:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_limits,
        )
    except FileNotFoundError as exc:
        raise BackendError("qemu-img is not installed (apt-get install qemu-utils)") from exc
    out, err = await process.communicate()
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise BackendError(f"qemu-img {argv[0]} failed: {detail}")
    return out.decode(errors="replace")


async def info(path: Path, fmt: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await run("info", "--output=json", "-f", fmt, path))
    return data


def backing_of(path: Path) -> str | None:
    """The backing file name a qcow2 file's header names (None for raw or no backing).
    Read from the header itself: cheap, and never follows the chain."""
    try:
        with path.open("rb") as fh:
            header = fh.read(20)
            if len(header) < 20 or header[:4] != QCOW2_MAGIC:
                return None
            offset, size = struct.unpack(">QI", header[8:20])
            if not offset or not size or size > 1023:
                return None
            fh.seek(offset)
            return fh.read(size).decode(errors="replace")
    except FileNotFoundError:
        return None


def is_qcow2(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == QCOW2_MAGIC


async def create_overlay(
    path: Path, backing: str, backing_format: str, size_gb: int, *, unsafe: bool = False
) -> None:
    """A qcow2 file at `path` over `backing` (a name in the same directory); `unsafe` when
    the backing does not exist yet (qemu-img -u does not open it)."""
    flags = ["-u"] if unsafe else []
    await run(
        "create",
        "-q",
        *flags,
        "-f",
        "qcow2",
        "-b",
        backing,
        "-F",
        backing_format,
        path,
        f"{size_gb}G",
    )


async def create_blank(path: Path, size_gb: int) -> None:
    await run("create", "-q", "-f", "qcow2", path, f"{size_gb}G")


async def convert(source: Path, source_format: str, dest: Path, dest_format: str) -> None:
    await run("convert", "-q", "-f", source_format, "-O", dest_format, source, dest)


async def copy_shared(source: Path, dest: Path) -> None:
    """A qcow2 copy of a qcow2 file another process (QEMU) may hold open (-U)."""
    await run("convert", "-q", "-U", "-f", "qcow2", "-O", "qcow2", source, dest)


async def resize(path: Path, size_gb: int) -> None:
    await run("resize", "-q", "-f", "qcow2", path, f"{size_gb}G")
