"""The libvirt driver against the real libvirtd: one TCG guest of the ministack-test image
taken through its whole life, and images that cannot boot leaving nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ministack.compute.guestimage import DEFAULT_CACHE_DIR, build_test_image
from ministack.compute.virt.driver import DriverError, GuestNotFound, GuestSpec, PowerState
from ministack.compute.virt.libvirt import LibvirtDriver, LibvirtOptions
from ministack.compute.virt.libvirt.host import choose_virt_type, connect

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
URI = "qemu:///system"
BOOT_TIMEOUT = 150.0
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMinistackE2eTestKeyOnlyForTests e2e@ministack"


def _virsh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def libvirtd() -> None:
    """libvirtd and virtlogd running: started with the project's own set-up when not."""
    if shutil.which("virsh") is None or _virsh("version").returncode != 0:
        done = subprocess.run(
            ["bash", str(REPO / "scripts/test.d/libvirt.sh")], capture_output=True, text=True
        )
        if done.returncode != 0 or _virsh("version").returncode != 0:
            pytest.fail(
                "libvirtd is not running and scripts/test.d/libvirt.sh could not start it "
                f"({done.stderr.strip()}); run scripts/install.sh then scripts/stack.d/libvirt.sh"
            )


@pytest.fixture(scope="module")
def image() -> Path:
    return build_test_image(DEFAULT_CACHE_DIR)


class FileImages:
    """An ImageSource that copies local files."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files
        self.fetched: list[str] = []

    async def fetch(self, image_id: str, dest: Path) -> None:
        self.fetched.append(image_id)
        await asyncio.to_thread(shutil.copyfile, self.files[image_id], dest)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # not under pytest's 0700 tmp dirs: QEMU runs as libvirt-qemu and must reach the disks
    path = Path(tempfile.mkdtemp(prefix="ministack-e2e-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _driver(state_dir: Path, images: FileImages) -> LibvirtDriver:
    options = LibvirtOptions(
        instances_path=state_dir / "instances",
        image_cache_path=state_dir / "imagecache",
        uri=URI,
        virt_type="qemu",
        shutdown_timeout=60,
    )
    return LibvirtDriver(options, images)


@pytest.fixture
async def driver(libvirtd: None, state_dir: Path, image: Path) -> AsyncIterator[LibvirtDriver]:
    drv = _driver(state_dir, FileImages({"test-image": image}))
    await drv.init_host("e2e-host")
    yield drv
    for guest in await drv.list_guests():
        await drv.destroy(guest.uuid)


def _spec(uuid: str, image_id: str = "test-image") -> GuestSpec:
    return GuestSpec(
        uuid=uuid,
        name="vm one",
        hostname="vm1",
        vcpus=1,
        memory_mb=192,
        root_gb=1,
        image_id=image_id,
        user_data=b"#!/bin/sh\necho USERDATA-RAN\n",
        public_keys={"e2e": KEY},
        project_id="e2e",
    )


async def _wait_banners(drv: LibvirtDriver, uuid: str, count: int) -> str:
    """Wait until the console shows the ready banner `count` times; return the console."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    console = ""
    while time.monotonic() < deadline:
        console = await drv.console_log(uuid)
        if console.count("=== ministack-test ready: hostname=vm1 ") >= count:
            return console
        await asyncio.sleep(0.5)
    pytest.fail(f"no banner #{count} within {BOOT_TIMEOUT:.0f} s; console:\n{console[-3000:]}")


async def _state(drv: LibvirtDriver, uuid: str) -> PowerState:
    return (await drv.get_info(uuid)).power_state


