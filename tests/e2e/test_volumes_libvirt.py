"""A volume hot-plugged into a real VM: an all-in-one cloud (libvirt driver, file volume
backend) boots the ministack-test image; `openstack server add volume` plugs a 1 GiB volume
and the guest's /sys/block shows a new 1 GiB disk (vdb, 2097152 sectors), printed on its
console by a user-data loop; `server remove volume` unplugs it and the guest no longer has
it; the volume is available again. Extending it while attached (volume-extended, libvirt
blockResize) shows the guest a 2 GiB vdb. The VM is deleted in finally."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud import Cloud, running_cloud
from tests.e2e.test_servers_libvirt import REPO, URI, boot, console, wait_banner, wait_status

pytestmark = pytest.mark.e2e

# print the guest's disks (name=sectors) whenever they change
WATCH_DISKS = b"""#!/bin/sh
(
last=""
while :; do
    now=""
    for d in /sys/block/vd*; do now="$now $(basename "$d")=$(cat "$d/size")"; done
    if [ "$now" != "$last" ]; then echo "guest-disks:$now"; last="$now"; fi
    sleep 0.5
done
) </dev/null &
"""
ONE_GIB_SECTORS = (1 << 30) // 512


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    if subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode != 0:
        done = subprocess.run(
            ["bash", str(REPO / "scripts/test.d/libvirt.sh")], capture_output=True, text=True
        )
        assert done.returncode == 0, f"could not start libvirtd: {done.stderr}"
    tmp = Path(tempfile.mkdtemp(prefix="ministack-e2e-vol-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "imagecache"),
        "MINISTACK_LIBVIRT_SHUTDOWN_TIMEOUT": "20",
    }
    services = ("identity", "image", "compute", "volume")
    try:
        with running_cloud(tmp, services=services, extra_env=env) as c:
            c.ministack("seed")
            c.cli("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "e2e.small")
            yield c
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def disks_seen(text: str) -> dict[str, int]:
    """The guest's disks as its last 'guest-disks:' line says (name -> 512-byte sectors)."""
    lines = [line for line in text.splitlines() if line.startswith("guest-disks:")]
    assert lines, f"the guest printed no disks:\n{text[-2000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}


def wait_disks(conn: Any, server: Any, check: Any) -> dict[str, int]:
    deadline = time.monotonic() + 120
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        text = console(conn, server)
        if "guest-disks:" in text:
            seen = disks_seen(text)
            if check(seen):
                return seen
        time.sleep(0.5)
    raise AssertionError(f"the guest's disks stayed {seen}:\n{console(conn, server)[-2000:]}")


