"""Image data in the object store, and several stores (Glance multi-store): `[image] store =
"object"` with `stores = "file,object"`, driven with openstacksdk, the `openstack` CLI and raw
HTTP against a cloud running identity, image, object storage and compute (fake driver)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest

from tests.cloud import Cloud, running_cloud

SERVICES = ("identity", "image", "object", "placement", "compute")
ENV = {
    "MINISTACK_IMAGE_STORE": "object",
    "MINISTACK_IMAGE_STORES": "file,object",
    "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    tmp: Path = tmp_path_factory.mktemp("stores")
    with running_cloud(tmp, services=SERVICES, extra_env=ENV) as running:
        yield running


@pytest.fixture(scope="module")
def conn(cloud: Cloud) -> openstack.connection.Connection:
    return cloud.connect()


def glance_objects(cloud: Cloud, conn: openstack.connection.Connection) -> list[str]:
    """Names in the glance user's image container, read as the (reseller) admin."""
    service = conn.identity.find_project("service", ignore_missing=False)
    resp = httpx.get(
        f"{cloud.url('object')}/v1/AUTH_{service.id}/glance",
        params={"format": "json"},
        headers={"X-Auth-Token": conn.auth_token},
        timeout=30,
    )
    if resp.status_code == 404:
        return []
    assert resp.status_code == 200, resp.text
    return [item["name"] for item in resp.json()]


def stores_of(image: Any) -> str:
    """The `stores` attribute (the SDK keeps it among the properties)."""
    return str(image.properties.get("stores"))


def image_files(cloud: Cloud) -> set[str]:
    root = cloud.state_dir / "images"
    return {p.name for p in root.iterdir() if p.is_file()}


def image_api(cloud: Cloud, conn: openstack.connection.Connection) -> httpx.Client:
    return httpx.Client(
        base_url=cloud.url("image"), headers={"X-Auth-Token": conn.auth_token}, timeout=60
    )


def wait_copied(conn: openstack.connection.Connection, image_id: str) -> Any:
    for _ in range(300):
        image = conn.image.get_image(image_id)
        props = image.properties or {}
        if not props.get("os_glance_importing_to_stores") and "os_glance_import_task" not in props:
            return image
        time.sleep(0.1)
    raise AssertionError(f"copy of {image_id} never finished: {image.to_dict()}")


def test_stores_info_lists_both_with_the_default(cloud: Cloud, conn: Any) -> None:
    with image_api(cloud, conn) as http:
        stores = http.get("/v2/info/stores").json()["stores"]
    assert [s["id"] for s in stores] == ["object", "file"]
    assert stores[0]["default"] == "true" and "default" not in stores[1]
    assert {m for m in conn.image.get_import_info().import_methods["value"]} >= {"copy-image"}


def test_object_store_upload_download_boot_copy_delete(cloud: Cloud, conn: Any) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks and a ragged tail
    made = conn.image.create_image(
        name=f"obj-{uuid.uuid4().hex[:6]}",
        data=data,
        disk_format="raw",
        container_format="bare",
        visibility="public",
    )
    image = conn.image.get_image(made.id)
    assert image.status == "active" and stores_of(image) == "object"
    assert image.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert image.hash_value == hashlib.sha512(data).hexdigest()
    assert image.id in glance_objects(cloud, conn)
    assert image.id not in image_files(cloud)  # the data is in the object store only
    assert conn.image.download_image(image).content == data
    with image_api(cloud, conn) as http:
        part = http.get(f"/v2/images/{image.id}/file", headers={"Range": "bytes=1048570-1048600"})
    assert part.status_code == 206 and part.content == data[1048570:1048601]

    # compute looks the image up through the image client and boots from it
    flavor = conn.compute.create_flavor(name=f"f-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=1)
    server = conn.compute.create_server(
        name="from-object", image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
    assert server.image.id == image.id

    # copy-image with the real CLI: the image is then in both stores
    cloud.cli("image", "import", image.id, "--method", "copy-image", "--store", "file")
    copied = wait_copied(conn, image.id)
    assert stores_of(copied) == "object,file"
    assert not copied.properties.get("os_glance_failed_import")
    assert image.id in image_files(cloud)
    assert (cloud.state_dir / "images" / image.id).read_bytes() == data
    assert conn.image.download_image(copied).content == data
    # already there: 400 as Glance; all_stores has nothing left to copy: 202, no change
    with image_api(cloud, conn) as http:
        again = http.post(
            f"/v2/images/{image.id}/import",
            json={"method": {"name": "copy-image"}, "stores": ["file"]},
        )
        assert again.status_code == 400, again.text
        assert "already present at store 'file'" in again.text
        everywhere = http.post(
            f"/v2/images/{image.id}/import",
            json={"method": {"name": "copy-image"}, "all_stores": True},
        )
        assert everywhere.status_code == 202, everywhere.text

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60, interval=0.2)
    conn.image.delete_image(image)
    assert image.id not in glance_objects(cloud, conn)
    assert image.id not in image_files(cloud)


def test_copy_image_with_the_sdk_and_all_stores(cloud: Cloud, conn: Any) -> None:
    data = os.urandom(70000)
    made = conn.image.create_image(
        name=f"sdk-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare"
    )
    with image_api(cloud, conn) as http:  # PUT /file into the non-default store
        put = http.put(
            f"/v2/images/{made.id}/file",
            content=data,
            headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "file"},
        )
        assert put.status_code == 204, put.text
    assert stores_of(conn.image.get_image(made.id)) == "file"
    assert made.id not in glance_objects(cloud, conn)
    conn.image.import_image(made, method="copy-image", all_stores=True)
    copied = wait_copied(conn, made.id)
    assert stores_of(copied) == "file,object"
    assert made.id in glance_objects(cloud, conn)
    assert conn.image.download_image(copied).content == data  # from the default (object)
    conn.image.delete_image(made)
    assert made.id not in glance_objects(cloud, conn)
    assert made.id not in image_files(cloud)


