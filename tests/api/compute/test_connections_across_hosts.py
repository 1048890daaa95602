"""A server's ports and volumes when its guest leaves a host or arrives on another, through
openstacksdk and the `openstack` CLI (fake driver, 3 hosts, network and volume services in
the same process), matching Nova:

- shelve offload clears each port's binding (binding:host_id '') but keeps device_id and
  device_owner, and terminates the volume connections (the attachments stay, reserved);
  unshelve on another host binds the ports and connects the volumes there.
- a volume-backed server is offloaded at once on shelve (no image; the root volume kept) and
  boots from its volume again on unshelve.
- rescue of a volume-backed server: 400 before 2.87; from 2.87 with a stable device rescue
  image (hw_rescue_bus, hw_rescue_device) the rescue image boots with the root volume kept.
- cold and live migration and evacuate move the volume attachments (the new host's
  connector) and the ports' binding to the destination.
- an agent restarted during soft-deleting finishes the soft delete.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.compute.test_servers import wait_for
from tests.api.compute.test_volume_attachments import attachments, wait_volume
from tests.cloud import running_cloud

V = ("--os-compute-api-version", "2.91")
ENV = {
    **FAKE_ENV,
    "MINISTACK_COMPUTE_SHELVED_OFFLOAD_TIME": "-1",
    "MINISTACK_COMPUTE_RECLAIM_INSTANCE_INTERVAL": "3600",
}


@pytest.fixture(scope="module")
def cc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("connections")
    services = (*SERVICES, "network", "volume")
    with running_cloud(tmp, services=services, extra_env=ENV) as cloud:
        c = prepare(cloud)
        net = c.conn.network.create_network(name="conn-net")
        c.conn.network.create_subnet(network_id=net.id, cidr="10.77.0.0/24", ip_version=4)
        yield c


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def net_id(c: Compute) -> str:
    return str(c.conn.network.find_network("conn-net").id)


def boot_on(c: Compute, host: str, **kw: Any) -> Any:
    server = c.conn.compute.create_server(
        name=_name("conn"),
        flavor_id=c.flavor_id,
        networks=[{"uuid": net_id(c)}],
        availability_zone=f"nova:{host}",
        **({"image_id": c.image_id} | kw),
    )
    return c.conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)


def add_volume(c: Compute, server_id: str) -> str:
    vol = c.conn.block_storage.create_volume(size=1, name=_name("data"))
    wait_volume(c, vol.id, "available")
    c.cloud.cli("server", "add", "volume", server_id, vol.id)
    wait_volume(c, vol.id, "in-use")
    return str(vol.id)


def port_of(c: Compute, server_id: str) -> Any:
    (port,) = list(c.conn.network.ports(device_id=server_id))
    return port


def guest_volumes(c: Compute, host: str, server_id: str) -> dict[str, str]:
    found: dict[str, str] = c.set_fake(host).get("volumes", {}).get(server_id, {})
    return found


def volume_attachment(c: Compute, volume_id: str) -> dict[str, Any]:
    """The volume's one attachment, as `openstack volume show` lists it."""
    shown = json.loads(c.cloud.cli("volume", "show", volume_id, "-f", "json").stdout)
    (att,) = shown["attachments"]
    return dict(att)


def assert_connected(c: Compute, server_id: str, host: str, volume_id: str, device: str) -> None:
    """The port bound to `host`, the volume in-use with `host`'s connector, the guest there
    holding the volume, os-volume_attachments listing it."""
    port = port_of(c, server_id)
    assert port.binding_host_id == host and port.device_id == server_id
    wait_volume(c, volume_id, "in-use")
    att = volume_attachment(c, volume_id)
    assert (att["server_id"], att["host_name"]) == (server_id, host)
    assert guest_volumes(c, host, server_id).get(device) == volume_id
    assert [a["volumeId"] for a in attachments(c, server_id)] == [volume_id]