def wait_volume(cloud: Cloud, volume_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = json.loads(cloud.cli("volume", "show", volume_id, "-f", "json").stdout)
        if shown["status"] == status:
            return shown
        time.sleep(0.5)
    raise AssertionError(f"volume {volume_id} is {shown.get('status')}, not {status}")


def test_hot_plugged_volume_is_a_new_disk_in_the_guest(cloud: Cloud) -> None:
    conn = cloud.connect()
    vol = json.loads(cloud.cli("volume", "create", "--size", "1", "data", "-f", "json").stdout)
    server = boot(conn, "vol-vm", user_data=base64.b64encode(WATCH_DISKS).decode())
    try:
        wait_status(conn, server, "ACTIVE")
        wait_banner(conn, server)
        before = wait_disks(conn, server, lambda d: "vda" in d)
        assert "vdb" not in before
        wait_volume(cloud, vol["id"], "available")

        cloud.cli("server", "add", "volume", server.id, vol["id"])
        shown = wait_volume(cloud, vol["id"], "in-use")
        assert shown["attachments"][0]["device"] == "/dev/vdb"
        seen = wait_disks(conn, server, lambda d: "vdb" in d)
        assert seen["vdb"] == ONE_GIB_SECTORS

        # volume-extended: the volume service tells the host; QEMU grows it (blockResize)
        cloud.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", vol["id"])
        grown = wait_disks(conn, server, lambda d: d.get("vdb") == 2 * ONE_GIB_SECTORS)
        assert grown["vdb"] == 2 * ONE_GIB_SECTORS
        wait_volume(cloud, vol["id"], "in-use")

        cloud.cli("server", "remove", "volume", server.id, vol["id"])
        wait_volume(cloud, vol["id"], "available")
        wait_disks(conn, server, lambda d: "vdb" not in d and "vda" in d)
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
    domains = subprocess.run(
        ["virsh", "-c", URI, "list", "--all", "--uuid"], capture_output=True, text=True
    )
    assert domains.returncode == 0 and server.id not in domains.stdout
    cloud.cli("volume", "delete", vol["id"])


def test_boot_from_volume_root_disk_is_the_volume(cloud: Cloud) -> None:
    """Boot from a 2 GiB volume made from the image (block_device_mapping_v2): the guest's
    vda is the volume (2 GiB, where the flavor's disk would be 1 GiB); deleting the server
    deletes the volume (delete_on_termination)."""
    conn = cloud.connect()
    image_id = conn.image.find_image("ministack-test", ignore_missing=False).id
    flavor = conn.compute.find_flavor("e2e.small", ignore_missing=False)
    server = conn.compute.create_server(
        name="bfv-vm",
        image_id="",
        flavor_id=flavor.id,
        networks="none",
        user_data=base64.b64encode(WATCH_DISKS).decode(),
        block_device_mapping=[
            {
                "uuid": image_id,
                "source_type": "image",
                "destination_type": "volume",
                "boot_index": 0,
                "volume_size": 2,
                "delete_on_termination": True,
            }
        ],
    )
    try:
        wait_status(conn, server, "ACTIVE")
        wait_banner(conn, server)
        seen = wait_disks(conn, server, lambda d: "vda" in d)
        assert seen["vda"] == 2 * ONE_GIB_SECTORS
        (root,) = [v for v in conn.block_storage.volumes() if v.attachments]
        assert root.attachments[0]["device"] == "/dev/vda"
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
    for _ in range(120):
        if conn.block_storage.find_volume(root.id) is None:
            break
        time.sleep(0.5)
    assert conn.block_storage.find_volume(root.id) is None


MARKER = "ministack-vol-ok"  # 16 bytes
# print vdb's first 16 bytes whenever they change; the writer puts MARKER over a vdb that
# starts with zeros, the reader never writes
HEAD_LOOP = """#!/bin/sh
(
last=""
while :; do
    now="none"
    if [ -b /dev/vdb ]; then
        now=$(dd if=/dev/vdb bs=16 count=1 2>/dev/null | tr -c 'a-z-' '.')
        if [ "$now" = "................" ] && [ -n "%s" ]; then
            printf '%s' | dd of=/dev/vdb bs=16 count=1 conv=notrunc 2>/dev/null
            sync
        fi
    fi
    if [ "$now" != "$last" ]; then echo "guest-head:$now"; last="$now"; fi
    sleep 0.5
done
) </dev/null &
"""


def wait_head(conn: Any, server: Any, want: str) -> None:
    """Until the guest's last 'guest-head:' line is `want`."""
    deadline = time.monotonic() + 180
    last = ""
    while time.monotonic() < deadline:
        lines = [x for x in console(conn, server).splitlines() if x.startswith("guest-head:")]
        last = lines[-1].removeprefix("guest-head:") if lines else ""
        if last == want:
            return
        time.sleep(0.5)
    raise AssertionError(f"the guest's vdb head stayed {last!r}:\n{console(conn, server)[-2000:]}")


def test_data_written_by_one_vm_is_read_by_another(cloud: Cloud) -> None:
    """A guest writes a marker to its hot-plugged volume; after detach and an attach to a
    second guest (which only reads), that guest reads the marker: the data outlives the
    attachment and crosses servers."""
    conn = cloud.connect()
    writer_ud = (HEAD_LOOP % ("w", MARKER)).encode()
    reader_ud = (HEAD_LOOP % ("", MARKER)).encode()
    vol = json.loads(cloud.cli("volume", "create", "--size", "1", "shared", "-f", "json").stdout)
    writer = boot(conn, "vol-writer", user_data=base64.b64encode(writer_ud).decode())
    reader = boot(conn, "vol-reader", user_data=base64.b64encode(reader_ud).decode())
    try:
        for server in (writer, reader):
            wait_status(conn, server, "ACTIVE")
            wait_banner(conn, server)
            wait_head(conn, server, "none")
        wait_volume(cloud, vol["id"], "available")
        cloud.cli("server", "add", "volume", writer.id, vol["id"])
        wait_volume(cloud, vol["id"], "in-use")
        wait_head(conn, writer, MARKER)
        cloud.cli("server", "remove", "volume", writer.id, vol["id"])
        wait_volume(cloud, vol["id"], "available")
        cloud.cli("server", "add", "volume", reader.id, vol["id"])
        wait_volume(cloud, vol["id"], "in-use")
        wait_head(conn, reader, MARKER)
        cloud.cli("server", "remove", "volume", reader.id, vol["id"])
        wait_volume(cloud, vol["id"], "available")
    finally:
        for server in (writer, reader):
            conn.compute.delete_server(server)
        for server in (writer, reader):
            conn.compute.wait_for_delete(server, wait=120)
    cloud.cli("volume", "delete", vol["id"])
