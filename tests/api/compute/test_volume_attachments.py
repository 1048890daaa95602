"""os-volume_attachments against a real ministack (identity, image, placement, compute with
fake hosts, volume): the unmodified `openstack` CLI adds, lists and removes a volume (the
volume goes in-use and back to available, both sides show the attachment), bad input leaves
nothing behind, a failed plug leaves the volume available, and deleting a server detaches
its volumes (deleting those marked delete_on_termination)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.compute.test_servers import boot
from tests.cloud import running_cloud
from tests.nothing_made import nothing_made

PASSWORD = "volatt-test-pw"


@pytest.fixture(scope="module")
def vc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("volatt")
    with running_cloud(tmp, services=(*SERVICES, "volume"), extra_env=FAKE_ENV) as cloud:
        yield prepare(cloud)


def volume(vc: Compute, size: int = 1) -> str:
    made = vc.conn.block_storage.create_volume(size=size, name=f"v-{uuid.uuid4().hex[:6]}")
    wait_volume(vc, made.id, "available")
    return str(made.id)


def wait_volume(vc: Compute, volume_id: str, *statuses: str) -> Any:
    """Poll until the volume has one of `statuses` ('deleted': until it is gone)."""
    for _ in range(300):
        found = vc.conn.block_storage.find_volume(volume_id)
        if found is None and "deleted" in statuses:
            return None
        if found is not None and found.status in statuses:
            return found
        time.sleep(0.1)
    raise AssertionError(f"volume {volume_id} never reached {statuses}: {found}")


def attachments(vc: Compute, server_id: str, version: str = "2.89") -> list[dict[str, Any]]:
    resp = vc.api("GET", f"/servers/{server_id}/os-volume_attachments", version=version)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["volumeAttachments"])


def attach(vc: Compute, server_id: str, volume_id: str, **extra: Any) -> httpx.Response:
    body = {"volumeAttachment": {"volumeId": volume_id, **extra}}
    return vc.api("POST", f"/servers/{server_id}/os-volume_attachments", "2.89", json=body)


def test_cli_add_list_remove_volume(vc: Compute) -> None:
    cli = vc.cloud.cli
    server = boot(vc)
    name = f"data-{uuid.uuid4().hex[:6]}"
    vol = json.loads(cli("volume", "create", "--size", "1", name, "-f", "json").stdout)
    wait_volume(vc, vol["id"], "available")

    cli("server", "add", "volume", server.id, name)
    wait_volume(vc, vol["id"], "in-use")
    listed = json.loads(cli("server", "volume", "list", server.id, "-f", "json").stdout)
    assert [(a["Volume ID"], a["Device"]) for a in listed] == [(vol["id"], "/dev/vdb")]
    shown = json.loads(cli("volume", "show", vol["id"], "-f", "json").stdout)
    assert [a["server_id"] for a in shown["attachments"]] == [server.id]
    assert shown["attachments"][0]["device"] == "/dev/vdb"
    (att,) = attachments(vc, server.id)
    assert att["attachment_id"] == shown["attachments"][0]["attachment_id"]
    assert att["bdm_uuid"] and "id" not in att and att["delete_on_termination"] is False

    cli("server", "remove", "volume", server.id, name)
    wait_volume(vc, vol["id"], "available")
    assert json.loads(cli("server", "volume", "list", server.id, "-f", "json").stdout) == []
    assert json.loads(cli("volume", "show", vol["id"], "-f", "json").stdout)["attachments"] == []
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    vc.conn.block_storage.delete_volume(vol["id"])


def test_microversion_views_and_tag(vc: Compute) -> None:
    server = boot(vc)
    vol = volume(vc)
    resp = attach(vc, server.id, vol, tag="data", delete_on_termination=True)
    assert resp.status_code == 200, resp.text
    made = resp.json()["volumeAttachment"]
    assert made["tag"] == "data" and made["delete_on_termination"] is True
    wait_volume(vc, vol, "in-use")
    (old,) = attachments(vc, server.id, version="2.1")
    assert old == {"id": vol, "volumeId": vol, "serverId": server.id, "device": "/dev/vdb"}
    put = vc.api(
        "PUT",
        f"/servers/{server.id}/os-volume_attachments/{vol}",
        "2.85",
        json={"volumeAttachment": {"volumeId": vol, "delete_on_termination": False}},
    )
    assert put.status_code == 202, put.text
    shown = vc.api("GET", f"/servers/{server.id}/os-volume_attachments/{vol}", "2.79").json()
    assert shown["volumeAttachment"]["delete_on_termination"] is False
    # the server's own view lists its volumes (os-extended-volumes), with the flag from 2.3
    key = "os-extended-volumes:volumes_attached"
    body = vc.api("GET", f"/servers/{server.id}", "2.1").json()["server"]
    assert body[key] == [{"id": vol}]
    body = vc.api("GET", f"/servers/{server.id}", "2.3").json()["server"]
    assert body[key] == [{"id": vol, "delete_on_termination": False}]
    listed = vc.api("GET", "/servers/detail", "2.3").json()["servers"]
    assert next(x for x in listed if x["id"] == server.id)[key] == body[key]
    assert [v.id for v in vc.conn.compute.get_server(server.id).attached_volumes] == [vol]
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, vol, "available")
    vc.conn.block_storage.delete_volume(vol)


def _other_project_volume(vc: Compute) -> str:
    admin = vc.conn
    suffix = uuid.uuid4().hex[:6]
    project = admin.identity.create_project(name=f"vo-{suffix}", domain_id="default")
    user = admin.identity.create_user(name=f"vo-{suffix}", password=PASSWORD, domain_id="default")
    role = admin.identity.find_role("member", ignore_missing=False)
    admin.identity.assign_project_role_to_user(project, user, role)
    other = vc.cloud.connect(username=f"vo-{suffix}", password=PASSWORD, project=f"vo-{suffix}")
    made = other.block_storage.create_volume(size=1, name="theirs")
    other.block_storage.wait_for_status(made, "available", wait=60, interval=0.2)
    return str(made.id)


def test_bad_attachments_leave_nothing(vc: Compute) -> None:
    first, second = boot(vc), boot(vc)
    vol = volume(vc)
    assert attach(vc, first.id, vol).status_code == 200
    wait_volume(vc, vol, "in-use")
    theirs = _other_project_volume(vc)
    with nothing_made(vc):
        taken = attach(vc, second.id, vol)
        assert taken.status_code == 400, taken.text
        assert "Invalid volume" in taken.json()["badRequest"]["message"]
        again = attach(vc, first.id, vol)
        assert again.status_code == 400, again.text
        unknown = attach(vc, second.id, str(uuid.uuid4()))
        assert unknown.status_code == 404, unknown.text
        foreign = attach(vc, second.id, theirs)
        assert foreign.status_code == 404, foreign.text
        bad = attach(vc, second.id, "not-a-uuid")
        assert bad.status_code == 400, bad.text
        gone = vc.api("DELETE", f"/servers/{second.id}/os-volume_attachments/{vol}")
        assert gone.status_code == 404, gone.text
    assert attachments(vc, second.id) == []
    for server in (first, second):
        vc.conn.compute.delete_server(server)
        vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, vol, "available")
    vc.conn.block_storage.delete_volume(vol)


def test_failed_plug_leaves_volume_available(vc: Compute) -> None:
    server = boot(vc)
    vol = volume(vc)
    host = vc.conn.compute.get_server(server.id).compute_host
    vc.set_fake(host, fail={"attach_volume": "no free PCI slot"})
    try:
        assert attach(vc, server.id, vol).status_code == 200
        for _ in range(300):
            if attachments(vc, server.id) == []:
                break
            time.sleep(0.1)
        assert attachments(vc, server.id) == []
        found = wait_volume(vc, vol, "available")
        assert not found.attachments
    finally:
        vc.set_fake(host)
    actions = vc.conn.compute.server_actions(server.id)
    attach_action = next(a for a in actions if a.action == "attach_volume")
    detail = vc.api("GET", f"/servers/{server.id}/os-instance-actions/{attach_action.request_id}")
    events = detail.json()["instanceAction"]["events"]
    assert any(e["result"] == "Error" for e in events), events
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    vc.conn.block_storage.delete_volume(vol)


def test_server_delete_detaches_and_deletes_on_termination(vc: Compute) -> None:
    server = boot(vc)
    keep, drop = volume(vc), volume(vc)
    assert attach(vc, server.id, keep).status_code == 200
    assert attach(vc, server.id, drop, delete_on_termination=True).status_code == 200
    wait_volume(vc, keep, "in-use")
    wait_volume(vc, drop, "in-use")
    devices = sorted(a["device"] for a in attachments(vc, server.id))
    assert devices == ["/dev/vdb", "/dev/vdc"]
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    assert not wait_volume(vc, keep, "available").attachments
    wait_volume(vc, drop, "deleted")
    vc.conn.block_storage.delete_volume(keep)


def virtual_size(vc: Compute, volume_id: str) -> int:
    path = vc.cloud.state_dir / "volumes" / f"volume-{volume_id}"
    done = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(done.stdout)["virtual-size"])


def test_extending_an_attached_volume_goes_through_its_host(vc: Compute) -> None:
    """volume-extended: the volume service tells the server's host, whose hypervisor grows
    the file it holds (the fake driver with qemu-img, libvirt with blockResize)."""
    server = boot(vc)
    vol = volume(vc)
    assert attach(vc, server.id, vol).status_code == 200
    wait_volume(vc, vol, "in-use")
    assert virtual_size(vc, vol) == 1 << 30
    vc.cloud.cli("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", vol)
    for _ in range(300):
        if virtual_size(vc, vol) == 2 << 30:
            break
        time.sleep(0.1)
    assert virtual_size(vc, vol) == 2 << 30
    found = wait_volume(vc, vol, "in-use")
    assert found.size == 2
    actions = vc.conn.compute.server_actions(server.id)
    request_id = next(a.request_id for a in actions if a.action == "extend_volume")
    detail = vc.api("GET", f"/servers/{server.id}/os-instance-actions/{request_id}", "2.51")
    events = {e["event"]: e["result"] for e in detail.json()["instanceAction"]["events"]}
    assert events.get("compute_extend_volume") == "Success", events
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, vol, "available")
    vc.conn.block_storage.delete_volume(vol)
