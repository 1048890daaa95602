"""Nova's image proxy, /v2.1/images and their metadata, driven with openstacksdk's (deprecated)
compute image calls at microversion 2.35 and raw requests; 404 from 2.36 on."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import openstack
import pytest

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.identity.client import ServiceSession
from ministack.image.client import HttpImageClient
from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot
from tests.cloud import ADMIN_PASSWORD

pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackDeprecationWarning")


def connect_235(compute: Compute, **who: str) -> Any:
    auth = {
        "auth_url": compute.cloud.auth_url,
        "username": who.get("username", "admin"),
        "password": who.get("password", ADMIN_PASSWORD),
        "user_domain_id": "default",
        "project_name": who.get("project", "admin"),
        "project_domain_id": "default",
    }
    return openstack.connect(
        auth=auth,
        region_name="RegionOne",
        compute_api_version="2.35",
        load_yaml_config=False,
        load_envvars=False,
    )


def new_image(compute: Compute, **props: str) -> Any:
    return compute.conn.image.create_image(
        name=f"proxy-{uuid.uuid4().hex[:6]}",
        data=b"\1" * 2048,
        disk_format="raw",
        container_format="bare",
        min_ram=128,
        min_disk=1,
        **props,
    )


def test_list_detail_show_in_novas_format(compute: Compute) -> None:
    image = new_image(compute, architecture="x86_64", auto_disk_config="true")
    queued = compute.conn.image.create_image(
        name=f"queued-{uuid.uuid4().hex[:6]}", disk_format="raw", container_format="bare"
    )
    conn = connect_235(compute)
    brief = {i.id: i for i in conn.compute.images(details=False)}
    assert image.id in brief and queued.id in brief
    shown = conn.compute.get_image(image.id)
    assert shown.name == image.name and shown.status == "ACTIVE" and shown.progress == 100
    assert shown.min_ram == 128 and shown.min_disk == 1 and shown.size == 2048
    # the SDK's image upload adds owner_specified.openstack.* properties of its own
    assert {"architecture": "x86_64", "auto_disk_config": "true"}.items() <= shown.metadata.items()
    detail = {i.id: i for i in conn.compute.images()}
    assert detail[queued.id].status == "SAVING" and detail[queued.id].progress == 25

    raw = compute.api("GET", f"/images/{image.id}", version="2.35").json()["image"]
    assert set(raw) == {
        "id", "name", "minRam", "minDisk", "metadata", "created", "updated", "status",
        "progress", "OS-EXT-IMG-SIZE:size", "links", "OS-DCF:diskConfig",
    }  # fmt: skip
    assert raw["OS-DCF:diskConfig"] == "AUTO" and raw["created"].endswith("Z")
    rels = {link["rel"]: link["href"] for link in raw["links"]}
    assert rels["self"].endswith(f"/v2.1/images/{image.id}")
    assert rels["bookmark"].endswith(f"/images/{image.id}")
    assert rels["alternate"].endswith(f"/images/{image.id}")

    named = compute.api("GET", "/images", version="2.35", params={"name": image.name}).json()
    assert [i["id"] for i in named["images"]] == [image.id]
    # Nova lower-cases the status and hands it to Glance
    active = compute.api("GET", "/images/detail", version="2.35", params={"status": "ACTIVE"})
    assert image.id in {i["id"] for i in active.json()["images"]}
    assert queued.id not in {i["id"] for i in active.json()["images"]}
    paged = compute.api("GET", "/images", version="2.35", params={"limit": "1"}).json()
    assert len(paged["images"]) == 1 and paged["images_links"][0]["rel"] == "next"
    missing = compute.api("GET", f"/images/{uuid.uuid4()}", version="2.35")
    assert missing.status_code == 404 and "Image not found." in missing.text
    compute.conn.image.delete_image(queued)
    compute.conn.image.delete_image(image)


def test_snapshot_shows_its_server(compute: Compute) -> None:
    server = boot(compute)
    made = compute.api(
        "POST",
        f"/servers/{server.id}/action",
        json={"createImage": {"name": "snap-proxy"}},
        version="2.45",
    )
    assert made.status_code == 202, made.text
    image_id = made.json()["image_id"]
    compute.conn.image.wait_for_status(compute.conn.image.get_image(image_id), "active", wait=60)
    shown = compute.api("GET", f"/images/{image_id}", version="2.35").json()["image"]
    assert shown["server"]["id"] == server.id
    assert shown["server"]["links"][0]["href"].endswith(f"/v2.1/servers/{server.id}")
    by_server = compute.api("GET", "/images", version="2.35", params={"server": server.id})
    assert [i["id"] for i in by_server.json()["images"]] == [image_id]
    compute.conn.compute.delete_server(server)
    gone = connect_235(compute).compute.delete_image(image_id, ignore_missing=False)
    assert gone is None
    assert compute.conn.image.find_image(image_id) is None


def test_metadata_get_post_put_item_delete(compute: Compute) -> None:
    image = new_image(compute, color="red")
    conn = connect_235(compute)
    assert conn.compute.fetch_image_metadata(image.id).metadata["color"] == "red"
    conn.compute.set_image_metadata(image.id, size_hint="big")
    assert compute.conn.image.get_image(image.id).properties["size_hint"] == "big"
    path = f"/images/{image.id}/metadata"
    replaced = compute.api("PUT", path, version="2.35", json={"metadata": {"only": "one"}})
    assert replaced.status_code == 200 and replaced.json() == {"metadata": {"only": "one"}}
    glance = compute.conn.image.get_image(image.id).properties
    assert glance.get("only") == "one" and "color" not in glance and "size_hint" not in glance
    item = compute.api("PUT", path + "/k1", version="2.35", json={"meta": {"k1": "v1"}})
    assert item.status_code == 200 and item.json() == {"meta": {"k1": "v1"}}
    got = compute.api("GET", path + "/k1", version="2.35")
    assert got.json() == {"meta": {"k1": "v1"}}
    mismatch = compute.api("PUT", path + "/k1", version="2.35", json={"meta": {"k2": "v"}})
    assert mismatch.status_code == 400 and "mismatch" in mismatch.text
    bad_key = compute.api("POST", path, version="2.35", json={"metadata": {"a/b": "v"}})
    assert bad_key.status_code == 400
    too_many = {f"k{n}": "v" for n in range(129)}
    over = compute.api("POST", path, version="2.35", json={"metadata": too_many})
    assert over.status_code == 403 and "limit exceeded" in over.text
    conn.compute.delete_image_metadata(image.id, ["k1"])
    assert compute.api("GET", path + "/k1", version="2.35").status_code == 404
    assert compute.api("DELETE", path + "/k1", version="2.35").status_code == 404
    assert compute.api("GET", path, version="2.35").json() == {"metadata": {"only": "one"}}
    compute.conn.image.delete_image(image)


def test_gone_from_2_36(compute: Compute) -> None:
    image = new_image(compute)
    for method, path, body in (
        ("GET", "/images", None),
        ("GET", "/images/detail", None),
        ("GET", f"/images/{image.id}", None),
        ("DELETE", f"/images/{image.id}", None),
        ("GET", f"/images/{image.id}/metadata", None),
        ("POST", f"/images/{image.id}/metadata", {"metadata": {"a": "b"}}),
        ("PUT", f"/images/{image.id}/metadata/a", {"meta": {"a": "b"}}),
        ("DELETE", f"/images/{image.id}/metadata/a", None),
    ):
        resp = compute.api(method, path, version="2.36", json=body)
        assert resp.status_code == 404, (method, path, resp.text)
    assert compute.conn.image.get_image(image.id).status == "active"
    assert "a" not in compute.conn.image.get_image(image.id).properties
    compute.conn.image.delete_image(image)


def test_other_projects_private_image_is_404_and_reader_cannot_delete(compute: Compute) -> None:
    admin = compute.conn
    suffix = uuid.uuid4().hex[:6]
    project = admin.identity.create_project(name=f"proxy-{suffix}", domain_id="default")
    user = admin.identity.create_user(
        name=f"proxy-{suffix}", password="pw-proxy-1", domain_id="default"
    )
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("reader"))
    private = new_image(compute, visibility="private")
    public = new_image(compute, visibility="public")
    reader = connect_235(compute, username=user.name, password="pw-proxy-1", project=project.name)
    seen = {i.id for i in reader.compute.images(details=False)}
    assert public.id in seen and private.id not in seen
    with pytest.raises(openstack.exceptions.NotFoundException):
        reader.compute.get_image(private.id)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        reader.compute.delete_image(public.id, ignore_missing=False)
    assert admin.image.get_image(public.id).status == "active"
    admin.image.delete_image(private)
    admin.image.delete_image(public)


async def test_the_http_transport_acts_with_the_users_rights(compute: Compute) -> None:
    """What the proxy calls when the image service runs elsewhere: the user's own token."""
    session = ServiceSession(compute.cloud.auth_url, "admin", ADMIN_PASSWORD, project_name="admin")
    client = HttpImageClient(session)
    image = new_image(compute, visibility="private", color="blue")
    token = compute.conn.auth_token
    try:
        # the HTTP transport sends only the token; the Auth is what the in-process one uses
        auth = Auth("u", "admin", "default", ("admin",), dt.datetime.max)
        user = client.as_user(auth, token)
        page = await user.list_page({"name": image.name})
        assert [i["id"] for i in page["images"]] == [image.id]
        after = await user.set_properties(image.id, {"k": "v"}, ["color"])
        assert after["k"] == "v" and "color" not in after
        refused = client.as_user(auth, "not-a-token")
        with pytest.raises(errors.Unauthorized):
            await refused.get(image.id)
        await user.delete(image.id)
        with pytest.raises(errors.NotFound):
            await user.get(image.id)
    finally:
        await session.close()
