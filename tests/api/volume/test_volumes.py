"""Volumes, types, snapshots, services and zones through the unmodified `openstack` CLI and
openstacksdk (which negotiate the microversion from our discovery document)."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.api.volume.conftest import Env


def _show(env: Env, who: str, *args: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(env.cli(who, *args, "-f", "json"))
    return out


def test_version_discovery_and_microversions(volume_env: Env) -> None:
    root = httpx.get(volume_env.cloud.url("volume") + "/")
    assert root.status_code == 300
    (v3,) = root.json()["versions"]
    assert (v3["id"], v3["min_version"], v3["version"], v3["status"]) == (
        "v3.0",
        "3.0",
        "3.71",
        "CURRENT",
    )
    assert httpx.get(volume_env.cloud.url("volume") + "/v3/").json()["versions"][0] == v3
    hostile = httpx.get(
        volume_env.cloud.url("volume") + "/v3/",
        headers={"Host": "evil.example:666", "X-Forwarded-Host": "evil.example"},
    ).json()["versions"][0]
    (self_link,) = [link["href"] for link in hostile["links"] if link["rel"] == "self"]
    assert self_link == volume_env.cloud.url("volume") + "/v3/"  # the public endpoint
    with volume_env.http(version="3.60") as http:
        resp = http.get("/volumes")
        assert resp.status_code == 200
        assert resp.headers["OpenStack-API-Version"] == "volume 3.60"
        assert resp.headers["X-OpenStack-Request-Id"].startswith("req-")
    with volume_env.http(version="3.72") as http:
        resp = http.get("/volumes")
        assert resp.status_code == 406
        assert "maximum is 3.71" in resp.json()["notAcceptable"]["message"]
    with volume_env.http(version="3.0") as http:
        assert http.get("/attachments").status_code == 404  # attachments arrived in 3.27


def test_volume_life_cycle_with_the_cli(volume_env: Env) -> None:
    name = f"data-{uuid.uuid4().hex[:6]}"
    vol = _show(
        volume_env, "a_member", "volume", "create", "--size", "1", "--property", "tier=gold", name
    )
    assert vol["size"] == 1 and vol["status"] in ("creating", "available")
    volume_env.wait(str(vol["id"]), "available", who="a_member")
    shown = _show(volume_env, "a_member", "volume", "show", name)
    assert shown["properties"] == {"tier": "gold"} and shown["bootable"] is False
    assert shown["type"] == "__DEFAULT__"
    listed = json.loads(volume_env.cli("a_member", "volume", "list", "--long", "-f", "json"))
    assert [v["Name"] for v in listed if v["ID"] == vol["id"]] == [name]
    volume_env.cli(
        "a_member",
        "volume",
        "set",
        "--name",
        f"{name}-2",
        "--description",
        "d",
        "--property",
        "k=v",
        "--bootable",
        "--read-only",
        str(vol["id"]),
    )
    shown = _show(volume_env, "a_member", "volume", "show", str(vol["id"]))
    assert shown["name"] == f"{name}-2" and shown["description"] == "d"
    assert shown["bootable"] is True
    assert shown["properties"] == {"tier": "gold", "k": "v", "readonly": "True"}
    volume_env.cli("a_member", "volume", "unset", "--property", "k", str(vol["id"]))
    volume_env.cli("a_member", "volume", "set", "--size", "3", str(vol["id"]))
    assert volume_env.wait(str(vol["id"]), "available", who="a_member")["size"] == 3
    assert f"volume-{vol['id']}" in volume_env.volume_files()
    volume_env.cli("a_member", "volume", "delete", str(vol["id"]))
    volume_env.wait(str(vol["id"]), "deleted", who="a_member")
    assert not any(str(vol["id"]) in f for f in volume_env.volume_files())


def test_snapshots_and_clones_with_the_cli(volume_env: Env) -> None:
    tag = uuid.uuid4().hex[:6]
    vol = _show(volume_env, "a_member", "volume", "create", "--size", "1", f"src-{tag}")
    volume_env.wait(str(vol["id"]), "available", who="a_member")
    snap = _show(
        volume_env,
        "a_member",
        "volume",
        "snapshot",
        "create",
        "--volume",
        str(vol["id"]),
        "--property",
        "p=1",
        f"s-{tag}",
    )
    volume_env.wait(str(snap["id"]), "available", who="a_member", kind="snapshots")
    shown = _show(volume_env, "a_member", "volume", "snapshot", "show", f"s-{tag}")
    assert shown["properties"] == {"p": "1"} and shown["size"] == 1
    from_snap = _show(
        volume_env,
        "a_member",
        "volume",
        "create",
        "--snapshot",
        f"s-{tag}",
        "--size",
        "2",
        f"fs-{tag}",
    )
    clone = _show(
        volume_env, "a_member", "volume", "create", "--source", str(vol["id"]), f"cl-{tag}"
    )
    assert volume_env.wait(str(from_snap["id"]), "available", who="a_member")["size"] == 2
    assert volume_env.wait(str(clone["id"]), "available", who="a_member")["size"] == 1
    assert volume_env.wait(str(from_snap["id"]), "available")["snapshot_id"] == snap["id"]
    for vid in (from_snap["id"], clone["id"]):
        volume_env.cli("a_member", "volume", "delete", str(vid))
    volume_env.cli("a_member", "volume", "snapshot", "delete", f"s-{tag}")
    volume_env.wait(str(snap["id"]), "deleted", who="a_member", kind="snapshots")
    volume_env.cli("a_member", "volume", "delete", str(vol["id"]))
    for vid in (vol["id"], from_snap["id"], clone["id"]):
        volume_env.wait(str(vid), "deleted", who="a_member")
    left = volume_env.volume_files()
    assert not any(str(x) in f for f in left for x in (vol["id"], snap["id"], clone["id"]))
    if not any(f.startswith(("volume-", "snapshot-")) for f in left):
        assert not left, f"data left behind: {left}"  # every shared base went with its users


def test_list_filters_sort_and_pages_with_the_sdk(volume_env: Env) -> None:
    conn = volume_env.people["b_member"].conn
    tag = uuid.uuid4().hex[:6]
    made = [
        conn.block_storage.create_volume(size=1, name=f"pg-{tag}-{i}", metadata={"i": str(i)})
        for i in range(5)
    ]
    for v in made:
        volume_env.wait(v.id, "available", who="b_member")
    names = [v.name for v in conn.block_storage.volumes(name=f"pg-{tag}-3")]
    assert names == [f"pg-{tag}-3"]
    with volume_env.http("b_member") as http:
        first = http.get("/volumes/detail", params={"limit": 2, "sort": "name:asc"}).json()
        assert [v["name"] for v in first["volumes"]][:2] == [f"pg-{tag}-0", f"pg-{tag}-1"]
        assert first["volumes_links"][0]["rel"] == "next"
        second = http.get(
            "/volumes/detail",
            params={"limit": 2, "sort": "name:asc", "marker": first["volumes"][-1]["id"]},
        ).json()
        assert [v["name"] for v in second["volumes"]] == [f"pg-{tag}-2", f"pg-{tag}-3"]
        by_meta = http.get("/volumes", params={"metadata": json.dumps({"i": "4"})}).json()
        assert [v["name"] for v in by_meta["volumes"]] == [f"pg-{tag}-4"]
        counted = http.get("/volumes/detail", params={"with_count": "true", "limit": 1}).json()
        assert counted["count"] >= 5 and len(counted["volumes"]) == 1
    every = list(conn.block_storage.volumes())
    assert {v.name for v in every} >= {f"pg-{tag}-{i}" for i in range(5)}
    for v in made:
        conn.block_storage.delete_volume(v)
    for v in made:
        volume_env.wait(v.id, "deleted", who="b_member")


def test_volume_types_extra_specs_and_access(volume_env: Env) -> None:
    tag = uuid.uuid4().hex[:6]
    public = _show(
        volume_env, "admin", "volume", "type", "create", "--property", "k=v", f"fast-{tag}"
    )
    assert public["properties"] == {"k": "v"}
    private = _show(volume_env, "admin", "volume", "type", "create", "--private", f"priv-{tag}")
    listed_a = volume_env.cli("a_member", "volume", "type", "list")
    assert f"fast-{tag}" in listed_a and f"priv-{tag}" not in listed_a
    volume_env.cli(
        "admin",
        "volume",
        "type",
        "set",
        "--project",
        volume_env.people["a_member"].project_id,
        f"priv-{tag}",
    )
    assert f"priv-{tag}" in volume_env.cli("a_member", "volume", "type", "list")
    vol = _show(
        volume_env,
        "a_member",
        "volume",
        "create",
        "--size",
        "1",
        "--type",
        f"priv-{tag}",
        f"typed-{tag}",
    )
    assert vol["type"] == f"priv-{tag}"
    volume_env.wait(str(vol["id"]), "available", who="a_member")
    refused = volume_env.cli("admin", "volume", "type", "delete", f"priv-{tag}", check=False)
    assert "in use" in refused
    volume_env.cli("a_member", "volume", "delete", str(vol["id"]))
    volume_env.wait(str(vol["id"]), "deleted", who="a_member")
    volume_env.cli("admin", "volume", "type", "unset", "--property", "k", f"fast-{tag}")
    assert _show(volume_env, "admin", "volume", "type", "show", f"fast-{tag}")["properties"] == {}
    refused = volume_env.cli("a_member", "volume", "type", "create", f"x-{tag}", check=False)
    assert "403" in refused or "not authorized" in refused.lower()
    for t in (public["id"], private["id"]):
        volume_env.cli("admin", "volume", "type", "delete", str(t))


def test_services_zones_and_limits(volume_env: Env) -> None:
    services = json.loads(volume_env.cli("admin", "volume", "service", "list", "-f", "json"))
    assert {(s["Binary"], s["State"], s["Status"]) for s in services} == {
        ("cinder-scheduler", "up", "enabled"),
        ("cinder-volume", "up", "enabled"),
    }
    assert [s["Host"].endswith("@file") for s in services if s["Binary"] == "cinder-volume"] == [
        True
    ]
    zones = volume_env.cli("a_member", "availability", "zone", "list", "--volume")
    assert "nova" in zones
    with volume_env.http("a_member") as http:
        absolute = http.get("/limits").json()["limits"]["absolute"]
    assert absolute["maxTotalVolumes"] == 10 and absolute["maxTotalVolumeGigabytes"] == 1000
    assert absolute["maxTotalSnapshots"] == 10
    refused = volume_env.cli("a_member", "volume", "service", "list", check=False)
    assert "403" in refused or "not authorized" in refused.lower()


def test_other_projects_volumes_are_404_and_readers_never_write(volume_env: Env) -> None:
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="mine")
    volume_env.wait(vol.id, "available", who="a_member")
    with volume_env.http("b_member") as http:
        assert http.get(f"/volumes/{vol.id}").status_code == 404
        assert http.put(f"/volumes/{vol.id}", json={"volume": {"name": "x"}}).status_code == 404
        assert http.delete(f"/volumes/{vol.id}").status_code == 404
        assert vol.id not in http.get("/volumes").text
    with volume_env.http("a_reader") as http:
        assert http.get(f"/volumes/{vol.id}").status_code == 200
        resp = http.post("/volumes", json={"volume": {"size": 1}})
        assert resp.status_code == 403 and "forbidden" in resp.json()
        assert http.delete(f"/volumes/{vol.id}").status_code == 403
    conn.block_storage.delete_volume(vol)
    volume_env.wait(vol.id, "deleted", who="a_member")


def test_force_delete_is_for_admins(volume_env: Env) -> None:
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="forced")
    volume_env.wait(vol.id, "available", who="a_member")
    with volume_env.http("admin") as admin:  # an error_deleting volume: only --force goes
        admin.post(f"/volumes/{vol.id}/action", json={"os-reset_status": {"status": "deleting"}})
    refused = volume_env.cli("a_member", "volume", "delete", "--force", vol.id, check=False)
    assert "403" in refused or "not authorized" in refused.lower()
    listed = json.loads(volume_env.cli("admin", "volume", "list", "--all-projects", "-f", "json"))
    assert vol.id in {v["ID"] for v in listed}
    volume_env.cli("admin", "volume", "delete", "--force", vol.id)
    volume_env.wait(vol.id, "deleted")
    assert not any(vol.id in f for f in volume_env.volume_files())


def test_image_metadata_set_and_unset_with_the_cli(volume_env: Env) -> None:
    """`openstack volume set/unset --image-property` (os-set/unset_image_metadata): the
    volume's image metadata, apart from its own properties; unsetting a missing key is 404."""
    tag = uuid.uuid4().hex[:6]
    vol = _show(volume_env, "a_member", "volume", "create", "--size", "1", f"im-{tag}")
    vid = str(vol["id"])
    volume_env.wait(vid, "available", who="a_member")
    volume_env.cli("a_member", "volume", "set", "--image-property", "hw_disk_bus=scsi", vid)
    volume_env.cli("a_member", "volume", "set", "--image-property", "os_distro=debian", vid)
    shown = volume_env.wait(vid, "available", who="a_member")
    assert shown["volume_image_metadata"] == {"hw_disk_bus": "scsi", "os_distro": "debian"}
    assert shown["metadata"] == {}
    volume_env.cli("a_member", "volume", "unset", "--image-property", "hw_disk_bus", vid)
    shown = volume_env.wait(vid, "available", who="a_member")
    assert shown["volume_image_metadata"] == {"os_distro": "debian"}
    with volume_env.http("a_member") as http:
        resp = http.post(
            f"/volumes/{vid}/action", json={"os-unset_image_metadata": {"key": "nope"}}
        )
        assert resp.status_code == 404, resp.text
        listed = http.post(f"/volumes/{vid}/action", json={"os-show_image_metadata": None})
        assert listed.json() == {"metadata": {"os_distro": "debian"}}
    volume_env.cli("a_member", "volume", "delete", vid)
    volume_env.wait(vid, "deleted", who="a_member")


def test_catalog_names_block_storage_and_volumev3(volume_env: Env) -> None:
    """`openstack catalog show`: the volume service under both Cinder v3 types, its URL the
    caller's project's /v3/<project id> (port 8776 by default; the test cloud's own here)."""
    p = volume_env.people["a_member"]
    for kind in ("block-storage", "volumev3"):
        shown = json.loads(volume_env.cli("a_member", "catalog", "show", kind, "-f", "json"))
        assert shown["type"] == kind
        urls = {e["interface"]: e["url"] for e in shown["endpoints"]}
        assert urls["public"] == f"{volume_env.cloud.url('volume')}/v3/{p.project_id}", urls
