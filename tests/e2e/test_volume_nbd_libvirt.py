"""A volume attached to a real VM on another host over NBD (issue 12): the controller runs the
volume service and a libvirt compute host; a second `ministack compute` process (libvirt, its
own host name, instances path and image cache, as on another machine) boots the guest. The
volume service exports the volume (qemu-storage-daemon, TLS-PSK); host B reaches it through
its local TLS-PSK client and plugs a libvirt network disk. The guest sees a 1 GiB vdb (from
/sys/block, printed on its console), writes a marker to it; after detach the marker is in the
volume's file on the controller, and after a second attach the guest reads it back. Nothing
(export, client, socket, key) is left after detach; the VM is deleted in finally."""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.compute.test_agent_process import rabbitmqctl
from tests.api.compute.test_second_host import host2_env
from tests.api.compute.test_volume_nbd import daemons_of
from tests.cloud import Cloud, drop_pg_database, make_cloud
from tests.e2e.test_second_host_libvirt import wait_up
from tests.e2e.test_servers_libvirt import REPO, URI, console, wait_banner, wait_status
from tests.e2e.test_volumes_libvirt import ONE_GIB_SECTORS, wait_volume

pytestmark = pytest.mark.e2e

MARKER = "ministack-nbd-ok"  # 16 bytes
START_TIMEOUT = 240.0  # a libvirt host probes KVM at start; slow on a loaded machine
# print the guest's disks (name=sectors) and vdb's first 16 bytes whenever they change; write
# MARKER over a vdb that starts with zeros
WATCH = b"""#!/bin/sh
(
last=""
while :; do
    now=""
    for d in /sys/block/vd*; do now="$now $(basename "$d")=$(cat "$d/size")"; done
    if [ -b /dev/vdb ]; then
        head=$(dd if=/dev/vdb bs=16 count=1 2>/dev/null | tr -c 'a-z-' '.')
        if [ "$head" = "................" ]; then
            printf 'ministack-nbd-ok' | dd of=/dev/vdb bs=16 count=1 conv=notrunc 2>/dev/null
            sync
        fi
        now="$now head=$head"
    fi
    if [ "$now" != "$last" ]; then echo "guest-disks:$now"; last="$now"; fi
    sleep 0.5
done
) </dev/null &
"""


@dataclass
class Pair:
    cloud: Cloud
    host1: str
    host2: str
    state2: Path


def _libvirtd() -> None:
    if subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode != 0:
        done = subprocess.run(
            ["bash", str(REPO / "scripts/test.d/libvirt.sh")], capture_output=True, text=True
        )
        assert done.returncode == 0, f"could not start libvirtd: {done.stderr}"


