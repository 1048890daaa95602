"""Metadata definitions (Glance metadefs) through the `openstack` CLI, openstacksdk and raw
HTTP: the standard namespaces loaded at start, CRUD of namespaces and what they hold, resource
type associations, visibility (public to all, private to the owner project), admin-only
writes, protected namespaces and the published schemas."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from tests.api.image.conftest import Env

STANDARD = (
    "OS::Compute::Libvirt",
    "OS::Compute::LibvirtImage",
    "OS::Compute::Hypervisor",
    "OS::Compute::Watchdog",
    "OS::Compute::RandomNumberGenerator",
    "OS::Compute::GuestShutdownBehavior",
    "OS::Compute::VirtCPUTopology",
    "OS::Glance::CommonImageProperties",
)


def _name() -> str:
    return f"MS::Test::{uuid.uuid4().hex[:8]}"


def test_standard_namespaces_are_loaded_and_read_by_the_cli(image_env: Env) -> None:
    listed = json.loads(
        image_env.cli("b_reader", "image", "metadef", "namespace", "list", "-f", "json")
    )
    names = {row["namespace"] for row in listed}
    assert set(STANDARD) <= names
    shown = json.loads(
        image_env.cli(
            "a_reader",
            "image",
            "metadef",
            "namespace",
            "show",
            "OS::Compute::Watchdog",
            "-f",
            "json",
        )
    )
    assert shown["protected"] is True and shown["visibility"] == "public"
    with image_env.http("a_reader") as http:
        ns = http.get("/v2/metadefs/namespaces/OS::Compute::Watchdog").json()
        action = ns["properties"]["watchdog_action"]
        assert action["type"] == "string"
        assert action["enum"] == ["disabled", "reset", "poweroff", "pause", "none"]
        targets = {a["name"]: a.get("prefix") for a in ns["resource_type_associations"]}
        assert targets == {
            "OS::Glance::Image": "hw_",
            "OS::Cinder::Volume": "hw_",
            "OS::Nova::Flavor": "hw:",
        }
        # the image's view of the namespace: names carry the image prefix
        prefixed = http.get(
            "/v2/metadefs/namespaces/OS::Compute::Watchdog",
            params={"resource_type": "OS::Glance::Image"},
        ).json()
        assert "hw_watchdog_action" in prefixed["properties"]
        by_type = http.get(
            "/v2/metadefs/namespaces", params={"resource_types": "OS::Nova::Flavor", "limit": 100}
        ).json()["namespaces"]
        assert "OS::Compute::RandomNumberGenerator" in {n["namespace"] for n in by_type}
        assert "OS::Compute::Hypervisor" not in {n["namespace"] for n in by_type}
        types = {
            t["name"] for t in http.get("/v2/metadefs/resource_types").json()["resource_types"]
        }
        assert {"OS::Glance::Image", "OS::Nova::Flavor", "OS::Cinder::Volume"} <= types


def test_loading_again_adds_nothing(image_env: Env) -> None:
    from ministack.common.db import Database
    from ministack.image.metadefs import catalog

    async def load_twice() -> list[list[str]]:
        db = Database(f"sqlite:///{image_env.cloud.state_dir / 'ministack.db'}")
        try:
            return [await catalog.load(db), await catalog.load(db)]
        finally:
            await db.close()

    assert asyncio.run(load_twice()) == [[], []]
    with image_env.http() as http:
        names = [
            n["namespace"]
            for n in http.get("/v2/metadefs/namespaces", params={"limit": 1000}).json()[
                "namespaces"
            ]
        ]
    assert all(names.count(n) == 1 for n in STANDARD)


def test_namespace_life_cycle_with_the_cli(image_env: Env) -> None:
    name = _name()
    created = json.loads(
        image_env.cli(
            "admin",
            "image",
            "metadef",
            "namespace",
            "create",
            name,
            "--display-name",
            "Test namespace",
            "--description",
            "made by a test",
            "--private",
            "-f",
            "json",
        )
    )
    assert created["namespace"] == name and created["visibility"] == "private"
    image_env.cli(
        "admin", "image", "metadef", "namespace", "set", name, "--display-name", "Renamed"
    )
    shown = json.loads(
        image_env.cli("admin", "image", "metadef", "namespace", "show", name, "-f", "json")
    )
    assert shown["display_name"] == "Renamed"
    # private: the admin project's; another project's reader does not see it
    out = image_env.cli("b_reader", "image", "metadef", "namespace", "show", name, check=False)
    assert "404" in out or "not found" in out.lower()
    image_env.cli("admin", "image", "metadef", "namespace", "delete", name)
    with image_env.http() as http:
        assert http.get(f"/v2/metadefs/namespaces/{name}").status_code == 404


def test_contents_with_the_sdk_and_raw_http(image_env: Env) -> None:
    admin = image_env.admin
    name = _name()
    # a namespace made with its contents in one request (the SDK sends no contents)
    body = {
        "namespace": name,
        "visibility": "public",
        "properties": {"speed": {"title": "Speed", "type": "integer", "minimum": 1}},
        "tags": [{"name": "fast"}],
    }
    with image_env.http() as http:
        made = http.post("/v2/metadefs/namespaces", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["properties"]["speed"]["minimum"] == 1
    assert made.json()["tags"] == [{"name": "fast"}]
    assert admin.image.get_metadef_namespace(name).visibility == "public"
    try:
        obj = admin.image.create_metadef_object(
            namespace=name,
            name="Disk",
            description="a disk",
            required=["size"],
            properties={"size": {"title": "Size", "type": "integer"}},
        )
        assert obj.name == "Disk"
        assert [o.name for o in admin.image.metadef_objects(name)] == ["Disk"]
        prop = admin.image.create_metadef_property(
            metadef_namespace=name, name="mode", title="Mode", type="string", enum=["a", "b"]
        )
        assert prop.name == "mode"
        props = admin.image.metadef_properties(name)
        assert {p.name for p in props} == {"speed", "mode"}
        reader = image_env.people["b_reader"].conn
        assert reader.image.get_metadef_property("mode", name).enum == ["a", "b"]
        with image_env.http() as http:
            base = f"/v2/metadefs/namespaces/{name}"
            assert http.post(base + "/objects", json={"name": "Disk"}).status_code == 409
            got = http.get(base + "/objects/Disk").json()
            assert got["self"] == f"{base}/objects/Disk" and got["required"] == ["size"]
            put = http.put(base + "/objects/Disk", json={"name": "Volume", "properties": {}})
            assert put.status_code == 200 and put.json()["name"] == "Volume"
            assert http.get(base + "/objects/Disk").status_code == 404
            # tags: one, then a replacing set, then an appended one
            assert http.post(base + "/tags/slow").status_code == 201
            assert http.post(base + "/tags/slow").status_code == 409
            made = http.post(base + "/tags", json={"tags": [{"name": "x"}, {"name": "y"}]})
            assert made.status_code == 201
            assert {t["name"] for t in http.get(base + "/tags").json()["tags"]} == {"x", "y"}
            http.post(
                base + "/tags",
                json={"tags": [{"name": "z"}]},
                headers={"X-Openstack-Append": "true"},
            )
            assert {t["name"] for t in http.get(base + "/tags").json()["tags"]} == {"x", "y", "z"}
            assert http.put(base + "/tags/z", json={"name": "w"}).json()["name"] == "w"
            assert http.delete(base + "/tags/w").status_code == 204
            assert http.delete(base + "/tags").status_code == 204
            assert http.get(base + "/tags").json()["tags"] == []
            # bad bodies: 400 and nothing made
            bad = http.post(base + "/properties", json={"name": "p", "type": "string"})
            assert bad.status_code == 400
            bad = http.post(base + "/properties", json={"name": "p", "title": "P", "type": "x"})
            assert bad.status_code == 400
            assert set(http.get(base + "/properties").json()["properties"]) == {"speed", "mode"}
            assert http.delete(base + "/properties/mode").status_code == 204
            assert http.delete(base + "/objects").status_code == 204
            assert http.get(base + "/objects").json()["objects"] == []
    finally:
        admin.image.delete_metadef_namespace(name)


def test_resource_type_associations(image_env: Env) -> None:
    name = _name()
    with image_env.http() as http:  # namespace create/delete by the CLI: see the life cycle test
        body = {"namespace": name, "visibility": "public"}
        assert http.post("/v2/metadefs/namespaces", json=body).status_code == 201
    try:
        image_env.cli(
            "admin",
            "image",
            "metadef",
            "resource",
            "type",
            "association",
            "create",
            name,
            "OS::Nova::Aggregate",
            "--prefix",
            "agg:",
        )
        listed = json.loads(
            image_env.cli(
                "a_reader",
                "image",
                "metadef",
                "resource",
                "type",
                "association",
                "list",
                name,
                "-f",
                "json",
            )
        )
        assert [(r["Name"] if "Name" in r else r["name"]) for r in listed] == [
            "OS::Nova::Aggregate"
        ]
        with image_env.http() as http:
            url = f"/v2/metadefs/namespaces/{name}/resource_types"
            again = http.post(url, json={"name": "OS::Nova::Aggregate"})
            assert again.status_code == 409
            assert http.delete(url + "/OS::Nova::Aggregate").status_code == 204
            assert http.delete(url + "/OS::Nova::Aggregate").status_code == 404
            assert http.get(url).json() == {"resource_type_associations": []}
    finally:
        with image_env.http() as http:
            http.delete(f"/v2/metadefs/namespaces/{name}")


def test_only_admin_writes_and_protected_namespaces_stay(image_env: Env) -> None:
    name = _name()
    with image_env.http("a_member") as member, image_env.http() as admin:
        assert member.post("/v2/metadefs/namespaces", json={"namespace": name}).status_code == 403
        assert admin.get(f"/v2/metadefs/namespaces/{name}").status_code == 404
        made = admin.post(
            "/v2/metadefs/namespaces",
            json={"namespace": name, "visibility": "public", "protected": True},
        )
        assert made.status_code == 201
        assert made.json()["self"] == f"/v2/metadefs/namespaces/{name}"
        assert admin.post("/v2/metadefs/namespaces", json={"namespace": name}).status_code == 409
        # public: everyone reads it, only admin changes it
        assert member.get(f"/v2/metadefs/namespaces/{name}").status_code == 200
        put = member.put(f"/v2/metadefs/namespaces/{name}", json={"namespace": name})
        assert put.status_code == 403
        tag = member.post(f"/v2/metadefs/namespaces/{name}/tags/t1")
        assert tag.status_code == 403
        assert admin.post(f"/v2/metadefs/namespaces/{name}/tags/t1").status_code == 201
        assert admin.delete(f"/v2/metadefs/namespaces/{name}/tags/t1").status_code == 403
        assert admin.delete(f"/v2/metadefs/namespaces/{name}").status_code == 403
        unprotect = {"namespace": name, "visibility": "public", "protected": False}
        assert admin.put(f"/v2/metadefs/namespaces/{name}", json=unprotect).status_code == 200
        assert admin.delete(f"/v2/metadefs/namespaces/{name}").status_code == 204
        assert admin.get(f"/v2/metadefs/namespaces/{name}/tags").status_code == 404


def test_private_namespace_of_a_project_is_its_own(image_env: Env) -> None:
    name = _name()
    owner = image_env.people["a_reader"].project_id
    with image_env.http() as admin:
        body = {"namespace": name, "visibility": "private", "owner": owner}
        assert admin.post("/v2/metadefs/namespaces", json=body).status_code == 201
        try:
            with image_env.http("a_reader") as mine, image_env.http("b_reader") as other:
                assert mine.get(f"/v2/metadefs/namespaces/{name}").status_code == 200
                assert other.get(f"/v2/metadefs/namespaces/{name}").status_code == 404
                assert other.get(f"/v2/metadefs/namespaces/{name}/objects").status_code == 404
                private = mine.get(
                    "/v2/metadefs/namespaces", params={"visibility": "private", "limit": 1000}
                ).json()["namespaces"]
                assert [n["namespace"] for n in private] == [name]
        finally:
            admin.delete(f"/v2/metadefs/namespaces/{name}")


def test_listing_pages_and_schemas(image_env: Env) -> None:
    with image_env.http("a_reader") as http:
        page = http.get("/v2/metadefs/namespaces", params={"limit": 2, "sort_dir": "asc"}).json()
        assert len(page["namespaces"]) == 2 and page["schema"] == "/v2/schemas/metadefs/namespaces"
        rest = http.get(page["next"]).json()["namespaces"]
        assert page["namespaces"][0]["namespace"] not in {n["namespace"] for n in rest}
        assert http.get("/v2/metadefs/namespaces", params={"limit": "x"}).status_code == 400
        for name, key in (
            ("namespace", "namespace"),
            ("object", "name"),
            ("property", "name"),
            ("tag", "name"),
            ("resource_type", "name"),
        ):
            schema = http.get(f"/v2/schemas/metadefs/{name}").json()
            assert key in schema["properties"] and key in schema["required"]
        for name in ("namespaces", "objects", "properties", "tags", "resource_types"):
            assert http.get(f"/v2/schemas/metadefs/{name}").status_code == 200
        assert http.get("/v2/schemas/metadefs/nothing").status_code == 404
    assert httpx.get(image_env.image_url + "/v2/schemas/metadefs/namespace").status_code == 401
    # the SDK follows `next` through pages to the same list
    paged = [n.namespace for n in image_env.admin.image.metadef_namespaces(limit=3)]
    with image_env.http() as http:
        whole = http.get("/v2/metadefs/namespaces", params={"limit": 1000}).json()["namespaces"]
    assert paged == [n["namespace"] for n in whole] and len(paged) > 3
    schema = image_env.admin.image.get_metadef_namespace_schema()
    assert "namespace" in schema.properties
