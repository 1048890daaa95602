"""Boot from volume (block_device_mapping_v2) against a real ministack (identity, image,
placement, compute with fake hosts, volume), driven by the unmodified `openstack` CLI and
openstacksdk: `--image I --boot-from-volume SIZE` makes a volume from the image, `--volume V`
boots an existing bootable volume, a snapshot source makes a volume from the snapshot; the
server shows image "" and its root volume at /dev/vda (the fake hypervisor holds it there);
delete detaches every volume and deletes those marked delete_on_termination. A volume that
cannot be made turns the server ERROR with a fault naming it and leaves no volume behind;
bad mappings are refused with Nova's 400s and make nothing."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.compute.test_volume_attachments import attachments, wait_volume
from tests.cloud import running_cloud
from tests.nothing_made import nothing_made

PASSWORD = "bfv-test-pw"


@pytest.fixture(scope="module")
def vc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("bfv")
    with running_cloud(tmp, services=(*SERVICES, "volume"), extra_env=FAKE_ENV) as cloud:
        yield prepare(cloud)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def wait_server(vc: Compute, server_id: str, *statuses: str) -> Any:
    for _ in range(600):
        found = vc.conn.compute.get_server(server_id)
        if found.status in statuses:
            return found
        time.sleep(0.1)
    raise AssertionError(
        f"server {server_id} never reached {statuses}: {found.status} {found.fault}"
    )


def project_volumes(vc: Compute) -> set[str]:
    return {v.id for v in vc.conn.block_storage.volumes()}


def root_device(vc: Compute, server_id: str) -> str | None:
    """The volume id the fake hypervisor holds as the guest's /dev/vda."""
    for host in vc.hosts:
        volumes = vc.set_fake(host).get("volumes", {})
        if server_id in volumes:
            found: str | None = volumes[server_id].get("/dev/vda")
            return found
    return None


def create(
    vc: Compute, bdms: list[dict[str, Any]], image: str = "", **extra: Any
) -> httpx.Response:
    body = {
        "server": {
            "name": _name("bfv"),
            "flavorRef": vc.flavor_id,
            "imageRef": image,
            "networks": "none",
            "block_device_mapping_v2": bdms,
            **extra,
        }
    }
    return vc.api("POST", "/servers", "2.67", json=body)


def bootable_volume(vc: Compute, size: int = 1) -> str:
    made = vc.conn.block_storage.create_volume(size=size, image_id=vc.image_id, name=_name("bv"))
    wait_volume(vc, made.id, "available")
    return str(made.id)


def test_cli_boot_from_image_to_new_volume(vc: Compute) -> None:
    cli = vc.cloud.cli
    before = project_volumes(vc)
    name = _name("cli-bfv")
    made = json.loads(
        cli(
            "server", "create", "--flavor", vc.flavor_id, "--image", "fake-image",
            "--boot-from-volume", "2", "--nic", "none", "--wait", name, "-f", "json",
        ).stdout
    )  # fmt: skip
    assert made["status"] == "ACTIVE"
    shown = json.loads(cli("server", "show", made["id"], "-f", "json").stdout)
    assert shown["image"] in ("", "N/A (booted from volume)"), shown["image"]
    raw = vc.api("GET", f"/servers/{made['id']}", "2.1").json()["server"]
    assert raw["image"] == ""
    new = project_volumes(vc) - before
    assert len(new) == 1
    root = new.pop()
    vol = vc.conn.block_storage.get_volume(root)
    assert (vol.status, vol.size, vol.is_bootable) == ("in-use", 2, True)
    assert vol.attachments[0]["server_id"] == made["id"]
    assert vol.attachments[0]["device"] == "/dev/vda"
    assert root_device(vc, made["id"]) == root
    assert raw["os-extended-volumes:volumes_attached"] == [{"id": root}]
    newer = vc.api("GET", f"/servers/{made['id']}", "2.79").json()["server"]
    assert newer["os-extended-volumes:volumes_attached"] == [
        {"id": root, "delete_on_termination": False}
    ]
    listed = attachments(vc, made["id"])
    assert [(a["volumeId"], a["device"]) for a in listed] == [(root, "/dev/vda")]
    # the root volume cannot be detached (Nova: 400)
    resp = vc.api("DELETE", f"/servers/{made['id']}/os-volume_attachments/{root}")
    assert resp.status_code == 400, resp.text
    cli("server", "delete", "--wait", made["id"])
    # delete_on_termination was not asked for: the volume stays, available
    assert not wait_volume(vc, root, "available").attachments
    vc.conn.block_storage.delete_volume(root)
    wait_volume(vc, root, "deleted")


