"""Rebuild of a volume-backed server (Nova 2.93) against a real ministack (fake hosts, the
volume service's file backend), driven by the unmodified `openstack` CLI: the new image is
written onto the root volume (Cinder's os-reimage, the volume-reimaged event), the server is
ACTIVE again with image "" and the same root volume, whose data and volume_image_metadata are
the new image's. Before 2.93 another image is Nova's 400 and the volume's own image is a
rebuild that leaves the disk alone. A re-image that fails turns the server ERROR with the
cause as its fault and the volume back in use with its old data; bad input is 4xx and makes
nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.compute.test_boot_from_volume import _bdm, create, root_device, wait_server
from tests.api.compute.test_volume_attachments import attachments, wait_volume
from tests.api.volume.conftest import read_volume
from tests.cloud import running_cloud
from tests.nothing_made import nothing_made

MiB = 1 << 20


@pytest.fixture(scope="module")
def vc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("bfvrebuild")
    with running_cloud(tmp, services=(*SERVICES, "volume"), extra_env=FAKE_ENV) as cloud:
        yield prepare(cloud)


def _image(vc: Compute, pattern: int, **props: Any) -> str:
    """A raw image whose first MiB is `pattern`."""
    image = vc.conn.image.create_image(
        name=f"reimage-{uuid.uuid4().hex[:6]}",
        data=bytes([pattern]) * MiB,
        disk_format="raw",
        container_format="bare",
        **props,
    )
    return str(image.id)


def _server(vc: Compute) -> tuple[str, str]:
    """A volume-backed server (its root volume made from the cloud's image, deleted with it);
    returns the server's and its root volume's ids."""
    resp = create(vc, [_bdm("image", vc.image_id, volume_size=1, delete_on_termination=True)])
    assert resp.status_code == 202, resp.text
    server = wait_server(vc, resp.json()["server"]["id"], "ACTIVE")
    (root,) = [a["volumeId"] for a in attachments(vc, server.id)]
    return str(server.id), str(root)


def _delete(vc: Compute, server_id: str, root: str) -> None:
    vc.cloud.cli("server", "delete", "--wait", server_id)
    wait_volume(vc, root, "deleted")


def _image_meta(vc: Compute, volume_id: str) -> dict[str, str]:
    shown = json.loads(vc.cloud.cli("volume", "show", volume_id, "-f", "json").stdout)
    meta: dict[str, str] = shown["volume_image_metadata"]
    return meta


def test_cli_rebuild_at_2_93_reimages_the_root_volume(vc: Compute) -> None:
    server_id, root = _server(vc)
    assert read_volume(vc.cloud, root) == bytes(MiB)
    new = _image(vc, 0x7A)
    vc.cloud.cli(
        "--os-compute-api-version", "2.93", "server", "rebuild", "--reimage-boot-volume",
        "--image", new, "--wait", server_id,
    )  # fmt: skip
    raw = vc.api("GET", f"/servers/{server_id}", "2.93").json()["server"]
    assert (raw["status"], raw["OS-EXT-STS:task_state"], raw["image"]) == ("ACTIVE", None, "")
    assert [a["volumeId"] for a in attachments(vc, server_id)] == [root]
    assert root_device(vc, server_id) == root
    assert wait_volume(vc, root, "in-use").attachments[0]["server_id"] == server_id
    assert _image_meta(vc, root)["image_id"] == new
    assert read_volume(vc.cloud, root) == bytes([0x7A]) * MiB
    # the action's event records the rebuild as done
    actions = vc.api("GET", f"/servers/{server_id}/os-instance-actions", "2.93").json()
    assert actions["instanceActions"][0]["action"] == "rebuild"
    # 2.92: another image is Nova's 400 and changes nothing
    other = _image(vc, 0x11)
    body = {"rebuild": {"imageRef": other}}
    with nothing_made(vc):
        refused = vc.api("POST", f"/servers/{server_id}/action", "2.92", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["badRequest"]["message"] == (
        f"Image {other} is unacceptable: Unable to rebuild with a different image for a "
        "volume-backed server."
    )
    # 2.92 with the root volume's own image: rebuilt, the disk left alone
    body = {"rebuild": {"imageRef": new}}
    resp = vc.api("POST", f"/servers/{server_id}/action", "2.92", json=body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["server"]["image"] == ""
    wait_server(vc, server_id, "ACTIVE")
    assert root_device(vc, server_id) == root
    assert read_volume(vc.cloud, root) == bytes([0x7A]) * MiB
    _delete(vc, server_id, root)
    for image in (new, other):
        vc.conn.image.delete_image(image)


def test_failing_reimage_is_error_with_its_cause(vc: Compute) -> None:
    """The new image's stored file is damaged: the volume service fails the re-image (event
    volume-reimaged, failed); the server is ERROR with a fault naming the volume and the
    cause, the volume is not left downloading but in use again with its old data, and a
    rebuild with a good image then brings the server back."""
    server_id, root = _server(vc)
    damaged = _image(vc, 0x42)
    (stored,) = [p for p in (vc.cloud.state_dir / "images").rglob("*") if p.name == damaged]
    with stored.open("r+b") as fh:
        fh.truncate(100)
    body = {"rebuild": {"imageRef": damaged}}
    resp = vc.api("POST", f"/servers/{server_id}/action", "2.93", json=body)
    assert resp.status_code == 202, resp.text
    wait_server(vc, server_id, "ERROR")
    fault = vc.api("GET", f"/servers/{server_id}", "2.93").json()["server"]["fault"]["message"]
    assert f"Re-image of volume {root} failed" in fault, fault
    assert "checksum" in fault, fault
    assert wait_volume(vc, root, "in-use").status == "in-use"
    assert _image_meta(vc, root)["image_id"] == vc.image_id
    assert read_volume(vc.cloud, root) == bytes(MiB)
    good = _image(vc, 0x5C)
    body = {"rebuild": {"imageRef": good}}
    resp = vc.api("POST", f"/servers/{server_id}/action", "2.93", json=body)
    assert resp.status_code == 202, resp.text
    wait_server(vc, server_id, "ACTIVE")
    assert root_device(vc, server_id) == root
    assert read_volume(vc.cloud, root) == bytes([0x5C]) * MiB
    _delete(vc, server_id, root)
    for image in (damaged, good):
        vc.conn.image.delete_image(image)


def test_bad_rebuild_input_is_400_and_makes_nothing(vc: Compute) -> None:
    server_id, root = _server(vc)
    too_big = _image(vc, 0x01, min_disk=5)
    cases = [
        (str(uuid.uuid4()), "could not be found"),
        (too_big, "Volume is smaller than the minimum size specified in image metadata"),
    ]
    with nothing_made(vc):
        for image, message in cases:
            body = {"rebuild": {"imageRef": image}}
            resp = vc.api("POST", f"/servers/{server_id}/action", "2.93", json=body)
            assert resp.status_code == 400, resp.text
            assert message in resp.json()["badRequest"]["message"], resp.text
    assert wait_server(vc, server_id, "ACTIVE").task_state is None
    assert wait_volume(vc, root, "in-use").status == "in-use"
    _delete(vc, server_id, root)
    vc.conn.image.delete_image(too_big)
