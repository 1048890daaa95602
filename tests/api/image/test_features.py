"""Import (glance-direct), deactivate/reactivate, tags, schemas, discovery, list filters."""

from __future__ import annotations

import hashlib
import uuid

import httpx

from tests.api.image.conftest import Env
from tests.image import formats

OCTET = {"Content-Type": "application/octet-stream"}


def test_version_discovery_and_schemas(image_env: Env) -> None:
    resp = httpx.get(image_env.image_url + "/")
    assert resp.status_code == 300
    versions = resp.json()["versions"]
    assert versions[0]["status"] == "CURRENT" and versions[0]["id"].startswith("v2.")
    assert "v2.0" in {v["id"] for v in versions}
    with image_env.http("a_reader") as http:
        image_schema = http.get("/v2/schemas/image").json()
        assert image_schema["name"] == "image"
        assert image_schema["properties"]["status"]["readOnly"] is True
        assert image_schema["additionalProperties"] == {"type": "string"}
        for name in ("images", "member", "members"):
            assert http.get(f"/v2/schemas/{name}").json()["name"] == name
        methods = http.get("/v2/info/import").json()["import-methods"]["value"]
        assert methods == ["glance-direct", "web-download"]


def test_glance_direct_import_with_the_sdk(image_env: Env) -> None:
    conn = image_env.people["a_member"].conn
    data = formats.qcow2(virtual_size=8 << 20)
    image = conn.image.create_image(
        name=f"import-{uuid.uuid4().hex[:6]}",
        data=data,
        disk_format="qcow2",
        container_format="bare",
        use_import=True,
        validate_checksum=False,
    )
    got = conn.image.get_image(image.id)
    assert got.status == "active"
    assert got.virtual_size == 8 << 20
    assert got.checksum == hashlib.md5(data).hexdigest()
    assert got.hash_value == hashlib.sha512(data).hexdigest()
    assert not any(p.startswith("staging/") for p in image_env.stored_files())
    conn.image.delete_image(image)


def test_import_of_a_bad_format_returns_to_queued(image_env: Env) -> None:
    with image_env.http("a_member") as http:
        image = http.post(
            "/v2/images",
            json={"name": "bad-import", "disk_format": "qcow2", "container_format": "bare"},
        ).json()
        iid = image["id"]
        assert (
            http.post(
                f"/v2/images/{iid}/import", json={"method": {"name": "glance-direct"}}
            ).status_code
            == 409
        )
        assert (
            http.put(f"/v2/images/{iid}/stage", content=b"\0" * 4096, headers=OCTET).status_code
            == 204
        )
        assert http.get(f"/v2/images/{iid}").json()["status"] == "uploading"
        resp = http.post(f"/v2/images/{iid}/import", json={"method": {"name": "glance-direct"}})
        assert resp.status_code == 400
        assert http.get(f"/v2/images/{iid}").json()["status"] == "queued"
        assert image_env.stored_files() == set() or iid not in str(image_env.stored_files())
        assert (
            http.post(
                f"/v2/images/{iid}/import", json={"method": {"name": "web-download"}}
            ).status_code
            == 400
        )
        http.delete(f"/v2/images/{iid}")


def test_deactivate_and_reactivate_with_the_cli(image_env: Env) -> None:
    conn = image_env.people["a_member"].conn
    image = conn.image.create_image(
        name=f"deact-{uuid.uuid4().hex[:6]}",
        data=b"z" * 1000,
        disk_format="raw",
        container_format="bare",
        validate_checksum=False,
    )
    image_env.cli("a_member", "image", "set", "--deactivate", image.id)
    assert conn.image.get_image(image.id).status == "deactivated"
    with image_env.http("a_member") as http:
        assert http.get(f"/v2/images/{image.id}/file").status_code == 403
    with image_env.http() as http:  # admin still may
        assert http.get(f"/v2/images/{image.id}/file").content == b"z" * 1000
    image_env.cli("a_member", "image", "set", "--activate", image.id)
    assert conn.image.get_image(image.id).status == "active"
    queued = conn.image.create_image(name="q", disk_format="raw", container_format="bare")
    with image_env.http("a_member") as http:
        assert http.post(f"/v2/images/{queued.id}/actions/deactivate").status_code == 403
    conn.image.delete_image(queued)
    conn.image.delete_image(image)