def test_cli_boot_existing_volume_and_delete_on_termination(vc: Compute) -> None:
    cli = vc.cloud.cli
    vol = bootable_volume(vc)
    made = json.loads(
        cli(
            "server", "create", "--flavor", vc.flavor_id, "--volume", vol, "--nic", "none",
            "--wait", _name("cli-vol"), "-f", "json",
        ).stdout
    )  # fmt: skip
    assert made["status"] == "ACTIVE"
    wait_volume(vc, vol, "in-use")
    assert root_device(vc, made["id"]) == vol
    cli("server", "delete", "--wait", made["id"])
    wait_volume(vc, vol, "available")
    # delete_on_termination true: the made volume goes with the server
    resp = create(
        vc,
        [
            {
                "uuid": vc.image_id,
                "source_type": "image",
                "destination_type": "volume",
                "boot_index": 0,
                "volume_size": 1,
                "delete_on_termination": True,
            },
            {"uuid": vol, "source_type": "volume", "destination_type": "volume"},
        ],
    )
    assert resp.status_code == 202, resp.text
    server = wait_server(vc, resp.json()["server"]["id"], "ACTIVE")
    devices = {a["device"]: a["volumeId"] for a in attachments(vc, server.id)}
    assert set(devices) == {"/dev/vda", "/dev/vdb"} and devices["/dev/vdb"] == vol
    root = devices["/dev/vda"]
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, root, "deleted")
    wait_volume(vc, vol, "available")
    vc.conn.block_storage.delete_volume(vol)


def test_boot_from_snapshot(vc: Compute) -> None:
    vol = bootable_volume(vc)
    snap = vc.conn.block_storage.create_snapshot(volume_id=vol, name=_name("snap"))
    for _ in range(300):
        if vc.conn.block_storage.get_snapshot(snap.id).status == "available":
            break
        time.sleep(0.1)
    before = project_volumes(vc)
    resp = create(
        vc,
        [
            {
                "uuid": snap.id,
                "source_type": "snapshot",
                "destination_type": "volume",
                "boot_index": "0",
                "delete_on_termination": True,
            }
        ],
    )
    assert resp.status_code == 202, resp.text
    server = wait_server(vc, resp.json()["server"]["id"], "ACTIVE")
    (root,) = project_volumes(vc) - before
    made = vc.conn.block_storage.get_volume(root)
    assert made.snapshot_id == snap.id and made.status == "in-use"
    assert root_device(vc, server.id) == root
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, root, "deleted")
    vc.conn.block_storage.delete_snapshot(snap.id)
    for _ in range(300):
        if vc.conn.block_storage.find_snapshot(snap.id) is None:
            break
        time.sleep(0.1)
    vc.conn.block_storage.delete_volume(vol)


