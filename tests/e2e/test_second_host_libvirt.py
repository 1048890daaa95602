"""A second compute host with the libvirt driver in its own process (`ministack compute`, its
own host name, state directory, instances path and image cache; the same libvirtd), joined to
the controller over RabbitMQ and PostgreSQL with only the identity URL and the service users'
passwords. It downloads the image over HTTP (the bytes in its cache are the image's), boots a
real guest, uploads a snapshot over HTTP that is byte-identical to the disk it flattened, and
delete leaves nothing on the host."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ministack.compute.guestimage import BANNER_PREFIX
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.api.compute.test_second_host import host2_env
from tests.cloud import Cloud, running_cloud
from tests.e2e.test_servers_libvirt import (
    REPO,
    URI,
    domstate,
    virsh,
    wait_banner,
    wait_status,
)

pytestmark = pytest.mark.e2e

SERVICES = ("identity", "image", "placement", "compute")


@pytest.fixture
def controller(vhost: str) -> Iterator[Cloud]:  # noqa: F811
    """The controller (one fake host of its own) with the test image seeded; its state under
    /var/tmp (0755) as QEMU runs as libvirt-qemu and must reach the second host's disks."""
    if subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode != 0:
        done = subprocess.run(
            ["bash", str(REPO / "scripts/test.d/libvirt.sh")], capture_output=True, text=True
        )
        assert done.returncode == 0, f"could not start libvirtd: {done.stderr}"
    tmp = Path(tempfile.mkdtemp(prefix="ministack-e2e-host2-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_MESSAGING_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
    }
    try:
        with running_cloud(tmp / "controller", "postgresql", SERVICES, env) as cloud:
            cloud.ministack("seed")
            cloud.cli("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "h2.small")
            yield cloud
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sha512(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha512").hexdigest()


def wait_up(conn: Any, host: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(s.host == host and s.state == "up" for s in conn.compute.services()):
            return
        time.sleep(0.5)
    raise AssertionError(f"{host} never came up:\n{log.read_text()[-3000:]}")


def test_second_libvirt_host_boots_from_http_image_and_snapshots(controller: Cloud) -> None:
    host2 = f"{controller.env['MINISTACK_DEFAULT_HOST']}-lv2"
    state = controller.state_dir.parent / "host2"
    env, _ = host2_env(controller, host2, state)
    state.chmod(0o755)
    env.update(
        MINISTACK_COMPUTE_VIRT_DRIVER="libvirt",
        MINISTACK_LIBVIRT_INSTANCES_PATH=str(state / "instances"),
        MINISTACK_LIBVIRT_IMAGE_CACHE_PATH=str(state / "imagecache"),
    )
    conn = controller.connect()
    log = state / "compute.log"
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "ministack", "compute"], env=env, stdout=out, stderr=out
        )
    try:
        wait_up(conn, host2, log)
        image = conn.image.find_image("ministack-test", ignore_missing=False)
        flavor = conn.compute.find_flavor("h2.small", ignore_missing=False)
        server = conn.compute.create_server(
            name="on-host2",
            image_id=image.id,
            flavor_id=flavor.id,
            networks="none",
            availability_zone=f"nova:{host2}",
        )
        server = wait_status(conn, server, "ACTIVE")
        assert server.compute_host == host2
        assert f"{BANNER_PREFIX} hostname=on-host2" in wait_banner(conn, server)
        assert domstate(server.id) == "running"
        # the base image came over HTTP into host2's own cache, byte for byte
        cached = state / "imagecache" / hashlib.sha1(image.id.encode()).hexdigest()
        assert image.disk_format == "qcow2" and sha512(cached) == image.hash_value

        conn.compute.stop_server(server)
        wait_status(conn, server, "SHUTOFF")
        snap = conn.compute.create_server_image(server, "host2-snap", wait=True, timeout=300)
        snap = conn.image.get_image(snap.id)
        saved = state / "saved.qcow2"
        controller.cli("image", "save", "--file", str(saved), snap.id)
        # what host2's driver flattened (the same conversion of the stopped guest's disk)
        mine = state / "flattened.qcow2"
        disk = state / "instances" / server.id / "disk"
        subprocess.run(
            ["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", str(disk), str(mine)],
            check=True,
        )
        assert sha512(saved) == snap.hash_value == sha512(mine)
        assert snap.owner == server.project_id and snap.status == "active"

        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
        assert f"instance-{server.id}" not in virsh("list", "--all", "--name")
        assert not (state / "instances" / server.id).exists()
        conn.image.delete_image(snap)
    finally:
        agent.terminate()
        agent.wait(30)
