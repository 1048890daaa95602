"""Sharing between projects and RBAC across two projects and the admin, member, reader roles."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.image.conftest import Env

OCTET = {"Content-Type": "application/octet-stream"}
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def _image(env: Env, who: str, visibility: str) -> dict[str, Any]:
    with env.http(who) as http:
        resp = http.post(
            "/v2/images",
            json={
                "name": f"{visibility}-{uuid.uuid4().hex[:6]}",
                "disk_format": "raw",
                "container_format": "bare",
                "visibility": visibility,
            },
        )
        assert resp.status_code == 201, resp.text
        image: dict[str, Any] = resp.json()
        assert (
            http.put(
                f"/v2/images/{image['id']}/file", content=b"d" * 512, headers=OCTET
            ).status_code
            == 204
        )
    return image


def _listed(env: Env, who: str, **params: str) -> set[str]:
    with env.http(who) as http:
        return {i["id"] for i in http.get("/v2/images", params=params).json()["images"]}


def test_sharing_with_the_cli_needs_acceptance(image_env: Env) -> None:
    name = f"shared-{uuid.uuid4().hex[:6]}"
    image = json.loads(
        image_env.cli(
            "a_member",
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "--shared",
            name,
            "-f",
            "json",
        )
    )
    b = image_env.people["b_member"]
    assert image["id"] not in _listed(image_env, "b_member")
    with image_env.http("b_member") as http:
        assert http.get(f"/v2/images/{image['id']}").status_code == 404

    image_env.cli("a_member", "image", "add", "project", name, b.project_id)
    # pending: visible by id to the member, not in its list
    with image_env.http("b_member") as http:
        assert http.get(f"/v2/images/{image['id']}").status_code == 200
    assert image["id"] not in _listed(image_env, "b_member")
    assert image["id"] in _listed(image_env, "b_member", member_status="pending")

    # the owner cannot accept on the member's behalf
    with image_env.http("a_member") as http:
        resp = http.put(
            f"/v2/images/{image['id']}/members/{b.project_id}", json={"status": "accepted"}
        )
        assert resp.status_code == 403

    image_env.cli("b_member", "image", "set", "--accept", image["id"])
    assert image["id"] in _listed(image_env, "b_member")
    members = b.conn.image.members(image["id"])
    assert [(m.status) for m in members] == ["accepted"]
    # a member project sees the image but cannot change or delete it
    with image_env.http("b_member") as http:
        resp = http.patch(
            f"/v2/images/{image['id']}",
            headers=PATCH,
            json=[{"op": "replace", "path": "/name", "value": "mine"}],
        )
        assert resp.status_code == 403
        assert http.delete(f"/v2/images/{image['id']}").status_code == 403
        assert http.get(f"/v2/images/{image['id']}/file").content == b""  # queued: no data

    image_env.cli("b_member", "image", "set", "--reject", image["id"])
    assert image["id"] not in _listed(image_env, "b_member")
    image_env.cli("a_member", "image", "remove", "project", name, b.project_id)
    with image_env.http("b_member") as http:
        assert http.get(f"/v2/images/{image['id']}").status_code == 404
    image_env.cli("a_member", "image", "delete", name)


def test_private_images_have_no_members(image_env: Env) -> None:
    image = _image(image_env, "a_member", "private")
    with image_env.http("a_member") as http:
        resp = http.post(
            f"/v2/images/{image['id']}/members",
            json={"member": image_env.people["b_member"].project_id},
        )
        assert resp.status_code == 403
        assert "shared" in resp.json()["error"]["message"]
        http.delete(f"/v2/images/{image['id']}")


def test_private_images_are_invisible_to_other_projects(image_env: Env) -> None:
    image = _image(image_env, "a_member", "private")
    iid = image["id"]
    for who in ("b_member", "b_reader"):
        with image_env.http(who) as http:
            assert http.get(f"/v2/images/{iid}").status_code == 404
            assert http.get(f"/v2/images/{iid}/file").status_code == 404
            assert http.delete(f"/v2/images/{iid}").status_code == 404
            assert (
                http.patch(
                    f"/v2/images/{iid}",
                    headers=PATCH,
                    json=[{"op": "replace", "path": "/name", "value": "x"}],
                ).status_code
                == 404
            )
            assert http.put(f"/v2/images/{iid}/tags/t").status_code == 404
        assert iid not in _listed(image_env, who)
    assert iid in _listed(image_env, "a_reader")
    assert iid in _listed(image_env, "admin")
    with image_env.http("a_member") as http:
        assert http.delete(f"/v2/images/{iid}").status_code == 204


def test_reader_never_writes(image_env: Env) -> None:
    image = _image(image_env, "a_member", "private")
    iid = image["id"]
    with image_env.http("a_reader") as http:
        assert http.get(f"/v2/images/{iid}").status_code == 200
        # Glance's download_image default needs the member role: a reader sees, not fetches
        assert http.get(f"/v2/images/{iid}/file").status_code == 403
        assert http.post("/v2/images", json={"name": "r"}).status_code == 403
        assert (
            http.patch(
                f"/v2/images/{iid}",
                headers=PATCH,
                json=[{"op": "replace", "path": "/name", "value": "x"}],
            ).status_code
            == 403
        )
        assert http.delete(f"/v2/images/{iid}").status_code == 403
        assert http.put(f"/v2/images/{iid}/tags/t").status_code == 403
        assert http.post(f"/v2/images/{iid}/actions/deactivate").status_code == 403
    with image_env.http("a_member") as http:
        assert http.get(f"/v2/images/{iid}").json()["name"] == image["name"]
        assert http.delete(f"/v2/images/{iid}").status_code == 204


def test_only_admin_makes_images_public(image_env: Env) -> None:
    with image_env.http("a_member") as http:
        resp = http.post("/v2/images", json={"name": "pub", "visibility": "public"})
        assert resp.status_code == 403
        private = http.post("/v2/images", json={"name": "p", "visibility": "private"}).json()
        resp = http.patch(
            f"/v2/images/{private['id']}",
            headers=PATCH,
            json=[{"op": "replace", "path": "/visibility", "value": "public"}],
        )
        assert resp.status_code == 403
        http.delete(f"/v2/images/{private['id']}")
    public = _image(image_env, "admin", "public")
    for who in ("a_member", "a_reader", "b_member", "b_reader"):
        assert public["id"] in _listed(image_env, who)
        with image_env.http(who) as http:
            data = http.get(f"/v2/images/{public['id']}/file")
            if who.endswith("member"):
                assert data.content == b"d" * 512
            else:
                assert data.status_code == 403  # download_image: member or admin
            assert http.delete(f"/v2/images/{public['id']}").status_code == 403
    image_env.admin.image.delete_image(public["id"])


def test_community_images_are_visible_but_not_listed_by_default(image_env: Env) -> None:
    image = _image(image_env, "a_member", "community")
    assert image["id"] not in _listed(image_env, "b_member")
    assert image["id"] in _listed(image_env, "b_member", visibility="community")
    with image_env.http("b_member") as http:
        assert http.get(f"/v2/images/{image['id']}").status_code == 200
    with image_env.http("a_member") as http:
        http.delete(f"/v2/images/{image['id']}")