def test_volume_that_cannot_be_made_leaves_error_and_nothing(vc: Compute) -> None:
    """Over the project's volume quota (0): the server is ERROR with a
    fault naming the volume; no volume is left behind."""
    project = vc.conn.current_project_id
    vc.cloud.cli("quota", "set", "--volumes", "0", project)
    rows = json.loads(vc.cloud.cli("quota", "show", project, "-f", "json").stdout)
    shown = {r["Resource"]: r["Limit"] for r in rows}
    assert shown["volumes"] == 0, shown
    try:
        before = project_volumes(vc)
        resp = create(
            vc,
            [
                {
                    "uuid": vc.image_id,
                    "source_type": "image",
                    "destination_type": "volume",
                    "boot_index": 0,
                    "volume_size": 1,
                }
            ],
        )
        assert resp.status_code == 202, resp.text
        server = wait_server(vc, resp.json()["server"]["id"], "ERROR")
        fault = vc.api("GET", f"/servers/{server.id}").json()["server"]["fault"]["message"]
        assert "volume for /dev/vda" in fault and "quota" in fault.lower(), fault
        assert project_volumes(vc) == before
        assert attachments(vc, server.id) == []
        vc.conn.compute.delete_server(server)
        vc.conn.compute.wait_for_delete(server, wait=60)
    finally:
        vc.cloud.cli("quota", "set", "--volumes", "10", project)


def _bdm(source: str, ident: str, boot_index: int | None = 0, **extra: Any) -> dict[str, Any]:
    out = {"uuid": ident, "source_type": source, "destination_type": "volume", **extra}
    if boot_index is not None:
        out["boot_index"] = boot_index
    return out


UNKNOWN = str(uuid.UUID(int=7))
BAD: list[tuple[str, list[dict[str, Any]], str]] = [
    ("no boot index", [_bdm("volume", "VOL", None)], "Boot sequence"),
    ("not bootable", [_bdm("volume", "PLAIN")], "is not bootable"),
    ("unknown volume", [_bdm("volume", UNKNOWN)], "failed to get volume"),
    ("image without size", [_bdm("image", "IMAGE")], "non-zero size"),
    ("unknown image", [_bdm("image", UNKNOWN, volume_size=1)], "failed to get image"),
    ("unknown snapshot", [_bdm("snapshot", UNKNOWN)], "failed to get snapshot"),
    ("two roots", [_bdm("volume", "VOL"), _bdm("image", "IMAGE", volume_size=1)], "Boot sequence"),
    ("gap", [_bdm("volume", "VOL"), _bdm("image", "IMAGE", 2, volume_size=1)], "Boot sequence"),
]


