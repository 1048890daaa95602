"""Shelve, shelveOffload and unshelve, and soft delete with restore and forceDelete, through
the `openstack` CLI and openstacksdk (issue 15).

On the session cloud `shelved_offload_time` is Nova's default 0: a shelved server is offloaded
at once (no host, no placement allocation, no guest) and its disk kept as the image
`<name>-shelved`; unshelve schedules it again (to the zone or host the request names, 2.77 and
2.91) and deletes that image. A cloud with -1 keeps shelved servers on their host until
shelveOffload, and keeps deleted servers SOFT_DELETED (`reclaim_instance_interval`); one with
short times shows the periodic offload and reclaim.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_servers import boot, wait_for
from tests.cloud import running_cloud


def sysmeta(c: Compute, server_id: str) -> dict[str, Any]:
    """The instance's system_metadata, read from the cloud's database (no API shows it)."""
    with sqlite3.connect(c.cloud.state_dir / "ministack.db") as db:
        (raw,) = db.execute(
            "SELECT system_metadata FROM compute_instances WHERE uuid = ?", (server_id,)
        ).fetchone()
    found: dict[str, Any] = json.loads(raw)
    return found


def action(
    c: Compute, server_id: str, body: dict[str, Any], version: str = "2.38"
) -> httpx.Response:
    return c.api("POST", f"/servers/{server_id}/action", version=version, json=body)


def actions(c: Compute, server_id: str) -> list[str]:
    listed = c.api("GET", f"/servers/{server_id}/os-instance-actions").json()["instanceActions"]
    return [a["action"] for a in listed]


def image_status(c: Compute, image_id: str) -> int:
    resp = httpx.get(
        f"{c.cloud.url('image')}/v2/images/{image_id}",
        headers={"X-Auth-Token": c.conn.auth_token},
        timeout=30,
    )
    return resp.status_code


def shelve_cli(c: Compute, server_id: str, *more: str) -> Any:
    c.cloud.cli("server", "shelve", "--wait", *more, server_id)
    return c.conn.compute.get_server(server_id)


def assert_offloaded(c: Compute, server: Any, host: str) -> str:
    """Offloaded: no host, no allocation, no guest; the disk kept as `<name>-shelved`
    (its id in system_metadata); returns that image's id."""
    assert server.status == "SHELVED_OFFLOADED" and server.vm_state == "shelved_offloaded"
    assert server.compute_host is None and server.task_state is None
    assert c.allocations(server.id) == {}
    assert server.id not in c.guests(host)
    image_id = str(sysmeta(c, server.id)["shelved_image_id"])
    image = c.conn.image.get_image(image_id)
    assert image.name == f"{server.name}-shelved" and image.status == "active"
    assert image.instance_uuid == server.id
    return image_id


def test_shelve_offloads_at_once_and_unshelve_schedules_again(compute: Compute) -> None:
    c = compute
    server = boot(c)
    host = server.compute_host
    assert c.allocations(server.id)
    shelved = shelve_cli(c, server.id)
    image_id = assert_offloaded(c, shelved, host)
    assert {"shelve"} <= set(actions(c, server.id))

    c.cloud.cli("server", "unshelve", "--wait", server.id)
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.compute_host in c.hosts and back.power_state == 1
    assert list(c.allocations(server.id)) and server.id in c.guests(back.compute_host)
    assert image_status(c, image_id) == 404  # the shelved image is gone
    assert not {"shelved_image_id", "shelved_at", "shelved_host"} & set(sysmeta(c, server.id))
    assert "unshelve" in actions(c, server.id)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_shelve_and_unshelve_wrong_states_are_409(compute: Compute) -> None:
    c = compute
    server = boot(c)
    for name in ("shelveOffload", "unshelve"):
        resp = action(c, server.id, {name: None})
        assert resp.status_code == 409, resp.text
        message = resp.json()["conflictingRequest"]["message"]
        assert message == f"Cannot '{name}' instance {server.id} while it is in vm_state active"
    shelve_cli(c, server.id)
    resp = action(c, server.id, {"shelve": None})
    assert resp.status_code == 409, resp.text
    assert "vm_state shelved_offloaded" in resp.json()["conflictingRequest"]["message"]
    assert action(c, server.id, {"os-start": None}).status_code == 409
    image_id = str(sysmeta(c, server.id)["shelved_image_id"])
    c.conn.compute.delete_server(server)  # an offloaded server deletes with no host
    c.conn.compute.wait_for_delete(server, wait=60)
    assert image_status(c, image_id) == 404  # and takes its shelved image with it