def delete(c: Compute, server: Any, *volume_ids: str) -> None:
    c.conn.compute.delete_server(server, force=True)
    c.conn.compute.wait_for_delete(server, wait=60)
    for volume_id in volume_ids:
        wait_volume(c, volume_id, "available", "deleted")
        c.conn.block_storage.delete_volume(volume_id, ignore_missing=True)


def test_offload_unbinds_ports_and_disconnects_volumes_unshelve_reconnects(cc: Compute) -> None:
    c = cc
    first, second, _ = c.hosts
    server = boot_on(c, first)
    vol = add_volume(c, server.id)
    before = port_of(c, server.id)
    assert before.binding_host_id == first
    c.cloud.cli("server", "shelve", "--wait", server.id)
    c.conn.compute.shelve_offload_server(server)
    wait_for(c, server.id, status="SHELVED_OFFLOADED", task_state=None)

    port = port_of(c, server.id)
    assert port.binding_host_id == "" and port.device_id == server.id
    assert port.device_owner == before.device_owner  # still the server's (compute:<az>)
    wait_volume(c, vol, "reserved")  # its connection terminated, still the server's
    shown = json.loads(c.cloud.cli("volume", "show", vol, "-f", "json").stdout)
    assert shown["attachments"] == []  # Cinder lists attached ones only; this one is reserved
    assert [a["volumeId"] for a in attachments(c, server.id)] == [vol]
    assert server.id not in c.guests(first)

    c.set_fake(second, fail={"spawn": "no room"})
    try:  # a failed unshelve leaves nothing connected or bound on that host
        c.cloud.cli(*V, "server", "unshelve", "--host", second, server.id)
        wait_for(c, server.id, status="SHELVED_OFFLOADED", task_state=None)
        assert port_of(c, server.id).binding_host_id == ""
        assert wait_volume(c, vol, "reserved").id == vol
    finally:
        assert server.id not in c.guests(second)  # (this clears the failure)
    c.cloud.cli(*V, "server", "unshelve", "--host", second, "--wait", server.id)
    moved = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert moved.compute_host == second
    assert_connected(c, server.id, second, vol, "/dev/vdb")
    delete(c, server, vol)


def bfv_server(c: Compute, host: str) -> tuple[Any, str]:
    bdm = {
        "boot_index": 0,
        "uuid": c.image_id,
        "source_type": "image",
        "destination_type": "volume",
        "volume_size": 1,
        "delete_on_termination": False,
    }
    server = boot_on(c, host, image_id="", block_device_mapping=[bdm])
    (att,) = attachments(c, server.id)
    return server, str(att["volumeId"])


def test_volume_backed_server_offloads_at_once_and_boots_from_its_volume(cc: Compute) -> None:
    c = cc
    first, second, _ = c.hosts
    server, root = bfv_server(c, first)
    images = {i.id for i in c.conn.image.images()}
    c.cloud.cli("server", "shelve", server.id)  # this cloud keeps image-backed ones (-1)
    wait_for(c, server.id, status="SHELVED_OFFLOADED", task_state=None)
    assert {i.id for i in c.conn.image.images()} == images  # no snapshot of the root volume
    assert wait_volume(c, root, "reserved").id == root
    assert server.id not in c.guests(first)
    assert port_of(c, server.id).binding_host_id == ""

    c.cloud.cli(*V, "server", "unshelve", "--host", second, "--wait", server.id)
    wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=second)
    assert_connected(c, server.id, second, root, "/dev/vda")
    delete(c, server, root)


def rescue(c: Compute, server_id: str, version: str, **body: Any) -> Any:
    return c.api(
        "POST", f"/servers/{server_id}/action", version=version, json={"rescue": body or None}
    )


