"""Live migration between two libvirt hosts on one machine keeps the guest running (issue 15).

Two libvirtds: the system daemon, and a session daemon this test starts as the libvirt-qemu
user (root's `qemu:///session` is the system daemon itself, so it cannot be the second
host). One `ministack compute` process drives each, joined to the controller over the bus
and the database only (test_migrate_disk_libvirt.py's arrangement). The instances share no
storage: the migration copies the guest's disks into the overlays the destination made.

The guest's user data starts a loop that prints, every second, an id drawn at boot (kept in
the shell's memory), its uptime and the mark it wrote on its boot disk, read back with the
page cache dropped (so from the disk as the destination's QEMU serves it). After
`openstack server migrate --live-migration --host` the console on the other host shows the
same id with a larger uptime and the mark, and no second boot banner.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ministack.compute.claims import node_uuid
from ministack.compute.guestimage import BANNER_PREFIX
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.cloud import Cloud
from tests.e2e.test_migrate_disk_libvirt import domains, libvirt_host, settled
from tests.e2e.test_second_host_libvirt import controller  # noqa: F401  (fixture)
from tests.e2e.test_servers_libvirt import console, wait_banner

pytestmark = pytest.mark.e2e

USER_DATA = """#!/bin/sh
mkdir -p /mnt/disk
mount -t vfat /dev/vda1 /mnt/disk || echo "alive: no disk"
echo "TOKEN" > /mnt/disk/live-mark && sync
id=$(cat /proc/sys/kernel/random/uuid)
(while true; do
    echo 3 > /proc/sys/vm/drop_caches
    echo "alive $id $(cut -d' ' -f1 /proc/uptime) $(cat /mnt/disk/live-mark)"
    sleep 1
done) &
"""
ALIVE = re.compile(r"alive (\S+) (\d+\.\d+) (\S+)")
HYPERVISOR_USER = "libvirt-qemu"


@contextmanager
def session_libvirtd() -> Iterator[str]:
    """A second libvirtd: the session daemon of the hypervisor user, in a directory of its
    own; yields its URI (its unix socket). Its guests and its virtlogd go with it."""
    base = Path(tempfile.mkdtemp(prefix="ms-lv-", dir="/var/tmp"))
    base.chmod(0o755)
    dirs = {name: base / name for name in ("run", "home", "config", "cache")}
    for path in dirs.values():
        path.mkdir()
        shutil.chown(path, HYPERVISOR_USER, HYPERVISOR_USER)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(dirs["home"]),
        "XDG_RUNTIME_DIR": str(dirs["run"]),
        "XDG_CONFIG_HOME": str(dirs["config"]),
        "XDG_CACHE_HOME": str(dirs["cache"]),
    }
    daemon = subprocess.Popen(
        ["runuser", "-u", HYPERVISOR_USER, "--", "libvirtd", "--timeout", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"qemu+unix:///session?socket={dirs['run']}/libvirt/libvirt-sock"
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["virsh", "-c", uri, "version"], capture_output=True).returncode:
            assert daemon.poll() is None, "the session libvirtd exited"
            assert time.monotonic() < deadline, "the session libvirtd never answered"
            time.sleep(0.2)
        yield uri
    finally:
        for name in domains(uri).split():
            subprocess.run(["virsh", "-c", uri, "destroy", name], capture_output=True)
            subprocess.run(["virsh", "-c", uri, "undefine", name], capture_output=True)
        daemon.terminate()
        daemon.wait(30)
        logd = dirs["run"] / "libvirt" / "virtlogd.pid"
        if logd.exists():
            try:
                os.kill(int(logd.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(base, ignore_errors=True)


def alive(text: str) -> list[tuple[str, float, str]]:
    return [(i, float(up), mark) for i, up, mark in ALIVE.findall(text)]


def wait_alive(conn: Any, server: Any, after: float = -1.0) -> tuple[str, float, str]:
    """The guest's last `alive` line once its uptime is past `after`."""
    deadline = time.monotonic() + 120
    text = ""
    while time.monotonic() < deadline:
        text = console(conn, server)
        lines = alive(text)
        if lines and lines[-1][1] > after:
            return lines[-1]
        time.sleep(1)
    raise AssertionError(f"no alive line past {after} on the console:\n{text[-2000:]}")


