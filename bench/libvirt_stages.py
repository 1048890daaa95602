"""Where the time of one real-VM boot goes: LibvirtDriver.spawn stage by stage, then the guest's
console line by line, against the same image under plain qemu-system-x86_64 in the same run.

Prints, for the driver: image cache, overlay, config drive, defineXML, domain start (each
libvirt call), the QEMU process's start time (from /proc), first console output and every
console line as it appears (host seconds since spawn began); for plain qemu the same console
timeline. The guest's own `[uptime]` stamps show whether the difference is before the kernel
(firmware, boot loader) or inside the guest. Needs root, libvirtd and the guest image.

With --api the boot goes through the Compute API of an all-in-one cloud instead (POST
/servers, then os-getConsoleOutput polled every 0.05 s): adds the instance action events
(conductor, agent build), status changes and the libvirt domain log's start time.

    .venv/bin/python bench/libvirt_stages.py [--runs 1] [--api]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from libvirt_boot import BANNER, FileImages, _spec, plain_qemu_argv  # noqa: E402
from libvirt_servers import Api  # noqa: E402
from tests.cloud import running_cloud  # noqa: E402

from ministack.compute.guestimage import DEFAULT_CACHE_DIR, build_test_image  # noqa: E402
from ministack.compute.virt.libvirt import (  # noqa: E402
    LibvirtDriver,
    LibvirtOptions,
    disks,
)
from ministack.compute.virt.libvirt.configdrive import write_config_drive  # noqa: E402
from ministack.compute.virt.libvirt.xml import domain_name  # noqa: E402

TIMEOUT = 120.0
Stamps = list[tuple[float, str]]


def _boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _process_start(pid: int) -> float:
    """A process's start time on the CLOCK_BOOTTIME scale."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19]) / 100.0  # field 22, in clock ticks (USER_HZ 100)


async def _console(read: Callable[[], str], started: float, stamps: Stamps) -> None:
    """Stamp each console line when it first appears, until the banner."""
    seen = 0
    while time.monotonic() - started < TIMEOUT:
        text = read()
        lines = text.splitlines()
        complete = lines if text.endswith("\n") else lines[:-1]
        for line in complete[seen:]:
            stamps.append((time.monotonic() - started, line.strip()[:110]))
        seen = max(seen, len(complete))
        if BANNER in text:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("no banner within the timeout")


def _read(path: Path) -> Callable[[], str]:
    return lambda: path.read_text(errors="replace") if path.exists() else ""