def test_failed_shelve_and_unshelve_leave_the_server_as_it_was(compute: Compute) -> None:
    c = compute
    server = boot(c)
    host = server.compute_host
    c.set_fake(host, fail={"snapshot": "disk unreadable"})
    c.conn.compute.shelve_server(server)
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.power_state == 1 and back.compute_host == host
    assert server.id in c.guests(host)  # (this clears the failure)
    assert not list(c.conn.image.images(instance_uuid=server.id))  # its image deleted

    shelve_cli(c, server.id)
    image_id = str(sysmeta(c, server.id)["shelved_image_id"])
    for h in c.hosts:
        c.set_fake(h, fail={"spawn": "no room"})
    try:
        c.conn.compute.unshelve_server(server)
        again = wait_for(c, server.id, status="SHELVED_OFFLOADED", task_state=None)
        assert again.compute_host is None and c.allocations(server.id) == {}
        assert image_status(c, image_id) == 200  # kept for the next unshelve
    finally:
        for h in c.hosts:
            c.guests(h)
    c.conn.compute.unshelve_server(server)
    wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert image_status(c, image_id) == 404
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_unshelve_body_per_microversion(compute: Compute) -> None:
    c = compute
    server = boot(c)
    shelve_cli(c, server.id)
    bad = [
        ("2.77", {"unshelve": {}}),  # 2.77 requires availability_zone
        ("2.77", {"unshelve": {"host": c.hosts[0]}}),  # host only from 2.91
        ("2.91", {"unshelve": {"availability_zone": "nowhere"}}),
        ("2.91", {"unshelve": {"host": "no-such-host"}}),
        ("2.91", {"unshelve": {"flavor": "x"}}),
    ]
    for version, body in bad:
        resp = action(c, server.id, body, version)
        assert resp.status_code == 400, (version, body, resp.text)
        assert "badRequest" in resp.json()
    msgs = [action(c, server.id, b, v).json()["badRequest"]["message"] for v, b in bad[2:4]]
    assert msgs[0] == "The requested availability zone is not available"
    assert msgs[1] == "Compute host no-such-host could not be found."
    assert wait_for(c, server.id, status="SHELVED_OFFLOADED").compute_host is None

    target = c.hosts[2]
    version = ("--os-compute-api-version", "2.91")
    c.cloud.cli(*version, "server", "unshelve", "--host", target, "--wait", server.id)
    assert wait_for(c, server.id, status="ACTIVE", task_state=None).compute_host == target
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_unshelve_to_zone_and_unpinned(compute: Compute) -> None:
    c, cli = compute, compute.cloud.cli
    zone, name = f"az-{uuid.uuid4().hex[:4]}", f"agg-{uuid.uuid4().hex[:4]}"
    zoned = c.hosts[1]
    cli("aggregate", "create", "--zone", zone, name)
    cli("aggregate", "add", "host", name, zoned)
    try:
        server = boot(c)
        shelve_cli(c, server.id)
        resp = action(c, server.id, {"unshelve": {"availability_zone": zone}}, "2.77")
        assert resp.status_code == 202, resp.text
        back = wait_for(c, server.id, status="ACTIVE", task_state=None)
        assert back.compute_host == zoned and back.availability_zone == zone
        c.conn.compute.delete_server(server)

        pinned = boot(c, availability_zone=zone)
        assert pinned.compute_host == zoned
        shelve_cli(c, pinned.id)
        elsewhere = c.hosts[0]
        resp = action(c, pinned.id, {"unshelve": {"host": elsewhere}}, "2.91")
        assert resp.status_code == 409, resp.text
        assert resp.json()["conflictingRequest"]["message"] == (
            f'Host "{elsewhere}" is not in the availability zone "{zone}".'
        )
        body = {"unshelve": {"availability_zone": None, "host": elsewhere}}
        assert action(c, pinned.id, body, "2.91").status_code == 202
        assert wait_for(c, pinned.id, status="ACTIVE", task_state=None).compute_host == elsewhere
        c.conn.compute.delete_server(pinned)
        c.conn.compute.wait_for_delete(pinned, wait=60)
        c.conn.compute.wait_for_delete(server, wait=60)
    finally:
        cli("aggregate", "remove", "host", name, zoned)
        cli("aggregate", "delete", name)