def _restart_libvirtd() -> None:
    """Stop libvirtd (running guests keep running) and start it again with the set-up script."""
    pid = int(Path("/run/libvirtd.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    subprocess.run(["bash", str(REPO / "scripts/stack.d/libvirt.sh")], check=True)


def _domains() -> str:
    """Every domain's name; fails when virsh fails, so "no domain left" cannot pass vacuously."""
    done = _virsh("list", "--all", "--name")
    assert done.returncode == 0, f"virsh list failed: {done.stderr.strip()}"
    return done.stdout


async def test_guest_lifecycle(driver: LibvirtDriver, state_dir: Path) -> None:
    uuid = "0e2e0000-0000-4000-8000-000000000001"
    await driver.spawn(_spec(uuid))
    instance_dir = state_dir / "instances" / uuid
    assert (instance_dir / "disk").is_file() and (instance_dir / "disk.config").is_file()
    console = await _wait_banners(driver, uuid, 1)
    assert "USERDATA-RAN" in console
    assert "installed 1 SSH key(s) for root" in console
    assert await _state(driver, uuid) is PowerState.RUNNING
    assert uuid in [g.uuid for g in await driver.list_guests()]
    tail = await driver.console_log(uuid, length=3)
    assert 0 < len(tail.splitlines()) <= 3 and tail in console
    resources = await driver.host_resources()
    assert resources.hypervisor_type == "QEMU" and resources.vcpus >= 1
    assert resources.memory_mb > 0 and resources.disk_gb > 0
    assert json.loads(resources.cpu_info)["arch"] == "x86_64"

    # libvirtd restarts: the driver reconnects, and a new driver (restarted agent) finds it
    _restart_libvirtd()
    assert await _state(driver, uuid) is PowerState.RUNNING
    again = _driver(state_dir, FileImages({}))
    await again.init_host("e2e-host")
    assert uuid in [g.uuid for g in await again.list_guests()]

    await driver.power_off(uuid, timeout=60)
    assert await _state(driver, uuid) is PowerState.SHUTDOWN
    assert "power button pressed, powering off" in await driver.console_log(uuid)
    await driver.power_off(uuid)  # idempotent

    await driver.power_on(uuid)
    await _wait_banners(driver, uuid, 2)
    await driver.reboot(uuid)
    await _wait_banners(driver, uuid, 3)
    assert await _state(driver, uuid) is PowerState.RUNNING

    await driver.pause(uuid)
    assert await _state(driver, uuid) is PowerState.PAUSED
    await driver.unpause(uuid)
    assert await _state(driver, uuid) is PowerState.RUNNING
    await driver.suspend(uuid)
    assert await _state(driver, uuid) is PowerState.SUSPENDED
    await driver.resume(uuid)
    assert await _state(driver, uuid) is PowerState.RUNNING

    snapshot = state_dir / "snapshot.qcow2"
    assert await driver.snapshot(uuid, snapshot) == "qcow2"
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", "-f", "qcow2", str(snapshot)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert info["format"] == "qcow2" and "backing-filename" not in info
    assert await _state(driver, uuid) is PowerState.RUNNING

    await driver.destroy(uuid)
    assert f"instance-{uuid}" not in _domains()
    assert not instance_dir.exists()
    with pytest.raises(GuestNotFound):
        await driver.get_info(uuid)
    with pytest.raises(GuestNotFound):
        await driver.console_log(uuid)
    await driver.destroy(uuid)  # idempotent


async def test_images_that_cannot_boot_leave_nothing(
    libvirtd: None, state_dir: Path, image: Path
) -> None:
    corrupt = state_dir / "corrupt.qcow2"
    corrupt.write_bytes(image.read_bytes()[:4096] + b"\xde\xad" * 40000)
    blank = state_dir / "blank.raw"
    blank.write_bytes(b"\0" * (1 << 20))
    drv = _driver(state_dir, FileImages({"corrupt": corrupt, "blank": blank}))
    await drv.init_host("e2e-host")
    for n, (image_id, fmt) in enumerate((("corrupt", "qcow2"), ("blank", "raw"))):
        uuid = f"0e2e0000-0000-4000-8000-00000000010{n}"
        spec = _spec(uuid, image_id)
        spec = GuestSpec(**{**spec.__dict__, "image_format": fmt})
        with pytest.raises(DriverError, match="could not be booted"):
            await drv.spawn(spec)
        assert f"instance-{uuid}" not in _domains()
        assert not (state_dir / "instances" / uuid).exists()
    leftovers = [p.name for p in (state_dir / "imagecache").iterdir()]
    assert all(not name.startswith(".") for name in leftovers), leftovers
    assert len([n for n in leftovers if not n.endswith(".json")]) <= 1  # the blank base only


async def test_virt_type_auto_probe_leaves_nothing(libvirtd: None, state_dir: Path) -> None:
    conn = connect(URI)
    try:
        chosen = choose_virt_type(conn, "auto", state_dir / "probe")
    finally:
        conn.close()
    assert chosen in ("kvm", "qemu")
    assert "ministack-kvm-probe" not in _domains()
    assert [p.name for p in (state_dir / "probe").iterdir()] == ["virt_type.json"]


def _disk_files(uuid: str) -> list[str]:
    """The files of the running domain's disks (device disk), in order."""
    done = _virsh("dumpxml", f"instance-{uuid}")
    assert done.returncode == 0, done.stderr
    devices = ET.fromstring(done.stdout).find("devices")
    assert devices is not None
    return [
        str(d.find("source").get("file"))  # type: ignore[union-attr]
        for d in devices.findall("disk")
        if d.get("device") == "disk"
    ]


async def test_rescue_unrescue_and_nmi(driver: LibvirtDriver, state_dir: Path) -> None:
    """Rescue boots a fresh disk of the rescue image first with the guest's own disk second;
    unrescue boots the original definition again; an NMI reaches a running guest."""
    uuid = "0e2e0000-0000-4000-8000-000000000015"
    await driver.spawn(_spec(uuid))
    await _wait_banners(driver, uuid, 1)
    instance_dir = state_dir / "instances" / uuid

    await driver.rescue(_spec(uuid))
    await _wait_banners(driver, uuid, 2)
    assert _disk_files(uuid)[:2] == [
        str(instance_dir / "disk.rescue"),
        str(instance_dir / "disk"),
    ]
    assert (instance_dir / "unrescue.xml").is_file()
    await driver.inject_nmi(uuid)
    assert await _state(driver, uuid) in (PowerState.RUNNING, PowerState.SHUTDOWN)

    await driver.unrescue(uuid)
    await _wait_banners(driver, uuid, 3)
    assert _disk_files(uuid)[0] == str(instance_dir / "disk")
    assert "disk.rescue" not in _virsh("dumpxml", f"instance-{uuid}").stdout
    assert not (instance_dir / "disk.rescue").exists()
    assert not (instance_dir / "unrescue.xml").exists()
    await driver.unrescue(uuid)  # idempotent
    await driver.destroy(uuid)
    assert f"instance-{uuid}" not in _domains()