def test_bad_stores_are_refused_and_store_nothing(cloud: Cloud, conn: Any) -> None:
    made = conn.image.create_image(
        name=f"bad-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare"
    )
    with image_api(cloud, conn) as http:
        put = http.put(
            f"/v2/images/{made.id}/file",
            content=b"x" * 100,
            headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "ceph"},
        )
        assert put.status_code == 400 and "ceph" in put.text
        assert http.get(f"/v2/images/{made.id}").json()["status"] == "queued"
        queued = http.post(
            f"/v2/images/{made.id}/import",
            json={"method": {"name": "copy-image"}, "stores": ["file"]},
        )
        assert queued.status_code == 409 and "active" in queued.text
        unknown = http.post(
            f"/v2/images/{made.id}/import",
            json={"method": {"name": "copy-image"}, "stores": ["ceph"]},
        )
        assert unknown.status_code == 409 and "ceph" in unknown.text
        both = http.post(
            f"/v2/images/{made.id}/import",
            json={"method": {"name": "copy-image"}, "stores": ["file"], "all_stores": True},
        )
        assert both.status_code == 400
    assert made.id not in glance_objects(cloud, conn)
    conn.image.delete_image(made)


def test_glance_direct_import_into_both_stores(cloud: Cloud, conn: Any) -> None:
    data = os.urandom(5000)
    made = conn.image.create_image(
        name=f"both-{uuid.uuid4().hex[:6]}",
        data=data,
        disk_format="raw",
        container_format="bare",
        use_import=True,
        stores=["file", "object"],
        wait=True,
    )
    image = wait_copied(conn, made.id)
    assert image.status == "active" and stores_of(image) == "file,object"
    assert made.id in image_files(cloud) and made.id in glance_objects(cloud, conn)
    assert conn.image.download_image(image).content == data
    cloud.cli("image", "delete", made.id)
    assert made.id not in image_files(cloud) and made.id not in glance_objects(cloud, conn)


def test_a_failed_copy_is_reported_and_leaves_nothing(cloud: Cloud, conn: Any) -> None:
    """The object store refuses the copy (an account quota on the glance account): the image
    stays active in its store, os_glance_failed_import names the store, the task failed, and
    no object is left."""
    service = conn.identity.find_project("service", ignore_missing=False)
    account = f"{cloud.url('object')}/v1/AUTH_{service.id}"
    headers = {"X-Auth-Token": conn.auth_token}
    made = conn.image.create_image(
        name=f"fail-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare"
    )
    with image_api(cloud, conn) as http:
        put = http.put(
            f"/v2/images/{made.id}/file",
            content=os.urandom(4096),
            headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "file"},
        )
        assert put.status_code == 204, put.text
        quota = httpx.post(account, headers={**headers, "X-Account-Meta-Quota-Bytes": "10"})
        assert quota.status_code == 204, quota.text
        try:
            started = http.post(
                f"/v2/images/{made.id}/import",
                json={"method": {"name": "copy-image"}, "stores": ["object"]},
            )
            assert started.status_code == 202, started.text
            image = wait_copied(conn, made.id)
        finally:
            httpx.post(account, headers={**headers, "X-Account-Meta-Quota-Bytes": ""})
        assert image.status == "active" and stores_of(image) == "file"
        assert image.properties["os_glance_failed_import"] == "object"
        assert made.id not in glance_objects(cloud, conn)
        found = http.get(f"/v2/images/{made.id}/tasks").json()["tasks"]
        assert found[0]["status"] == "failure" and "object" in found[0]["message"]
    conn.image.delete_image(made)
    assert made.id not in image_files(cloud)