def test_unshelve_to_host_and_shelve_offload_are_admin_only(compute: Compute) -> None:
    c = compute
    server = boot(c)
    shelve_cli(c, server.id)
    project = c.conn.identity.find_project("admin")
    user_name = f"member-{uuid.uuid4().hex[:6]}"
    user = c.conn.identity.create_user(name=user_name, password="pw-member-1", domain_id="default")
    c.conn.identity.assign_project_role_to_user(project, user, c.conn.identity.find_role("member"))
    token = httpx.post(
        f"{c.cloud.auth_url}/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user_name,
                            "password": "pw-member-1",
                            "domain": {"id": "default"},
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        },
        timeout=30,
    ).headers["X-Subject-Token"]
    headers = {"X-Auth-Token": token}
    resp = c.api(
        "POST",
        f"/servers/{server.id}/action",
        version="2.91",
        headers=headers,
        json={"unshelve": {"host": c.hosts[0]}},
    )
    assert resp.status_code == 403, resp.text
    resp = c.api(
        "POST",
        f"/servers/{server.id}/action",
        headers=headers,
        json={"shelveOffload": None},
    )
    assert resp.status_code == 403, resp.text  # shelveOffload is admin-only (Nova)
    assert wait_for(c, server.id, status="SHELVED_OFFLOADED").task_state is None
    resp = c.api(
        "POST",
        f"/servers/{server.id}/action",
        version="2.91",
        headers=headers,
        json={"unshelve": None},
    )
    assert resp.status_code == 202, resp.text
    wait_for(c, server.id, status="ACTIVE", task_state=None)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


KEEP_ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
    "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    "MINISTACK_COMPUTE_SHELVED_OFFLOAD_TIME": "-1",
    "MINISTACK_COMPUTE_RECLAIM_INSTANCE_INTERVAL": "3600",
}


@pytest.fixture(scope="module")
def keeping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    """One fake host; shelved servers stay on it, deleted ones stay restorable for an hour."""
    tmp: Path = tmp_path_factory.mktemp("keeping")
    with running_cloud(tmp, services=SERVICES, extra_env=KEEP_ENV) as cloud:
        yield prepare(cloud)


def test_shelved_server_keeps_its_host_until_offloaded(keeping: Compute) -> None:
    c = keeping
    server = boot(c)
    host = server.compute_host
    held = c.allocations(server.id)
    shelved = shelve_cli(c, server.id)
    assert shelved.status == "SHELVED" and shelved.compute_host == host
    assert shelved.power_state == 4 and c.allocations(server.id) == held
    assert server.id in c.guests(host)
    image_id = str(sysmeta(c, server.id)["shelved_image_id"])
    assert sysmeta(c, server.id)["shelved_host"] == host

    resp = action(c, server.id, {"unshelve": {"availability_zone": "nova"}}, "2.77")
    assert resp.status_code == 409, resp.text
    assert "The server status must be SHELVED_OFFLOADED" in resp.text
    c.cloud.cli("server", "unshelve", "--wait", server.id)
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.compute_host == host and back.power_state == 1
    assert image_status(c, image_id) == 404

    offloaded = shelve_cli(c, server.id, "--offload")  # shelves, then shelveOffload
    assert_offloaded(c, offloaded, host)
    assert {"shelve", "shelveOffload"} <= set(actions(c, server.id))
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_restart_during_offload_finishes_it(keeping: Compute) -> None:
    c, cloud = keeping, keeping.cloud
    server = boot(c)
    host = server.compute_host
    shelve_cli(c, server.id)
    cloud.stop()
    with sqlite3.connect(cloud.state_dir / "ministack.db") as db:
        changed = db.execute(
            "UPDATE compute_instances SET task_state = 'shelving_offloading' WHERE uuid = ?",
            (server.id,),
        ).rowcount
    assert changed == 1
    cloud.start()
    c.conn = cloud.connect()
    offloaded = wait_for(c, server.id, status="SHELVED_OFFLOADED", task_state=None)
    assert_offloaded(c, offloaded, host)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