@contextlib.contextmanager
def libvirt_pair() -> Iterator[Pair]:
    """A controller (volume service and a libvirt host) and a second libvirt host in its own
    process, joined over RabbitMQ and PostgreSQL; the guest image seeded. Also used by
    bench/volume_nbd.py."""
    _libvirtd()
    vhost = f"ministack-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    tmp = Path(tempfile.mkdtemp(prefix="ministack-e2e-nbd-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_MESSAGING_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        # under the state directory, as by default: QEMU then reaches local volumes too
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "controller" / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "controller" / "imagecache"),
        "MINISTACK_LIBVIRT_SHUTDOWN_TIMEOUT": "20",
    }
    services = ("identity", "image", "placement", "compute", "volume")
    agent: subprocess.Popen[bytes] | None = None
    cloud = make_cloud(tmp / "controller", "postgresql", services, env)
    try:
        cloud.start(timeout=START_TIMEOUT)
        cloud.ministack("seed")
        cloud.cli("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "nbd.vm")
        host1 = cloud.env["MINISTACK_DEFAULT_HOST"]
        host2 = f"{host1}-nbd2"
        state = tmp / "host2"
        env2, _ = host2_env(cloud, host2, state)
        state.chmod(0o755)
        env2.update(
            MINISTACK_LIBVIRT_INSTANCES_PATH=str(state / "instances"),
            MINISTACK_LIBVIRT_IMAGE_CACHE_PATH=str(state / "imagecache"),
        )
        log = state / "compute.log"
        with log.open("ab") as out:
            agent = subprocess.Popen(
                [sys.executable, "-m", "ministack", "compute"], env=env2, stdout=out, stderr=out
            )
        wait_up(cloud.connect(), host2, log)
        yield Pair(cloud, host1, host2, state)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        cloud.stop()
        drop_pg_database(cloud.database_url)
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def boot_on(pair: Pair, host: str, name: str, script: bytes) -> Any:
    conn = pair.cloud.connect()
    server = conn.compute.create_server(
        name=name,
        image_id=conn.image.find_image("ministack-test", ignore_missing=False).id,
        flavor_id=conn.compute.find_flavor("nbd.vm", ignore_missing=False).id,
        networks="none",
        availability_zone=f"nova:{host}",
        user_data=base64.b64encode(script).decode(),
    )
    server = wait_status(conn, server, "ACTIVE")
    assert server.compute_host == host
    wait_banner(conn, server)
    return server


def seen(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.startswith("guest-disks:")]
    return dict(re.findall(r"(\w+)=(\S+)", lines[-1])) if lines else {}


def wait_seen(conn: Any, server: Any, check: Any) -> dict[str, str]:
    deadline = time.monotonic() + 180
    now: dict[str, str] = {}
    while time.monotonic() < deadline:
        now = seen(console(conn, server))
        if check(now):
            return now
        time.sleep(0.5)
    raise AssertionError(f"the guest's disks stayed {now}:\n{console(conn, server)[-2000:]}")


def qemu_storage_daemons(under: Path) -> list[int]:
    return [
        pid
        for pid in daemons_of(under)
        if b"qemu-storage" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_guest_on_another_host_uses_an_nbd_volume(pair: Pair) -> None:
    cloud, conn = pair.cloud, pair.cloud.connect()
    server = boot_on(pair, pair.host2, "nbd-vm", WATCH)
    vol = conn.block_storage.create_volume(size=1, name="over-nbd")
    root = pair.state2.parent
    try:
        wait_volume(cloud, vol.id, "available")
        for attempt in (1, 2):  # the second attach reads what the first wrote
            cloud.cli("server", "add", "volume", server.id, vol.id)
            wait_volume(cloud, vol.id, "in-use")
            disks = wait_seen(conn, server, lambda d: d.get("head") == MARKER)
            assert int(disks["vdb"]) == ONE_GIB_SECTORS
            # the export on the controller and host B's TLS-PSK client both run
            exports = root / "controller" / "nbd-exports"
            info = [p.name for p in exports.iterdir()], list(pair.state2.glob("instances/*/*"))
            assert len(qemu_storage_daemons(exports)) == 1, info
            client = pair.state2 / "instances" / server.id / f"nbd-{vol.id}"
            client_dir = client.resolve()
            assert len(qemu_storage_daemons(client_dir)) == 1
            assert (client_dir / "keys.psk").stat().st_mode & 0o077 == 0
            xml = subprocess.run(
                ["virsh", "-c", URI, "dumpxml", f"instance-{server.id}"],
                capture_output=True,
                text=True,
            ).stdout
            assert "protocol='nbd'" in xml and "transport='unix'" in xml, xml
            cloud.cli("server", "remove", "volume", server.id, vol.id)
            wait_volume(cloud, vol.id, "available")
            wait_seen(conn, server, lambda d: "vdb" not in d and "vda" in d)
            assert qemu_storage_daemons(root) == qemu_storage_daemons(client_dir) == [], attempt
            assert list((root / "controller" / "nbd-exports").iterdir()) == []
            assert not client.exists() and not client.is_symlink() and not client_dir.exists()
            # what the guest wrote is in the volume's file on the controller
            path = root / "controller" / "volumes" / f"volume-{vol.id}"
            dump = subprocess.run(
                ["qemu-io", "-f", "qcow2", "-r", "-c", "read -v 0 16", str(path)],
                capture_output=True,
                text=True,
            )
            assert MARKER[:8] in dump.stdout, dump.stdout
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
    cloud.cli("volume", "delete", vol.id)


@pytest.fixture
def pair() -> Iterator[Pair]:
    with libvirt_pair() as made:
        yield made