@pytest.mark.parametrize(("case", "bdms", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_mappings_are_400_and_make_nothing(
    vc: Compute, bootables: dict[str, str], case: str, bdms: list[dict[str, Any]], message: str
) -> None:
    filled = [{k: bootables.get(v, v) if k == "uuid" else v for k, v in b.items()} for b in bdms]
    with nothing_made(vc):
        resp = create(vc, filled)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["badRequest"]["message"], resp.text


def test_volume_smaller_than_image_is_400(vc: Compute) -> None:
    big = vc.conn.image.create_image(
        name=_name("big"),
        data=b"\0" * (2 << 20),
        disk_format="raw",
        container_format="bare",
        min_disk=3,
    )
    bdm = {
        "uuid": big.id,
        "source_type": "image",
        "destination_type": "volume",
        "boot_index": 0,
        "volume_size": 2,
    }
    with nothing_made(vc):
        resp = create(vc, [bdm])
    assert resp.status_code == 400, resp.text
    assert "Volume is smaller than the minimum size" in resp.text


def test_other_projects_volume_is_refused(vc: Compute, bootables: dict[str, str]) -> None:
    """A member of another project cannot boot from this project's volume (400, as Nova:
    the volume service does not show it to them); the volume stays available."""
    admin, suffix = vc.conn, uuid.uuid4().hex[:6]
    project = admin.identity.create_project(name=f"bo-{suffix}", domain_id="default")
    user = admin.identity.create_user(name=f"bo-{suffix}", password=PASSWORD, domain_id="default")
    role = admin.identity.find_role("member", ignore_missing=False)
    admin.identity.assign_project_role_to_user(project, user, role)
    other = vc.cloud.connect(username=f"bo-{suffix}", password=PASSWORD, project=f"bo-{suffix}")
    mapping = {"uuid": bootables["VOL"], "source_type": "volume", "destination_type": "volume"}
    body = {
        "server": {
            "name": _name("steal"),
            "flavorRef": vc.flavor_id,
            "imageRef": "",
            "networks": "none",
            "block_device_mapping_v2": [{**mapping, "boot_index": 0}],
        }
    }
    resp = httpx.post(
        f"{vc.cloud.url('compute')}/v2.1/servers",
        json=body,
        headers={"X-Auth-Token": other.auth_token, "OpenStack-API-Version": "compute 2.67"},
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert "failed to get volume" in resp.text
    assert vc.conn.block_storage.get_volume(bootables["VOL"]).status == "available"


@pytest.fixture(scope="module")
def bootables(vc: Compute) -> Iterator[dict[str, str]]:
    vol = bootable_volume(vc)
    plain = vc.conn.block_storage.create_volume(size=1, name=_name("plain"))
    wait_volume(vc, plain.id, "available")
    yield {"VOL": vol, "PLAIN": str(plain.id), "IMAGE": vc.image_id}
    vc.conn.block_storage.delete_volume(vol)
    vc.conn.block_storage.delete_volume(plain.id)


def wait_snapshot(vc: Compute, snapshot_id: str) -> Any:
    for _ in range(300):
        found = vc.conn.block_storage.get_snapshot(snapshot_id)
        if found.status == "available":
            return found
        time.sleep(0.1)
    raise AssertionError(f"snapshot {snapshot_id} is {found.status}")


def test_snapshot_of_volume_backed_server_and_boot_from_it(vc: Compute) -> None:
    """`openstack server image create` of a volume-backed server: refused (409) while its
    guest runs; once stopped, a forced snapshot of its (in-use) volume, finished before the
    call returns, and an empty active image carrying the mapping, as Nova; a server booted
    from that image gets a new volume made from the snapshot."""
    cli = vc.cloud.cli
    resp = create(vc, [_bdm("image", vc.image_id, volume_size=1, delete_on_termination=True)])
    assert resp.status_code == 202, resp.text
    first = wait_server(vc, resp.json()["server"]["id"], "ACTIVE")
    (root,) = [a["volumeId"] for a in attachments(vc, first.id)]
    name = _name("snapimg")
    # a running guest writes its volume: no snapshot of it (409, nothing made)
    running = vc.api("POST", f"/servers/{first.id}/action", json={"createImage": {"name": name}})
    assert running.status_code == 409, running.text
    assert "stop the server" in running.json()["conflictingRequest"]["message"]
    assert list(vc.conn.block_storage.snapshots(volume_id=root)) == []
    assert list(vc.conn.image.images(name=name)) == []
    cli("server", "stop", first.id)
    wait_server(vc, first.id, "SHUTOFF")
    image = json.loads(
        cli("server", "image", "create", "--name", name, "--wait", first.id, "-f", "json").stdout
    )
    shown = vc.conn.image.get_image(image["id"])
    assert shown.status == "active" and shown.size == 0
    props = shown.properties
    assert props["bdm_v2"] == "True" and props["root_device_name"] == "/dev/vda"
    (mapping,) = json.loads(props["block_device_mapping"])
    assert mapping["source_type"] == "snapshot" and mapping["boot_index"] == 0
    snap = vc.conn.block_storage.get_snapshot(mapping["snapshot_id"])
    assert snap.volume_id == root
    assert snap.status == "available"  # copied before the server could start again
    assert wait_server(vc, first.id, "SHUTOFF").task_state is None
    assert vc.conn.block_storage.get_volume(root).status == "in-use"

    before = project_volumes(vc)
    made = json.loads(
        cli(
            "server", "create", "--flavor", vc.flavor_id, "--image", name, "--nic", "none",
            "--wait", _name("from-snap"), "-f", "json",
        ).stdout
    )  # fmt: skip
    assert made["status"] == "ACTIVE"
    (new_root,) = project_volumes(vc) - before
    new = vc.conn.block_storage.get_volume(new_root)
    assert new.snapshot_id == snap.id and new.status == "in-use"
    assert root_device(vc, made["id"]) == new_root
    assert vc.api("GET", f"/servers/{made['id']}", "2.1").json()["server"]["image"] == ""
    for server_id in (made["id"], first.id):
        cli("server", "delete", "--wait", server_id)
    wait_volume(vc, root, "deleted")
    wait_volume(vc, new_root, "deleted")
    vc.conn.block_storage.delete_snapshot(snap.id)
    vc.conn.image.delete_image(shown.id)


def test_resize_keeps_the_root_volume(vc: Compute) -> None:
    """A volume-backed guest recreated by a resize (on another fake host) still has its root
    volume at /dev/vda."""
    resp = create(vc, [_bdm("image", vc.image_id, volume_size=1, delete_on_termination=True)])
    assert resp.status_code == 202, resp.text
    server = wait_server(vc, resp.json()["server"]["id"], "ACTIVE")
    (root,) = [a["volumeId"] for a in attachments(vc, server.id)]
    bigger = vc.conn.compute.create_flavor(name=_name("big"), ram=128, vcpus=1, disk=0)
    body = {"resize": {"flavorRef": bigger.id}}
    assert vc.api("POST", f"/servers/{server.id}/action", json=body).status_code == 202
    wait_server(vc, server.id, "VERIFY_RESIZE")
    assert root_device(vc, server.id) == root
    body = {"confirmResize": None}
    assert vc.api("POST", f"/servers/{server.id}/action", json=body).status_code == 204
    wait_server(vc, server.id, "ACTIVE")
    assert root_device(vc, server.id) == root
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, root, "deleted")


def test_volume_that_fails_to_build_leaves_error_and_nothing(vc: Compute) -> None:
    """The volume service sets the boot volume to error (its image's stored file is damaged):
    the server is ERROR with a fault naming that volume, which is deleted."""
    image = vc.conn.image.create_image(
        name=_name("damaged"), data=b"\1" * 65536, disk_format="raw", container_format="bare"
    )
    (stored,) = [p for p in (vc.cloud.state_dir / "images").rglob("*") if p.name == image.id]
    with stored.open("r+b") as fh:
        fh.truncate(100)
    before = project_volumes(vc)
    resp = create(vc, [_bdm("image", image.id, volume_size=1)])
    assert resp.status_code == 202, resp.text
    server = wait_server(vc, resp.json()["server"]["id"], "ERROR")
    fault = vc.api("GET", f"/servers/{server.id}").json()["server"]["fault"]["message"]
    named = re.search(r"Volume ([0-9a-f-]{36}) did not become available", fault)
    assert named is not None, fault
    wait_volume(vc, named.group(1), "deleted")
    assert project_volumes(vc) == before
    assert attachments(vc, server.id) == []
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    vc.conn.image.delete_image(image.id)


def test_image_boot_with_a_second_boot_volume(vc: Compute, bootables: dict[str, str]) -> None:
    """imageRef plus a volume at boot index 1 (the image is index 0, as Nova orders it):
    the root disk is the image's, the volume is /dev/vdb and goes back to available."""
    vol = bootables["PLAIN"]
    resp = create(vc, [_bdm("volume", vol, 1)], image=vc.image_id)
    assert resp.status_code == 202, resp.text
    server = wait_server(vc, resp.json()["server"]["id"], "ACTIVE")
    assert [(a["volumeId"], a["device"]) for a in attachments(vc, server.id)] == [(vol, "/dev/vdb")]
    assert vc.api("GET", f"/servers/{server.id}").json()["server"]["image"]["id"] == vc.image_id
    vc.conn.compute.delete_server(server)
    vc.conn.compute.wait_for_delete(server, wait=60)
    wait_volume(vc, vol, "available")