PERIODIC_ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
    "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    "MINISTACK_COMPUTE_SHELVED_OFFLOAD_TIME": "1",
    "MINISTACK_COMPUTE_SHELVED_POLL_INTERVAL": "1",
    "MINISTACK_COMPUTE_RECLAIM_INSTANCE_INTERVAL": "1",
}


@pytest.fixture(scope="module")
def periodic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    """One fake host whose periodic passes offload and reclaim after a second."""
    tmp: Path = tmp_path_factory.mktemp("periodic")
    with running_cloud(tmp, services=SERVICES, extra_env=PERIODIC_ENV) as cloud:
        yield prepare(cloud)


def test_periodic_task_offloads_shelved_servers(periodic: Compute) -> None:
    c = periodic
    server = boot(c)
    host = server.compute_host
    c.conn.compute.shelve_server(server)
    offloaded = wait_for(c, server.id, status="SHELVED_OFFLOADED", task_state=None)
    assert_offloaded(c, offloaded, host)
    assert actions(c, server.id).count("shelve") == 1  # the periodic pass records no action
    c.conn.compute.unshelve_server(server)
    assert wait_for(c, server.id, status="ACTIVE", task_state=None).compute_host == host
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_delete_soft_deletes_then_restore_and_force_delete(keeping: Compute) -> None:
    c = keeping
    server = boot(c)
    host = server.compute_host
    held = c.allocations(server.id)
    used = c.quota_used()
    c.cloud.cli("server", "delete", server.id)
    kept = wait_for(c, server.id, status="SOFT_DELETED", task_state=None)
    assert kept.vm_state == "soft-delete" and kept.power_state == 4
    assert kept.compute_host == host and c.allocations(server.id) == held
    assert c.quota_used() == used and server.id in c.guests(host)
    listed = [s.id for s in c.conn.compute.servers(status="SOFT_DELETED")]
    assert listed == [server.id]

    resp = action(c, server.id, {"os-start": None})
    assert resp.status_code == 409, resp.text
    c.cloud.cli("server", "restore", server.id)
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.power_state == 1 and c.allocations(server.id) == held
    resp = action(c, server.id, {"restore": None})
    assert resp.status_code == 409, resp.text
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'restore' instance {server.id} while it is in vm_state active"
    )
    assert {"delete", "restore"} <= set(actions(c, server.id))

    c.conn.compute.delete_server(server)
    wait_for(c, server.id, status="SOFT_DELETED", task_state=None)
    resp = action(c, server.id, {"forceDelete": None})
    assert resp.status_code == 202, resp.text
    c.conn.compute.wait_for_delete(server, wait=60)
    assert c.allocations(server.id) == {} and server.id not in c.guests(host)


def test_force_delete_of_a_running_server(keeping: Compute) -> None:
    c = keeping
    server = boot(c)
    c.cloud.cli("server", "delete", "--force", server.id)
    c.conn.compute.wait_for_delete(server, wait=60)
    assert c.allocations(server.id) == {}


def test_periodic_task_reclaims_soft_deleted_servers(periodic: Compute) -> None:
    c = periodic
    server = boot(c)
    host = server.compute_host
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)  # SOFT_DELETED first, then reclaimed
    assert c.allocations(server.id) == {} and server.id not in c.guests(host)
    assert actions(c, server.id) == ["delete", "create"]
    assert "soft_deleted_at" in sysmeta(c, server.id)  # it was SOFT_DELETED first