def test_tags_and_properties(image_env: Env) -> None:
    conn = image_env.people["a_member"].conn
    image = conn.image.create_image(
        name="tagged", disk_format="raw", container_format="bare", tags=["one"]
    )
    conn.image.add_tag(image, "two")
    conn.image.add_tag(image, "two")  # idempotent
    assert sorted(conn.image.get_image(image.id).tags) == ["one", "two"]
    conn.image.remove_tag(image, "one")
    assert conn.image.get_image(image.id).tags == ["two"]
    with image_env.http("a_member") as http:
        assert http.delete(f"/v2/images/{image.id}/tags/absent").status_code == 404
        listed = http.get("/v2/images", params={"tag": "two"}).json()["images"]
        assert [i["id"] for i in listed] == [image.id]
        patch = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
        ops = [{"op": "add", "path": "/hw_disk_bus", "value": "virtio"}]
        assert http.patch(f"/v2/images/{image.id}", headers=patch, json=ops).status_code == 200
        listed = http.get("/v2/images", params={"hw_disk_bus": "virtio"}).json()["images"]
        assert [i["id"] for i in listed] == [image.id]
        ops = [{"op": "remove", "path": "/absent"}]
        assert http.patch(f"/v2/images/{image.id}", headers=patch, json=ops).status_code == 409
        ops = [{"op": "remove", "path": "/hw_disk_bus"}]
        body = http.patch(f"/v2/images/{image.id}", headers=patch, json=ops).json()
        assert "hw_disk_bus" not in body
    conn.image.delete_image(image)


def test_list_filters_sort_and_pagination(image_env: Env) -> None:
    suffix = uuid.uuid4().hex[:6]
    with image_env.http("b_member") as http:
        ids = []
        for i in range(7):
            body = {
                "name": f"page-{suffix}-{i}",
                "disk_format": "qcow2" if i % 2 else "raw",
                "container_format": "bare",
                "visibility": "private",
            }
            ids.append(http.post("/v2/images", json=body).json()["id"])
        seen: list[str] = []
        url = "/v2/images?limit=3&sort=name:asc&visibility=private"
        while url:
            page = http.get(url).json()
            assert len(page["images"]) <= 3
            seen += [i["id"] for i in page["images"]]
            url = page.get("next", "")
        assert seen == ids
        desc = http.get(
            "/v2/images", params={"sort_key": "name", "sort_dir": "desc", "visibility": "private"}
        ).json()["images"]
        assert [i["id"] for i in desc] == ids[::-1]
        qcow = http.get(
            "/v2/images", params={"disk_format": "qcow2", "visibility": "private"}
        ).json()["images"]
        assert {i["id"] for i in qcow} == {ids[1], ids[3], ids[5]}
        named = http.get("/v2/images", params={"name": f"page-{suffix}-4"}).json()["images"]
        assert [i["id"] for i in named] == [ids[4]]
        queued = http.get(
            "/v2/images", params={"status": "active", "visibility": "private"}
        ).json()["images"]
        assert queued == []
        owner = image_env.people["b_member"].project_id
        mine = http.get("/v2/images", params={"owner": owner}).json()["images"]
        assert set(ids) <= {i["id"] for i in mine}
        for iid in ids:
            assert http.delete(f"/v2/images/{iid}").status_code == 204
        assert [http.get(f"/v2/images/{iid}").status_code for iid in ids] == [404] * len(ids)
        left = http.get("/v2/images", params={"visibility": "private"}).json()["images"]
        assert not set(ids) & {i["id"] for i in left}
