"""Bad input and failure: each case gets Glance's status, and nothing is left behind."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest

from tests.api.image.conftest import Env
from tests.image import formats
from tests.nothing_made import nothing_made

OCTET = {"Content-Type": "application/octet-stream"}
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def _create(env: Env, who: str = "admin", **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"err-{uuid.uuid4().hex[:6]}")
    body.setdefault("container_format", "bare")
    with env.http(who) as http:
        resp = http.post("/v2/images", json=body)
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


def _image_count(env: Env) -> int:
    with env.http() as http:
        return len(http.get("/v2/images", params={"limit": 1000}).json()["images"])


def _status(env: Env, image_id: str) -> str:
    with env.http() as http:
        status: str = http.get(f"/v2/images/{image_id}").json()["status"]
        return status


@pytest.mark.parametrize(
    ("declared", "data", "reason"),
    [
        ("qcow2", b"\0" * 100_000, "is raw, but disk_format is qcow2"),
        ("raw", formats.qcow2(), "is qcow2, but disk_format is raw"),
        ("qcow2", formats.qcow2(backing=b"/etc/passwd"), "backing file"),
        ("qcow2", formats.qcow2(data_file_bit=True), "external data file"),
        ("vmdk", formats.vmdk_flat_descriptor(), "text descriptor"),
        ("vhd", formats.vdi(), "is vdi"),
        # declared formats the content cannot be: the qcow2 is refused whatever it claims
        ("ami", formats.qcow2(backing=b"/etc/passwd"), "is qcow2, but disk_format is ami"),
        ("aki", formats.qcow2(backing=b"/etc/passwd"), "is qcow2, but disk_format is aki"),
        ("ari", formats.qcow2(data_file_bit=True), "is qcow2, but disk_format is ari"),
        ("raw", formats.qcow2(backing=b"/etc/passwd"), "is qcow2, but disk_format is raw"),
        ("ploop", formats.qcow2(backing=b"/etc/passwd"), "backing file"),
        ("qcow2@ova", formats.qcow2(backing=b"/etc/passwd"), "backing file"),
    ],
)
def test_wrong_or_unsafe_format_is_400_and_stores_nothing(
    image_env: Env, declared: str, data: bytes, reason: str
) -> None:
    declared, _, container = declared.partition("@")
    image = _create(image_env, disk_format=declared, container_format=container or "bare")
    before = image_env.stored_files()
    with nothing_made(image_env.cloud), image_env.http() as http:
        resp = http.put(f"/v2/images/{image['id']}/file", content=data, headers=OCTET)
        assert resp.status_code == 400
        assert reason in resp.json()["error"]["message"]
    shown = image_env.admin.image.get_image(image["id"])
    assert shown.status == "queued"
    assert shown.checksum is None and shown.size is None
    assert image_env.stored_files() == before
    image_env.admin.image.delete_image(image["id"])


def test_upload_to_an_active_image_is_409(image_env: Env) -> None:
    image = _create(image_env, disk_format="raw")
    with image_env.http() as http:
        assert (
            http.put(f"/v2/images/{image['id']}/file", content=b"a" * 10, headers=OCTET).status_code
            == 204
        )
        before = image_env.stored_files()
        again = http.put(f"/v2/images/{image['id']}/file", content=b"b" * 10, headers=OCTET)
        assert again.status_code == 409
        assert http.get(f"/v2/images/{image['id']}/file").content == b"a" * 10
    assert image_env.stored_files() == before
    image_env.admin.image.delete_image(image["id"])


def test_upload_without_formats_is_400(image_env: Env) -> None:
    with image_env.http() as http:
        image = http.post("/v2/images", json={"name": "noformat"}).json()
        with nothing_made(image_env.cloud):
            resp = http.put(f"/v2/images/{image['id']}/file", content=b"x", headers=OCTET)
            assert resp.status_code == 400
            assert "disk_format" in resp.json()["error"]["message"]
        assert _status(image_env, image["id"]) == "queued"
        http.delete(f"/v2/images/{image['id']}")


def test_download_of_a_queued_image_is_204(image_env: Env) -> None:
    image = _create(image_env, disk_format="raw")
    with image_env.http() as http:
        resp = http.get(f"/v2/images/{image['id']}/file")
    assert resp.status_code == 204 and resp.content == b""
    image_env.admin.image.delete_image(image["id"])


@pytest.mark.parametrize(
    "attr", ["id", "status", "checksum", "size", "virtual_size", "os_hash_value", "created_at"]
)
def test_patch_of_a_read_only_attribute_is_403(image_env: Env, attr: str) -> None:
    image = _create(image_env, disk_format="raw")
    with nothing_made(image_env.cloud), image_env.http() as http:
        resp = http.patch(
            f"/v2/images/{image['id']}",
            headers=PATCH,
            json=[{"op": "replace", "path": f"/{attr}", "value": "x"}],
        )
        assert resp.status_code == 403
        assert f"'{attr}' is read-only" in resp.json()["error"]["message"]
        assert http.get(f"/v2/images/{image['id']}").json() == image
    image_env.admin.image.delete_image(image["id"])


def test_read_only_attribute_in_create_is_403_and_creates_nothing(image_env: Env) -> None:
    before = _image_count(image_env)
    with nothing_made(image_env.cloud), image_env.http() as http:
        resp = http.post("/v2/images", json={"name": "x", "status": "active"})
        assert resp.status_code == 403
    assert _image_count(image_env) == before


def test_bad_values_are_400_and_create_nothing(image_env: Env) -> None:
    before = _image_count(image_env)
    with nothing_made(image_env.cloud), image_env.http() as http:
        for body in (
            {"disk_format": "floppy"},
            {"container_format": "zip"},
            {"visibility": "everyone"},
            {"name": "n" * 256},
            {"min_ram": -1},
            {"protected": "yes"},
            {"custom": 5},
            {"tags": "not-a-list"},
        ):
            resp = http.post("/v2/images", json=body)
            assert resp.status_code == 400, body
        assert http.post("/v2/images", content=b"{nope").status_code == 400
    assert _image_count(image_env) == before


def test_patch_needs_the_json_patch_media_type(image_env: Env) -> None:
    image = _create(image_env, disk_format="raw")
    with image_env.http() as http:
        resp = http.patch(
            f"/v2/images/{image['id']}", json=[{"op": "replace", "path": "/name", "value": "x"}]
        )
    assert resp.status_code == 415
    image_env.admin.image.delete_image(image["id"])


def test_deleting_a_protected_image_is_403(image_env: Env) -> None:
    image = _create(image_env, disk_format="raw", protected=True)
    with image_env.http() as http:
        assert (
            http.put(
                f"/v2/images/{image['id']}/file", content=b"p" * 100, headers=OCTET
            ).status_code
            == 204
        )
        resp = http.delete(f"/v2/images/{image['id']}")
        assert resp.status_code == 403
        assert "protected" in resp.json()["error"]["message"]
        assert _status(image_env, image["id"]) == "active"
        assert image["id"] in image_env.stored_files()
        http.patch(
            f"/v2/images/{image['id']}",
            headers=PATCH,
            json=[{"op": "replace", "path": "/protected", "value": False}],
        )
        assert http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert image["id"] not in image_env.stored_files()


def test_client_disconnect_mid_upload_leaves_nothing(image_env: Env) -> None:
    image = _create(image_env, disk_format="raw")
    before = image_env.stored_files()
    port = image_env.cloud.ports["image"]
    head = (
        f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-Auth-Token: {image_env.admin_token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {64 << 20}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        for _ in range(8):
            sock.sendall(b"\xab" * (1 << 20))
        deadline = time.monotonic() + 30
        while _status(image_env, image["id"]) != "saving" and time.monotonic() < deadline:
            time.sleep(0.05)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        _status(image_env, image["id"]) != "queued" or image_env.stored_files() != before
    ):
        time.sleep(0.1)
    assert _status(image_env, image["id"]) == "queued"
    assert image_env.stored_files() == before  # no partial file, no temp file
    # and the image still accepts a complete upload
    with image_env.http() as http:
        assert (
            http.put(f"/v2/images/{image['id']}/file", content=b"ok", headers=OCTET).status_code
            == 204
        )
    image_env.admin.image.delete_image(image["id"])


def test_unknown_image_and_bad_marker(image_env: Env) -> None:
    with image_env.http() as http:
        assert http.get(f"/v2/images/{uuid.uuid4()}").status_code == 404
        assert http.get("/v2/images", params={"marker": str(uuid.uuid4())}).status_code == 400
        assert http.get("/v2/images", params={"sort_key": "nope"}).status_code == 400
        assert http.get("/v2/images", params={"limit": "x"}).status_code == 400
        assert http.delete(f"/v2/images/{uuid.uuid4()}").status_code == 404