def _timed(
    stamps: Stamps, started: list[float], label: str, func: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        begin = time.monotonic()
        try:
            return await func(*args, **kwargs)
        finally:
            end = time.monotonic()
            stamps.append((end - started[0], f"{label} ({end - begin:.3f} s)"))

    return wrapper


async def driver_boot(driver: LibvirtDriver) -> Stamps:
    spec = _spec()
    stamps: Stamps = []
    started = [0.0]
    layout = driver._layout(spec.uuid)
    patched = [(driver.cache, "ensure", "image cache"), (disks, "create_overlay", "overlay")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _label in patched]
    for owner, name, label in patched:
        setattr(owner, name, _timed(stamps, started, label, getattr(owner, name)))
    call = driver._call

    async def traced(work: Callable[[Any], Any]) -> Any:
        begin = time.monotonic()
        result = await call(work)
        end = time.monotonic()
        name = getattr(work, "__qualname__", "call").replace("LibvirtDriver.", "")
        stamps.append((end - started[0], f"libvirt {name} ({end - begin:.3f} s)"))
        return result

    originals.append((driver, "_call", call))
    setattr(driver, "_call", traced)  # noqa: B010
    try:
        started[0] = time.monotonic()
        boot_at_start = _boottime()
        await driver.spawn(spec)
        stamps.append((time.monotonic() - started[0], "spawn returned"))
        pid = int(Path(f"/run/libvirt/qemu/{domain_name(spec.uuid)}.pid").read_text())
        qemu_at = _process_start(pid) - boot_at_start
        stamps.append((qemu_at, "qemu process started (/proc, 10 ms resolution)"))
        await _console(_read(layout.console_log), started[0], stamps)
        return sorted(stamps)
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        await driver.destroy(spec.uuid)


async def qemu_boot(image: Path, work: Path) -> Stamps:
    overlay, log, drive = work / "plain.qcow2", work / "plain.log", work / "plain.iso"
    for path in (overlay, log, drive):
        path.unlink(missing_ok=True)
    stamps: Stamps = []
    started = time.monotonic()
    create = ("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2")
    subprocess.run([*create, "-b", str(image), str(overlay), "1G"], check=True)
    stamps.append((time.monotonic() - started, "overlay"))
    write_config_drive(_spec(), drive)
    stamps.append((time.monotonic() - started, "config drive"))
    qemu = subprocess.Popen(plain_qemu_argv(overlay, drive, log), stderr=subprocess.DEVNULL)
    stamps.append((time.monotonic() - started, "qemu process started"))
    try:
        await _console(_read(log), started, stamps)
        return stamps
    finally:
        qemu.terminate()
        qemu.wait()


def _utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def api_boot(api: Api) -> Stamps:
    """One boot through the API; stamps in seconds since the POST was sent."""
    stamps: Stamps = []
    wall0, started = time.time(), time.monotonic()
    uuid = api.create("vm1")
    stamps.append((time.monotonic() - started, "POST /servers answered"))
    status, seen = "", 0
    while time.monotonic() - started < TIMEOUT:
        server = api.http.get(f"/servers/{uuid}").json()["server"]
        now_status = f"{server['status']}/{server.get('OS-EXT-STS:task_state')}"
        if now_status != status:
            status = now_status
            stamps.append((time.monotonic() - started, f"status {status}"))
        lines = api.console(uuid).splitlines()
        for line in lines[seen:]:
            stamps.append((time.monotonic() - started, line.strip()[:110]))
        seen = max(seen, len(lines))
        if BANNER in "\n".join(lines):
            break
        time.sleep(0.05)
    headers = {"OpenStack-API-Version": "compute 2.51"}
    for action in api.http.get(f"/servers/{uuid}/os-instance-actions").json()["instanceActions"]:
        resp = api.http.get(
            f"/servers/{uuid}/os-instance-actions/{action['request_id']}", headers=headers
        )
        if resp.status_code != 200:
            print(resp.status_code, resp.text[:300])
            continue
        detail = resp.json()["instanceAction"]
        stamps.append((_utc(action["start_time"]) - wall0, f"action {action['action']} start"))
        for event in detail.get("events", []):
            for key in ("start_time", "finish_time"):
                if event.get(key):
                    stamps.append((_utc(event[key]) - wall0, f"event {event['event']} {key}"))
    domain_log = Path(f"/var/log/libvirt/qemu/{domain_name(uuid)}.log")
    for line in domain_log.read_text(errors="replace").splitlines():
        if "starting up" in line:
            when = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
            stamps.append((when.replace(tzinfo=dt.UTC).timestamp() - wall0, "libvirt starting up"))
    api.delete_all("vm1")
    return sorted(stamps)


def _show(title: str, stamps: Stamps) -> None:
    print(f"--- {title}")
    for at, what in stamps:
        print(f"{at:7.3f}  {what}")


async def main(runs: int, through_api: bool) -> None:
    image = build_test_image(DEFAULT_CACHE_DIR)
    work = Path(tempfile.mkdtemp(prefix="ministack-bench-", dir="/var/tmp"))
    work.chmod(0o755)
    try:
        if through_api:
            await _main_api(runs, image, work)
            return
        options = LibvirtOptions(
            instances_path=work / "instances",
            image_cache_path=work / "imagecache",
            virt_type="qemu",
        )
        driver = LibvirtDriver(options, FileImages(image))
        await driver.init_host("bench")
        await driver.cache.ensure("ministack-test", "qcow2")  # warm, like a second boot
        for run in range(runs):
            _show(f"run {run + 1}: LibvirtDriver.spawn", await driver_boot(driver))
            _show(f"run {run + 1}: plain qemu", await qemu_boot(image, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _main_api(runs: int, image: Path, work: Path) -> None:
    env = {"MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt", "MINISTACK_LIBVIRT_VIRT_TYPE": "qemu"}
    services = ("identity", "image", "compute")
    with running_cloud(work, services=services, extra_env=env) as cloud:
        cloud.ministack("seed")
        api = Api(cloud)
        api_boot(api)  # fetches the image into the host's cache
        for run in range(runs):
            _show(f"run {run + 1}: POST /servers", api_boot(api))
            _show(f"run {run + 1}: plain qemu", await qemu_boot(image, work))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--api", action="store_true", help="boot through the Compute API")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.api))
