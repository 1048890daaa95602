"""Networks, subnets and ports with the unmodified `openstack` CLI and openstacksdk:
create/list/show/set/delete, segments (VNI, MTU), filters, sorting, pagination with links,
`fields=`, tags, revision_number with If-Match, and version discovery and extensions."""

from __future__ import annotations

import json

import httpx

from tests.api.network.conftest import Env


def test_version_discovery_and_extensions(net_env: Env) -> None:
    root = httpx.get(net_env.url + "/", timeout=30).json()
    assert root["versions"][0]["id"] == "v2.0"
    assert root["versions"][0]["status"] == "CURRENT"
    with net_env.http() as c:
        assert "resources" in c.get("/v2.0").json()
        aliases = {e["alias"] for e in c.get("/v2.0/extensions").json()["extensions"]}
        assert {"provider", "binding", "standard-attr-tag", "revision-if-match"} <= aliases
        assert "dvr" not in aliases
        assert c.get("/v2.0/extensions/provider").json()["extension"]["alias"] == "provider"
        assert c.get("/v2.0/extensions/nope").status_code == 404
    found = {e.alias for e in net_env.admin.network.extensions()}
    assert found == aliases


def test_cli_network_lifecycle(net_env: Env) -> None:
    name = net_env.name("cli")
    made = json.loads(net_env.cli("admin", "network", "create", name, "-f", "json"))
    assert made["mtu"] == 1450
    assert made["provider:network_type"] == "vxlan"
    low, high = 1, 1000
    assert low <= made["provider:segmentation_id"] <= high
    net_env.cli("admin", "network", "set", "--description", "hello", "--tag", "blue", name)
    shown = json.loads(net_env.cli("admin", "network", "show", name, "-f", "json"))
    assert shown["description"] == "hello"
    assert shown["tags"] == ["blue"]
    assert shown["revision_number"] > made["revision_number"]
    listed = json.loads(net_env.cli("admin", "network", "list", "--tags", "blue", "-f", "json"))
    assert [n["Name"] for n in listed] == [name]
    net_env.cli("admin", "network", "delete", name)
    gone = net_env.cli("admin", "network", "show", name, check=False)
    assert "No Network found" in gone or "could not be found" in gone


def test_cli_subnet_and_port_with_options(net_env: Env) -> None:
    net = net_env.name("cli")
    net_env.cli("a_member", "network", "create", net)
    sub = json.loads(
        net_env.cli(
            "a_member",
            "subnet",
            "create",
            "--network",
            net,
            "--subnet-range",
            "10.1.0.0/24",
            "--dns-nameserver",
            "10.1.0.53",
            "--host-route",
            "destination=10.9.0.0/16,gateway=10.1.0.254",
            "--allocation-pool",
            "start=10.1.0.100,end=10.1.0.150",
            net + "-sub",
            "-f",
            "json",
        )
    )
    assert sub["gateway_ip"] == "10.1.0.1"
    assert sub["dns_nameservers"] == ["10.1.0.53"]
    assert sub["allocation_pools"] == [{"start": "10.1.0.100", "end": "10.1.0.150"}]
    assert sub["host_routes"] == [{"destination": "10.9.0.0/16", "nexthop": "10.1.0.254"}]
    port = json.loads(
        net_env.cli(
            "a_member",
            "port",
            "create",
            "--network",
            net,
            "--fixed-ip",
            f"subnet={sub['id']},ip-address=10.1.0.120",
            net + "-port",
            "-f",
            "json",
        )
    )
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.120"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["status"] == "DOWN"
    assert len(port["security_group_ids"]) == 1
    found = json.loads(
        net_env.cli("a_member", "port", "list", "--fixed-ip", "ip-address=10.1.0.120", "-f", "json")
    )
    assert [p["ID"] for p in found] == [port["id"]]
    net_env.cli("a_member", "port", "delete", port["id"])
    net_env.cli("a_member", "subnet", "delete", sub["id"])
    net_env.cli("a_member", "network", "delete", net)


