"""Attach → disk visible in the guest, on a running real VM (libvirt, ministack-test image).

Each run: POST os-volume_attachments (1 GiB volume) until the guest's /sys/block shows vdb
(printed on its console by a user-data loop sampling every 0.2 s, read through the API);
then DELETE until vdb is gone. Baseline in the same run: the same plug straight through
libvirt (`virsh attach-device` of the same kind of disk XML, a 1 GiB qcow2 file) until the
guest shows it, then `virsh detach-device`. Figures: p50 of each; the sampling adds up to
0.2 s to both, the console read through the API up to 0.3 s to both.

Needs root, libvirtd and the guest image (built on first run).

    .venv/bin/python bench/volume_attach_latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cloud import running_cloud  # noqa: E402
from tests.e2e.test_servers_libvirt import URI, boot, console, wait_banner, wait_status  # noqa: E402
from tests.e2e.test_volumes_libvirt import disks_seen  # noqa: E402

from ministack.compute.virt.driver import BlockDevice  # noqa: E402
from ministack.compute.virt.libvirt.volumes import disk_xml  # noqa: E402

WATCH = b"""#!/bin/sh
(
last=""
while :; do
    now=""
    for d in /sys/block/vd*; do now="$now $(basename "$d")=$(cat "$d/size")"; done
    if [ "$now" != "$last" ]; then echo "guest-disks:$now"; last="$now"; fi
    sleep 0.2
done
) </dev/null &
"""


def until(conn: Any, server: Any, want: bool) -> float:
    """Seconds until the guest shows (want) or no longer shows vdb."""
    started = time.monotonic()
    while time.monotonic() - started < 120:
        text = console(conn, server)
        if "guest-disks:" in text and ("vdb" in disks_seen(text)) == want:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"vdb {'never appeared' if want else 'never went'}")


def api_run(conn: Any, server: Any, volume_id: str) -> tuple[float, float]:
    base = f"/servers/{server.id}/os-volume_attachments"
    started = time.monotonic()
    resp = conn.compute.post(base, json={"volumeAttachment": {"volumeId": volume_id}})
    assert resp.status_code == 200, resp.text
    plug = time.monotonic() - started + until(conn, server, True)
    started = time.monotonic()
    resp = conn.compute.delete(f"{base}/{volume_id}")
    assert resp.status_code == 202, resp.text
    unplug = time.monotonic() - started + until(conn, server, False)
    # wait until the volume is available again before the next run
    for _ in range(600):
        if conn.block_storage.get_volume(volume_id).status == "available":
            break
        time.sleep(0.1)
    return plug, unplug


def virsh_run(conn: Any, server: Any, domain: str, path: Path) -> tuple[float, float]:
    xml = path.with_suffix(".xml")
    xml.write_text(disk_xml(BlockDevice("baseline-disk", str(path), "/dev/vdb")))
    started = time.monotonic()
    subprocess.run(["virsh", "-c", URI, "attach-device", domain, str(xml), "--live"], check=True)
    plug = time.monotonic() - started + until(conn, server, True)
    started = time.monotonic()
    subprocess.run(["virsh", "-c", URI, "detach-device", domain, str(xml), "--live"], check=True)
    unplug = time.monotonic() - started + until(conn, server, False)
    return plug, unplug


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    tmp = Path(tempfile.mkdtemp(prefix="ministack-bench-vol-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "imagecache"),
    }
    services = ("identity", "image", "compute", "volume")
    server = None
    try:
        with running_cloud(tmp, services=services, extra_env=env) as cloud:
            cloud.ministack("seed")
            cloud.cli(
                "flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "e2e.small"
            )
            conn = cloud.connect()
            server = boot(conn, "bench-vol", user_data=base64.b64encode(WATCH).decode())
            wait_status(conn, server, "ACTIVE")
            wait_banner(conn, server)
            vol = conn.block_storage.create_volume(size=1, name="bench")
            conn.block_storage.wait_for_status(vol, "available", wait=60, interval=0.2)
            scratch = tmp / "baseline.qcow2"
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(scratch), "1G"], check=True
            )
            domain = server.id  # virsh takes the domain's UUID
            api: list[tuple[float, float]] = []
            base: list[tuple[float, float]] = []
            for _ in range(runs):  # alternating, so load changes hit both alike
                base.append(virsh_run(conn, server, domain, scratch))
                api.append(api_run(conn, server, vol.id))
            for label, rows in (("virsh (baseline)", base), ("os-volume_attachments", api)):
                plug = statistics.median(r[0] for r in rows)
                unplug = statistics.median(r[1] for r in rows)
                print(
                    f"{label:24s} attach→visible p50 {plug:.2f} s  detach→gone p50 {unplug:.2f} s"
                    f"  (runs: {', '.join(f'{r[0]:.2f}' for r in rows)})"
                )
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=120)
            server = None
    finally:
        if server is not None:  # the cloud is gone: remove its domain by hand
            for verb in ("destroy", "undefine"):
                subprocess.run(["virsh", "-c", URI, verb, server.id], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