def test_rescue_of_a_volume_backed_server(cc: Compute) -> None:
    c = cc
    first = c.hosts[0]
    server, root = bfv_server(c, first)
    message = f"Instance {server.id} cannot be rescued: Cannot rescue a volume-backed instance"
    plain = c.conn.image.create_image(
        name=_name("rescue"), data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    stable = c.conn.image.create_image(
        name=_name("stable-rescue"),
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        hw_rescue_bus="virtio",
        hw_rescue_device="disk",
    )
    for version, body in (
        ("2.86", {"rescue_image_ref": stable.id}),
        ("2.87", {}),
        ("2.87", {"rescue_image_ref": plain.id}),
    ):
        resp = rescue(c, server.id, version, **body)
        assert resp.status_code == 400, (version, resp.text)
        assert resp.json()["badRequest"]["message"] == message
    assert wait_for(c, server.id, status="ACTIVE", task_state=None)

    c.cloud.cli(
        "--os-compute-api-version", "2.87", "server", "rescue", "--image", stable.id, server.id
    )
    wait_for(c, server.id, status="RESCUE", task_state=None)
    log = c.conn.compute.get_server_console_output(server)["output"]
    assert f"fake: rescue from image {stable.id}" in log
    assert f"fake: rescue keeps volume {root} attached" in log
    assert wait_volume(c, root, "in-use").id == root
    c.cloud.cli("server", "unrescue", server.id)
    wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert guest_volumes(c, first, server.id) == {"/dev/vda": root}
    delete(c, server, root)
    c.conn.image.delete_image(plain)
    c.conn.image.delete_image(stable)


def test_cold_and_live_migration_move_ports_and_volumes(cc: Compute) -> None:
    c = cc
    first, second, third = c.hosts
    server = boot_on(c, first)
    vol = add_volume(c, server.id)
    c.cloud.cli(*V, "server", "migrate", "--host", second, "--wait", server.id)
    wait_for(c, server.id, status="VERIFY_RESIZE", task_state=None)
    assert_connected(c, server.id, second, vol, "/dev/vdb")
    c.cloud.cli(*V, "server", "migrate", "revert", server.id)  # back to the source's connector
    wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=first)
    assert_connected(c, server.id, first, vol, "/dev/vdb")
    c.cloud.cli(*V, "server", "migrate", "--host", second, "--wait", server.id)
    wait_for(c, server.id, status="VERIFY_RESIZE", task_state=None)
    c.cloud.cli(*V, "server", "migrate", "confirm", server.id)
    wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=second)
    assert_connected(c, server.id, second, vol, "/dev/vdb")

    c.cloud.cli(*V, "server", "migrate", "--live-migration", "--host", third, "--wait", server.id)
    wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=third)
    assert_connected(c, server.id, third, vol, "/dev/vdb")
    delete(c, server, vol)


def test_evacuate_moves_ports_and_volumes(cc: Compute) -> None:
    c = cc
    source, target, _ = c.hosts
    server = boot_on(c, source)
    vol = add_volume(c, server.id)
    c.cloud.cli(*V, "compute", "service", "set", "--down", source, "nova-compute")
    try:
        c.cloud.cli(*V, "server", "evacuate", "--host", target, server.id)
        wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=target)
        assert_connected(c, server.id, target, vol, "/dev/vdb")
    finally:
        c.cloud.cli(*V, "compute", "service", "set", "--up", source, "nova-compute")
    for _ in range(300):  # the returning host reaps the evacuated guest
        if server.id not in c.guests(source):
            break
        time.sleep(0.1)
    delete(c, server, vol)


def test_restart_during_soft_delete_finishes_it(cc: Compute) -> None:
    c, cloud = cc, cc.cloud
    server = boot_on(c, c.hosts[0])
    cloud.stop()
    with sqlite3.connect(cloud.state_dir / "ministack.db") as db:
        changed = db.execute(
            "UPDATE compute_instances SET task_state = 'soft-deleting' WHERE uuid = ?",
            (server.id,),
        ).rowcount
    assert changed == 1
    cloud.start()
    c.conn = cloud.connect()
    done = wait_for(c, server.id, status="SOFT_DELETED", task_state=None)
    assert done.power_state == 4  # shutdown
    c.cloud.cli("server", "restore", server.id)
    wait_for(c, server.id, status="ACTIVE", task_state=None)
    delete(c, server)