def test_provider_attributes_only_for_admins(net_env: Env) -> None:
    net = net_env.network()
    assert "provider:segmentation_id" not in net
    with net_env.http() as c:
        seen = c.get(f"/v2.0/networks/{net['id']}").json()["network"]
        assert seen["provider:network_type"] == "vxlan"
        flat = c.post(
            "/v2.0/networks",
            json={
                "network": {
                    "name": net_env.name("flat"),
                    "provider:network_type": "flat",
                    "provider:physical_network": "public",
                    "router:external": True,
                }
            },
        )
        assert flat.status_code == 201, flat.text
        body = flat.json()["network"]
        assert body["mtu"] == 1500
        assert body["provider:segmentation_id"] is None
        assert c.delete(f"/v2.0/networks/{body['id']}").status_code == 204
        taken = c.post(
            "/v2.0/networks",
            json={
                "network": {
                    "provider:network_type": "vxlan",
                    "provider:segmentation_id": seen["provider:segmentation_id"],
                }
            },
        )
        assert taken.status_code == 409


def test_sdk_filters_sorting_pagination_and_fields(net_env: Env) -> None:
    conn = net_env.people["b_member"].conn
    tag = net_env.name("page")
    made = []
    for i in range(5):
        net = conn.network.create_network(name=f"{tag}-{i}", description="pg")
        conn.network.set_tags(net, [tag])
        made.append(net.id)
    listed = list(conn.network.networks(tags=tag, sort_key="name", sort_dir="desc", limit=2))
    assert [n.name for n in listed] == [f"{tag}-{i}" for i in (4, 3, 2, 1, 0)]
    with net_env.http("b_member") as c:
        page = c.get("/v2.0/networks", params={"tags": tag, "limit": 2, "sort_key": "name"}).json()
        assert [n["name"] for n in page["networks"]] == [f"{tag}-0", f"{tag}-1"]
        nxt = next(link for link in page["networks_links"] if link["rel"] == "next")
        second = c.get(nxt["href"]).json()
        assert [n["name"] for n in second["networks"]] == [f"{tag}-2", f"{tag}-3"]
        assert any(link["rel"] == "previous" for link in second["networks_links"])
        trimmed = c.get("/v2.0/networks", params={"tags": tag, "fields": ["id", "name"]}).json()[
            "networks"
        ]
        assert all(set(n) == {"id", "name"} for n in trimmed)
        bad = c.get("/v2.0/networks", params={"colour": "red"})
        assert bad.status_code == 400
        filtered = c.get("/v2.0/networks", params={"name": f"{tag}-3"}).json()["networks"]
        assert [n["id"] for n in filtered] == [made[3]]
    for net_id in made:
        conn.network.delete_network(net_id)


def test_if_match_revision_number(net_env: Env) -> None:
    net = net_env.network()
    with net_env.http("a_member") as c:
        stale = {"If-Match": f"revision_number={net['revision_number'] + 5}"}
        resp = c.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "x"}}, headers=stale)
        assert resp.status_code == 412
        assert resp.json()["NeutronError"]["type"] == "RevisionNumberConstraintFailed"
        fresh = {"If-Match": f"revision_number={net['revision_number']}"}
        resp = c.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "x"}}, headers=fresh)
        assert resp.status_code == 200
        assert resp.json()["network"]["revision_number"] == net["revision_number"] + 1


def test_tags_api(net_env: Env) -> None:
    net = net_env.network()
    base = f"/v2.0/networks/{net['id']}/tags"
    with net_env.http("a_member") as c:
        assert c.put(base, json={"tags": ["a", "b"]}).json() == {"tags": ["a", "b"]}
        assert c.put(base + "/c").status_code == 201
        assert c.get(base + "/c").status_code == 204
        assert c.get(base).json() == {"tags": ["a", "b", "c"]}
        assert c.delete(base + "/a").status_code == 204
        assert c.get(base + "/a").status_code == 404
        assert c.delete(base).status_code == 204
        assert c.get(base).json() == {"tags": []}
