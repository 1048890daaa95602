"""Boot time of the ministack-test image: through LibvirtDriver vs plain qemu-system-x86_64.

Both boot the same image (a qcow2 overlay on the same base, 192 MB, 1 vCPU, TCG) with the same
config drive, and the clock stops when the guest prints its ready banner on the serial console.
The driver's figure includes everything spawn does (image cache, overlay, config drive, domain
XML, libvirt start). Runs alternate so both see the same machine load. Needs root, libvirtd
(scripts/stack.d/libvirt.sh) and the guest image (built on first run).

    .venv/bin/python bench/libvirt_boot.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from ministack.compute.guestimage import DEFAULT_CACHE_DIR, build_test_image
from ministack.compute.virt.driver import GuestSpec
from ministack.compute.virt.libvirt import LibvirtDriver, LibvirtOptions
from ministack.compute.virt.libvirt.configdrive import write_config_drive

BANNER = "=== ministack-test ready: hostname=vm1 "
TIMEOUT = 300.0
MEMORY_MB = 192


class FileImages:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def fetch(self, image_id: str, dest: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.path, dest)


def _spec() -> GuestSpec:
    return GuestSpec(
        uuid=str(uuidlib.uuid4()),
        name="bench",
        hostname="vm1",
        vcpus=1,
        memory_mb=MEMORY_MB,
        root_gb=1,
        image_id="ministack-test",
        user_data=b"#!/bin/sh\necho USERDATA-RAN\n",
    )


async def _wait_for(read: object, started: float) -> float:
    assert callable(read)
    while time.monotonic() - started < TIMEOUT:
        if BANNER in await read():
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise RuntimeError("no banner within the timeout")


async def driver_boot(driver: LibvirtDriver) -> float:
    spec = _spec()
    started = time.monotonic()
    await driver.spawn(spec)
    try:
        return await _wait_for(lambda: driver.console_log(spec.uuid), started)
    finally:
        await driver.destroy(spec.uuid)


def plain_qemu_argv(overlay: Path, drive: Path, log: Path) -> list[str]:
    """The baseline: QEMU's defaults (i440fx, qemu64, writeback cache), no default devices,
    the root overlay on virtio, the config drive on an IDE CD-ROM, the serial port to a file."""
    return [
        *("qemu-system-x86_64", "-accel", "tcg", "-m", str(MEMORY_MB), "-smp", "1"),
        *("-display", "none", "-nodefaults", "-no-user-config"),
        *("-drive", f"file={overlay},if=virtio,format=qcow2"),
        *("-drive", f"file={drive},media=cdrom,if=ide,format=raw"),
        *("-serial", f"file:{log}"),
    ]


async def qemu_boot(image: Path, work: Path) -> float:
    overlay, log, drive = work / "plain.qcow2", work / "plain.log", work / "plain.iso"
    for path in (overlay, log, drive):
        path.unlink(missing_ok=True)
    started = time.monotonic()
    subprocess.run(
        [
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            str(image),
            str(overlay),
            "1G",
        ],
        check=True,
    )
    write_config_drive(_spec(), drive)
    qemu = subprocess.Popen(plain_qemu_argv(overlay, drive, log))

    async def read() -> str:
        return log.read_text(errors="replace") if log.exists() else ""

    try:
        return await _wait_for(read, started)
    finally:
        qemu.terminate()
        qemu.wait()


async def main(runs: int) -> None:
    image = build_test_image(DEFAULT_CACHE_DIR)
    work = Path(tempfile.mkdtemp(prefix="ministack-bench-", dir="/var/tmp"))
    work.chmod(0o755)
    try:
        options = LibvirtOptions(
            instances_path=work / "instances",
            image_cache_path=work / "imagecache",
            virt_type="qemu",
        )
        driver = LibvirtDriver(options, FileImages(image))
        await driver.init_host("bench")
        through_driver, plain = [], []
        for run in range(runs):
            through_driver.append(await driver_boot(driver))
            plain.append(await qemu_boot(image, work))
            print(f"run {run + 1}: driver {through_driver[-1]:.2f} s, plain qemu {plain[-1]:.2f} s")
        d, q = statistics.median(through_driver), statistics.median(plain)
        print(
            f"boot to banner, median of {runs}: LibvirtDriver.spawn {d:.2f} s, "
            f"plain qemu-system-x86_64 {q:.2f} s, ratio {d / q:.2f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
