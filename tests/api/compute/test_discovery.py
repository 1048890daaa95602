"""Discovery and quota classes as Nova serves them: the root version document (v2.0 then
v2.1), the /extensions list, and os-quota-class-sets show/update (the default class is
every project's default)."""

from __future__ import annotations

import uuid

import httpx

from tests.api.compute.conftest import Compute


def test_root_lists_v2_0_then_v2_1(compute: Compute) -> None:
    base = compute.cloud.url("compute").split("/v2.1")[0]
    versions = httpx.get(f"{base}/", timeout=30).json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    legacy, current = versions
    assert (legacy["status"], legacy["version"], legacy["min_version"]) == ("SUPPORTED", "", "")
    assert legacy["links"][0]["href"].endswith("/v2/")
    assert current["status"] == "CURRENT" and current["min_version"] == "2.1"
    v2 = httpx.get(f"{base}/v2/", timeout=30).json()["version"]
    assert v2["id"] == "v2.0" and v2["media-types"][0]["type"].endswith("version=2")
    # the SDK still finds and uses v2.1 with both listed
    assert compute.conn.compute.get_flavor(compute.flavor_id).id == compute.flavor_id


def test_extensions_list_and_show(compute: Compute) -> None:
    listed = compute.api("GET", "/extensions").json()["extensions"]
    aliases = [e["alias"] for e in listed]
    assert aliases == sorted(aliases)
    assert {"os-simple-tenant-usage", "os-hosts", "os-flavor-access", "OS-EXT-STS"} <= set(aliases)
    assert set(listed[0]) == {"name", "alias", "description", "namespace", "updated", "links"}
    shown = compute.api("GET", "/extensions/os-hosts").json()["extension"]
    assert shown["name"] == "Hosts"
    assert compute.api("GET", "/extensions/os-no-such").status_code == 404
    cli = compute.cloud.cli("extension", "list", "--compute", "-f", "json")
    assert "os-simple-tenant-usage" in cli.stdout


def test_quota_class_show_and_update(compute: Compute) -> None:
    name = f"gold{uuid.uuid4().hex[:6]}"
    shown = compute.api("GET", f"/os-quota-class-sets/{name}").json()["quota_class_set"]
    assert shown["id"] == name and shown["instances"] == 10 and shown["floating_ips"] == 10
    assert "server_groups" not in shown  # hidden before 2.50, as Nova does
    put = compute.api(
        "PUT", f"/os-quota-class-sets/{name}", json={"quota_class_set": {"instances": 50}}
    )
    assert put.status_code == 200, put.text
    assert "id" not in put.json()["quota_class_set"]
    assert put.json()["quota_class_set"]["instances"] == 50
    again = compute.api("GET", f"/os-quota-class-sets/{name}").json()["quota_class_set"]
    assert again["instances"] == 50
    bad = compute.api("PUT", f"/os-quota-class-sets/{name}", json={"quota_class_set": {"bogus": 1}})
    assert bad.status_code == 400
    # the default class is every project's default; the CLI's --default sets it
    project = compute.conn.current_project_id
    compute.cloud.cli("quota", "set", "--default", "--injected-files", "7")
    try:
        defaults = compute.api("GET", f"/os-quota-sets/{project}/defaults").json()
        assert defaults["quota_set"]["injected_files"] == 7
        mine = compute.api("GET", f"/os-quota-sets/{project}").json()["quota_set"]
        assert mine["injected_files"] == 7
        sdk = compute.conn.compute.get_quota_class_set("default")
        assert sdk.injected_files == 7
    finally:
        compute.cloud.cli("quota", "set", "--default", "--injected-files", "5")
    assert (
        compute.api("GET", f"/os-quota-sets/{project}").json()["quota_set"]["injected_files"] == 5
    )