def why(conn: Any, server_id: str, *states: Path) -> str:
    """The failed events of the server's last action and the hosts' logs."""
    headers = {"OpenStack-API-Version": "compute 2.21"}
    actions = conn.compute.get(f"/servers/{server_id}/os-instance-actions", headers=headers)
    last = actions.json()["instanceActions"][0]
    url = f"/servers/{server_id}/os-instance-actions/{last['request_id']}"
    events = conn.compute.get(url, headers=headers).json()["instanceAction"]["events"]
    failed = " ".join(str(e.get("traceback") or "") for e in events)
    logs = "\n".join((s / "compute.log").read_text()[-3000:] for s in states)
    return f"{last['action']}: {failed}\n{logs}"


def gone(conn: Any, server_id: str) -> None:
    """Delete the server if a failed assertion left it (its guest must not outlive the test)."""
    server = conn.compute.find_server(server_id)
    if server is not None:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)


def allocations(cloud: Cloud, conn: Any, consumer: str) -> set[str]:
    resp = httpx.get(
        f"{cloud.url('placement')}/allocations/{consumer}",
        headers={"X-Auth-Token": conn.auth_token},
        timeout=30,
    )
    resp.raise_for_status()
    return set(resp.json()["allocations"])


def test_live_migrate_between_libvirt_hosts_keeps_the_guest_running(
    controller: Cloud,  # noqa: F811
) -> None:
    cloud = controller
    base = cloud.env["MINISTACK_DEFAULT_HOST"]
    source, target = f"{base}-lla", f"{base}-llb"
    token = uuid.uuid4().hex
    conn = cloud.connect()
    with ExitStack() as stack:
        dest_uri = stack.enter_context(session_libvirtd())
        src_state = stack.enter_context(libvirt_host(cloud, source, "qemu:///system"))
        dst_state = stack.enter_context(libvirt_host(cloud, target, dest_uri))
        image = conn.image.find_image("ministack-test", ignore_missing=False)
        flavor = conn.compute.find_flavor("h2.small", ignore_missing=False)
        server = conn.compute.create_server(
            name="live-mover",
            image_id=image.id,
            flavor_id=flavor.id,
            networks="none",
            availability_zone=f"nova:{source}",
            user_data=base64.b64encode(USER_DATA.replace("TOKEN", token).encode()).decode(),
        )
        stack.callback(gone, conn, server.id)  # while the hosts still run
        server = settled(conn, server, "ACTIVE", src_state, dst_state)
        assert server.compute_host == source
        wait_banner(conn, server)
        boot_id, before, mark = wait_alive(conn, server)
        assert mark == token

        cloud.cli(
            *("--os-compute-api-version", "2.30", "server", "migrate", "--live-migration"),
            *("--host", target, server.id),
        )
        moved = settled(conn, server, "ACTIVE", src_state, dst_state)
        assert moved.compute_host == target, why(conn, server.id, src_state, dst_state)
        same_id, _, mark = wait_alive(conn, moved, before)
        assert (same_id, mark) == (boot_id, token)  # the same boot, its disk copied
        assert BANNER_PREFIX not in console(conn, moved)  # the destination's log: no boot
        assert server.id in domains(dest_uri)
        assert server.id not in domains("qemu:///system")
        assert not (src_state / "instances" / server.id).exists()
        assert allocations(cloud, conn, server.id) == {node_uuid(target)}
        out = cloud.cli(
            *("--os-compute-api-version", "2.80", "server", "migration", "list"),
            *("--server", server.id, "-f", "json"),
        ).stdout
        (migration,) = json.loads(out)
        assert migration["Status"] == "completed", migration
        assert allocations(cloud, conn, migration["UUID"]) == set()

        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
        assert server.id not in domains(dest_uri)
        assert not (dst_state / "instances" / server.id).exists()
