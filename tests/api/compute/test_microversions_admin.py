"""Flavors, limits, quotas, aggregates, services, hypervisors, server groups, instance actions
and migrations at the microversions after 2.38 that change them, through raw HTTP, the SDK
and the `openstack` CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot
from tests.nothing_made import nothing_made


def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def test_limits_and_quotas_lose_fields(compute: Compute) -> None:
    absolute = _ok(compute.api("GET", "/limits", version="2.38"))["limits"]["absolute"]
    assert {"maxImageMeta", "maxPersonality", "maxPersonalitySize"} <= set(absolute)
    absolute = _ok(compute.api("GET", "/limits", version="2.39"))["limits"]["absolute"]
    assert "maxImageMeta" not in absolute and "maxPersonality" in absolute
    absolute = _ok(compute.api("GET", "/limits", version="2.57"))["limits"]["absolute"]
    assert not {"maxImageMeta", "maxPersonality", "maxPersonalitySize"} & set(absolute)
    project = compute.conn.current_project_id
    injection = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
    quota = _ok(compute.api("GET", f"/os-quota-sets/{project}", version="2.56"))["quota_set"]
    assert injection <= set(quota)
    quota = _ok(compute.api("GET", f"/os-quota-sets/{project}", version="2.57"))["quota_set"]
    assert not injection & set(quota)
    old = _ok(compute.api("GET", "/os-quota-class-sets/default", version="2.49"))
    assert (
        "floating_ips" in old["quota_class_set"] and "server_groups" not in old["quota_class_set"]
    )
    new = _ok(compute.api("GET", "/os-quota-class-sets/default", version="2.50"))
    assert (
        "floating_ips" not in new["quota_class_set"] and "server_groups" in new["quota_class_set"]
    )
    with nothing_made(compute):
        gone = compute.api(
            "PUT",
            f"/os-quota-sets/{project}",
            version="2.57",
            json={"quota_set": {"injected_files": 3}},
        )
    assert gone.status_code == 400
    # the SDK and CLI ask at their newest versions and still read the limits and quotas
    limits = json.loads(compute.cloud.cli("limits", "show", "--absolute", "-f", "json").stdout)
    assert any(row["Name"] == "max_total_instances" for row in limits)
    assert compute.conn.compute.get_quota_set(str(project)).instances is not None


def test_flavor_description_and_extra_specs(compute: Compute) -> None:
    cli = compute.cloud.cli
    name = f"desc-{uuid.uuid4().hex[:6]}"
    made = json.loads(
        cli(
            "flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "1",
            "--description", "for tests", "--property", "hw:mem_page_size=small", name,
            "-f", "json",
        ).stdout
    )  # fmt: skip
    assert made["description"] == "for tests"
    fid = made["id"]
    assert "description" not in _ok(compute.api("GET", f"/flavors/{fid}", version="2.54"))["flavor"]
    at_255 = _ok(compute.api("GET", f"/flavors/{fid}", version="2.55"))["flavor"]
    assert at_255["description"] == "for tests" and "extra_specs" not in at_255
    at_261 = _ok(compute.api("GET", f"/flavors/{fid}", version="2.61"))["flavor"]
    assert at_261["extra_specs"] == {"hw:mem_page_size": "small"}
    brief = _ok(compute.api("GET", "/flavors", version="2.55"))["flavors"]
    assert {f["id"]: f["description"] for f in brief}[fid] == "for tests"
    assert at_261["swap"] == ""
    assert _ok(compute.api("GET", f"/flavors/{fid}", version="2.75"))["flavor"]["swap"] == 0
    update = {"flavor": {"description": "changed"}}
    assert compute.api("PUT", f"/flavors/{fid}", version="2.54", json=update).status_code == 404
    changed = _ok(compute.api("PUT", f"/flavors/{fid}", version="2.55", json=update))["flavor"]
    assert changed["description"] == "changed"
    with nothing_made(compute):
        early = compute.api(
            "POST",
            "/flavors",
            version="2.54",
            json={"flavor": {"name": "x", "ram": 64, "vcpus": 1, "disk": 1, "description": "d"}},
        )
        renamed = compute.api(
            "PUT", f"/flavors/{fid}", version="2.55", json={"flavor": {"name": "other"}}
        )
    assert early.status_code == 400 and renamed.status_code == 400
    cli("flavor", "delete", fid)


def test_aggregate_uuid_from_2_41(compute: Compute) -> None:
    made = _ok(compute.api("POST", "/os-aggregates", json={"aggregate": {"name": "agg-uuid"}}))
    agg = made["aggregate"]
    assert "uuid" not in agg and "hosts" not in agg and "metadata" not in agg
    shown = _ok(compute.api("GET", f"/os-aggregates/{agg['id']}", version="2.41"))["aggregate"]
    uuid.UUID(shown["uuid"])
    listed = json.loads(compute.cloud.cli("aggregate", "list", "--long", "-f", "json").stdout)
    assert "agg-uuid" in [a["Name"] for a in listed]
    compute.api("DELETE", f"/os-aggregates/{agg['id']}")


def test_services_by_uuid_from_2_53(compute: Compute) -> None:
    cli = compute.cloud.cli
    services = _ok(compute.api("GET", "/os-services", version="2.53"))["services"]
    svc = next(s for s in services if s["binary"] == "nova-compute")
    uuid.UUID(svc["id"])
    old = _ok(compute.api("GET", "/os-services", version="2.52"))["services"]
    assert all(isinstance(s["id"], int) for s in old)
    path = f"/os-services/{svc['id']}"
    body = {"status": "disabled", "disabled_reason": "testing 2.53"}
    done = _ok(compute.api("PUT", path, version="2.53", json=body))["service"]
    assert done["status"] == "disabled" and done["disabled_reason"] == "testing 2.53"
    assert done["id"] == svc["id"] and done["forced_down"] is False
    # the CLI asks at 2.53+ too: it enables through PUT /os-services/{uuid}
    cli("compute", "service", "set", "--enable", svc["host"], "nova-compute")
    after = _ok(compute.api("GET", "/os-services", version="2.53"))["services"]
    assert next(s for s in after if s["id"] == svc["id"])["status"] == "enabled"
    conductor = next(s for s in services if s["binary"] == "nova-conductor")
    with nothing_made(compute):
        empty = compute.api("PUT", path, version="2.53", json={})
        both = compute.api(
            "PUT", path, version="2.53", json={"status": "enabled", "disabled_reason": "x"}
        )
        action = compute.api(
            "PUT",
            "/os-services/disable",
            version="2.53",
            json={"host": svc["host"], "binary": "nova-compute"},
        )
        other = compute.api(
            "PUT", f"/os-services/{conductor['id']}", version="2.53", json={"status": "disabled"}
        )
        by_number = compute.api("DELETE", "/os-services/1", version="2.53")
    for resp in (empty, both, action, other, by_number):
        assert resp.status_code == 400, resp.text
    assert "Invalid uuid" in action.text


def test_hypervisors_by_uuid_then_without_statistics(compute: Compute) -> None:
    detail = _ok(compute.api("GET", "/os-hypervisors/detail", version="2.53"))["hypervisors"]
    first = detail[0]
    uuid.UUID(first["id"]) and uuid.UUID(first["service"]["id"])
    assert "vcpus" in first and "uptime" not in first
    host = first["hypervisor_hostname"]
    matched = _ok(
        compute.api(
            "GET",
            f"/os-hypervisors?hypervisor_hostname_pattern={host}&with_servers=true",
            version="2.75",
        )
    )["hypervisors"]
    assert [h["hypervisor_hostname"] for h in matched] == [host]
    assert isinstance(matched[0]["servers"], list)  # shown even when empty from 2.75
    page = _ok(compute.api("GET", "/os-hypervisors?limit=1", version="2.53"))["hypervisors"]
    assert len(page) == 1
    rest = compute.api("GET", f"/os-hypervisors?marker={page[0]['id']}", version="2.53")
    assert page[0]["id"] not in [h["id"] for h in _ok(rest)["hypervisors"]]
    assert compute.api("GET", f"/os-hypervisors/{host}/search", version="2.53").status_code == 404
    assert compute.api("GET", "/os-hypervisors/1", version="2.53").status_code == 400
    shown = _ok(compute.api("GET", f"/os-hypervisors/{first['id']}", version="2.88"))
    assert "vcpus" not in shown["hypervisor"] and "uptime" in shown["hypervisor"]
    assert "cpu_info" not in shown["hypervisor"]
    stats = compute.api("GET", "/os-hypervisors/statistics", version="2.88")
    assert stats.status_code == 404
    uptime = compute.api("GET", f"/os-hypervisors/{first['id']}/uptime", version="2.88")
    assert uptime.status_code == 404
    # the CLI (at 2.88) still lists and shows them
    cli = compute.cloud.cli
    listed = json.loads(cli("hypervisor", "list", "-f", "json").stdout)
    assert sorted(h["Hypervisor Hostname"] for h in listed) == compute.hosts
    assert json.loads(cli("hypervisor", "show", host, "-f", "json").stdout)["state"] == "up"


def test_server_group_policy_and_rules_from_2_64(compute: Compute) -> None:
    body = {
        "server_group": {
            "name": "g264",
            "policy": "anti-affinity",
            "rules": {"max_server_per_host": 1},
        }
    }
    made = _ok(compute.api("POST", "/os-server-groups", version="2.64", json=body))["server_group"]
    assert made["policy"] == "anti-affinity" and made["rules"] == {"max_server_per_host": 1}
    assert "policies" not in made and "metadata" not in made
    old = _ok(compute.api("GET", f"/os-server-groups/{made['id']}", version="2.63"))
    assert old["server_group"]["policies"] == ["anti-affinity"]
    sid = boot(compute, scheduler_hints={"group": made["id"]}).id
    shown = _ok(compute.api("GET", f"/servers/{sid}", version="2.71"))["server"]
    assert shown["server_groups"] == [made["id"]]
    compute.conn.compute.delete_server(sid)
    with nothing_made(compute):
        legacy = compute.api(
            "POST",
            "/os-server-groups",
            version="2.64",
            json={"server_group": {"name": "x", "policies": ["affinity"]}},
        )
        ruled = compute.api(
            "POST",
            "/os-server-groups",
            version="2.64",
            json={
                "server_group": {
                    "name": "x",
                    "policy": "affinity",
                    "rules": {"max_server_per_host": 1},
                }
            },
        )
    assert legacy.status_code == 400 and ruled.status_code == 400
    compute.api("DELETE", f"/os-server-groups/{made['id']}")


def test_instance_actions_paging_and_event_hosts(compute: Compute) -> None:
    server = boot(compute)
    compute.conn.compute.stop_server(server)
    compute.conn.compute.wait_for_server(server, status="SHUTOFF", wait=60, interval=0.2)
    path = f"/servers/{server.id}/os-instance-actions"
    actions = _ok(compute.api("GET", path, version="2.58"))["instanceActions"]
    assert [a["action"] for a in actions] == ["stop", "create"]
    assert all("updated_at" in a for a in actions)
    assert "updated_at" not in _ok(compute.api("GET", path, version="2.57"))["instanceActions"][0]
    page = _ok(compute.api("GET", f"{path}?limit=1", version="2.58"))
    assert [a["action"] for a in page["instanceActions"]] == ["stop"]
    marker = page["instanceActions"][0]["request_id"]
    rest = _ok(compute.api("GET", f"{path}?marker={marker}", version="2.58"))["instanceActions"]
    assert [a["action"] for a in rest] == ["create"]
    create_id = rest[0]["request_id"]
    detail = _ok(compute.api("GET", f"{path}/{create_id}", version="2.62"))["instanceAction"]
    hosts = {e["host"] for e in detail["events"]}
    assert all(e["hostId"] for e in detail["events"]) and None not in hosts
    assert compute.api("GET", f"{path}?limit=1", version="2.57").status_code == 200
    assert compute.api("GET", f"{path}?foo=1", version="2.58").status_code == 400
    compute.conn.compute.delete_server(server)


def test_migrations_uuid_paging_and_owners(compute: Compute) -> None:
    flavor = compute.conn.compute.create_flavor(
        name=f"mig-{uuid.uuid4().hex[:6]}", ram=128, vcpus=1, disk=1
    )
    server = boot(compute)
    compute.conn.compute.resize_server(server, flavor.id)
    compute.conn.compute.wait_for_server(server, status="VERIFY_RESIZE", wait=60, interval=0.2)
    query = f"/os-migrations?instance_uuid={server.id}"
    old = _ok(compute.api("GET", query, version="2.58"))["migrations"][0]
    assert "uuid" not in old and "user_id" not in old
    paged = _ok(compute.api("GET", f"{query}&limit=1", version="2.59"))
    mig = paged["migrations"][0]
    uuid.UUID(mig["uuid"])
    assert "migrations_links" in paged
    owned = _ok(compute.api("GET", f"{query}&user_id={mig_user(compute)}", version="2.80"))
    assert owned["migrations"][0]["project_id"] == compute.conn.current_project_id
    assert compute.api("GET", f"{query}&user_id=x", version="2.79").status_code == 400
    listed = json.loads(compute.cloud.cli("server", "migration", "list", "-f", "json").stdout)
    assert mig["uuid"] in [m.get("UUID") for m in listed]
    compute.conn.compute.confirm_server_resize(server)
    compute.conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
    compute.conn.compute.delete_server(server)
    compute.conn.compute.delete_flavor(flavor)


def mig_user(compute: Compute) -> str:
    return str(compute.conn.current_user_id)


def test_keypairs_imported_only_from_2_92(compute: Compute, tmp_path: Path) -> None:
    generated = _ok(
        compute.api("POST", "/os-keypairs", version="2.91", json={"keypair": {"name": "gen"}}),
        201,
    )["keypair"]
    assert generated["private_key"].startswith("-----BEGIN")
    public = generated["public_key"]
    with nothing_made(compute):
        no_key = compute.api(
            "POST", "/os-keypairs", version="2.92", json={"keypair": {"name": "nokey"}}
        )
        dotted_early = compute.api(
            "POST",
            "/os-keypairs",
            version="2.91",
            json={"keypair": {"name": "me@host.x", "public_key": public}},
        )
    assert no_key.status_code == 400 and dotted_early.status_code == 400
    dotted = compute.api(
        "POST",
        "/os-keypairs",
        version="2.92",
        json={"keypair": {"name": "me@host.x", "public_key": public}},
    )
    assert _ok(dotted, 201)["keypair"]["name"] == "me@host.x"
    assert compute.api("GET", "/os-keypairs?foo=1", version="2.75").status_code == 400
    # the CLI makes the key itself from 2.92 and imports it
    private = tmp_path / "cli-key.pem"
    made = json.loads(
        compute.cloud.cli(
            "keypair", "create", "--private-key", str(private), "cli-key", "-f", "json"
        ).stdout
    )
    assert made["name"] == "cli-key" and private.read_text().startswith("-----BEGIN")
    for name in ("gen", "me@host.x", "cli-key"):
        compute.api("DELETE", f"/os-keypairs/{name}")


def test_external_event_names_arrive_with_their_microversions(compute: Compute) -> None:
    server = boot(compute)
    event = {"name": "power-update", "server_uuid": server.id, "tag": "POWER_OFF"}
    with nothing_made(compute):
        early = compute.api(
            "POST", "/os-server-external-events", version="2.75", json={"events": [event]}
        )
        reimaged = compute.api(
            "POST",
            "/os-server-external-events",
            version="2.92",
            json={"events": [{"name": "volume-reimaged", "server_uuid": server.id}]},
        )
    assert early.status_code == 400 and reimaged.status_code == 400
    accepted = compute.api(
        "POST", "/os-server-external-events", version="2.76", json={"events": [event]}
    )
    assert accepted.status_code == 200, accepted.text
    compute.conn.compute.delete_server(server)
