"""Cold migration between two libvirt hosts keeps the guest's disk (issue 15).

Two `ministack compute` processes with the libvirt driver, each with its own host name,
state directory, instances path and image cache, joined to the controller over the bus and
the database only (as in test_second_host_libvirt.py). They must not share a libvirt domain
namespace (an instance has the same domain uuid on both hosts while it waits for confirm), so
one uses the system libvirtd and the other root's session daemon, as two machines would.

The guest's user data mounts its boot disk's FAT partition and writes a token there on the
first boot, or prints the token it finds: after `openstack server migrate` the guest on the
other host prints the token the source's disk held (a disk made afresh from the image would
write it again), and confirm leaves no migration image behind and the source's domain gone.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from ministack.compute.guestimage import BANNER_PREFIX
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.api.compute.test_second_host import host2_env
from tests.cloud import Cloud
from tests.e2e.test_second_host_libvirt import controller, wait_up  # noqa: F401  (fixture)
from tests.e2e.test_servers_libvirt import wait_banner, wait_status

pytestmark = pytest.mark.e2e

MARK = "/mnt/disk/migration-mark"
USER_DATA = f"""#!/bin/sh
mkdir -p /mnt/disk
mount -t vfat /dev/vda1 /mnt/disk || echo "mark: no disk"
if [ -f {MARK} ]; then
    echo "mark: found $(cat {MARK})"
else
    echo "TOKEN" > {MARK} && sync && echo "mark: written $(cat {MARK})"
fi
umount /mnt/disk
"""


@contextmanager
def libvirt_host(cloud: Cloud, host: str, uri: str) -> Iterator[Path]:
    """A libvirt compute host in its own process; yields its state directory."""
    state = cloud.state_dir.parent / host
    env, _ = host2_env(cloud, host, state)
    state.chmod(0o755)
    env.update(
        MINISTACK_COMPUTE_VIRT_DRIVER="libvirt",
        MINISTACK_LIBVIRT_URI=uri,
        MINISTACK_LIBVIRT_INSTANCES_PATH=str(state / "instances"),
        MINISTACK_LIBVIRT_IMAGE_CACHE_PATH=str(state / "imagecache"),
    )
    log = state / "compute.log"
    with log.open("ab") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "ministack", "compute"], env=env, stdout=out, stderr=out
        )
    try:
        wait_up(cloud.connect(), host, log)
        yield state
    finally:
        agent.terminate()
        agent.wait(30)


def settled(conn: Any, server: Any, status: str, *states: Path) -> Any:
    """The server once `status` with no task; on failure its fault and the hosts' logs."""
    try:
        return wait_status(conn, server, status)
    except AssertionError as exc:
        fault = conn.compute.get_server(server.id).fault
        logs = "\n".join((s / "compute.log").read_text()[-3000:] for s in states)
        raise AssertionError(f"{exc}; fault {fault}\n{logs}") from None


def domains(uri: str) -> str:
    done = subprocess.run(
        ["virsh", "-c", uri, "list", "--all", "--uuid"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def migration_images(cloud: Cloud, server_id: str) -> list[dict[str, Any]]:
    """The server's migration images: hidden (os_hidden), so listed with --hidden."""
    out = cloud.cli(
        "image", "list", "--hidden", "--property", f"instance_uuid={server_id}", "--long",
        "-f", "json",
    ).stdout  # fmt: skip
    return [i for i in json.loads(out) if i.get("Name", "").startswith("migration-")]


def test_cold_migrate_between_libvirt_hosts_keeps_the_disk(controller: Cloud) -> None:  # noqa: F811
    cloud = controller
    base = cloud.env["MINISTACK_DEFAULT_HOST"]
    source, target = f"{base}-lva", f"{base}-lvb"
    token = uuid.uuid4().hex
    conn = cloud.connect()
    with ExitStack() as stack:
        src_state = stack.enter_context(libvirt_host(cloud, source, "qemu:///system"))
        dst_state = stack.enter_context(libvirt_host(cloud, target, "qemu:///session"))
        image = conn.image.find_image("ministack-test", ignore_missing=False)
        flavor = conn.compute.find_flavor("h2.small", ignore_missing=False)
        server = conn.compute.create_server(
            name="mover",
            image_id=image.id,
            flavor_id=flavor.id,
            networks="none",
            availability_zone=f"nova:{source}",
            user_data=base64.b64encode(USER_DATA.replace("TOKEN", token).encode()).decode(),
        )
        server = wait_status(conn, server, "ACTIVE")
        assert server.compute_host == source
        first = wait_banner(conn, server)
        assert f"mark: written {token}" in first, first[-2000:]

        cloud.cli(
            "--os-compute-api-version", "2.56", "server", "migrate", "--host", target, server.id
        )
        moved = settled(conn, server, "VERIFY_RESIZE", src_state, dst_state)
        assert moved.compute_host == target
        assert len(migration_images(cloud, server.id)) == 1
        again = wait_banner(conn, moved)
        assert f"mark: found {token}" in again, again[-2000:]
        assert "mark: written" not in again
        assert server.id in domains("qemu:///session")

        cloud.cli("server", "migrate", "confirm", server.id)
        done = wait_status(conn, server, "ACTIVE")
        assert done.compute_host == target
        assert migration_images(cloud, server.id) == []
        assert server.id not in domains("qemu:///system")  # the source's guest is gone
        assert not (src_state / "instances" / server.id).exists()
        assert BANNER_PREFIX in wait_banner(conn, done)

        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
        assert server.id not in domains("qemu:///session")
        assert not (dst_state / "instances" / server.id).exists()
