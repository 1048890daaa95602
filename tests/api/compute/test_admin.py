"""Admin resources through the CLI: aggregates as availability zones, services, hypervisors,
server groups; createImage into the image service; the external events API."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for


def test_aggregate_zone_places_servers(compute: Compute) -> None:
    cli = compute.cloud.cli
    zone, name = f"az-{uuid.uuid4().hex[:4]}", f"agg-{uuid.uuid4().hex[:4]}"
    host = compute.hosts[1]
    cli("aggregate", "create", "--zone", zone, name)
    cli("aggregate", "add", "host", name, host)
    zones = json.loads(cli("availability", "zone", "list", "-f", "json").stdout)
    assert {"Zone Name": zone, "Zone Status": "available"} in zones
    server = boot(compute, availability_zone=zone)
    assert server.compute_host == host and server.availability_zone == zone
    compute.conn.compute.delete_server(server)
    compute.conn.compute.wait_for_delete(server, wait=60)
    cli("aggregate", "remove", "host", name, host)
    cli("aggregate", "delete", name)


def test_services_and_hypervisors(compute: Compute) -> None:
    cli = compute.cloud.cli
    services = json.loads(cli("compute", "service", "list", "-f", "json").stdout)
    binaries = {s["Binary"] for s in services}
    assert binaries == {"nova-compute", "nova-conductor", "nova-scheduler"}
    assert all(s["State"] == "up" for s in services)
    hypervisors = json.loads(cli("hypervisor", "list", "-f", "json").stdout)
    assert sorted(h["Hypervisor Hostname"] for h in hypervisors) == compute.hosts
    shown = json.loads(cli("hypervisor", "show", compute.hosts[0], "-f", "json").stdout)
    assert shown["state"] == "up" and shown["hypervisor_type"] == "fake"
    matching = json.loads(
        cli("hypervisor", "list", "--matching", compute.hosts[0], "-f", "json").stdout
    )
    assert [h["Hypervisor Hostname"] for h in matching] == [compute.hosts[0]]
    stats = compute.api("GET", "/os-hypervisors/statistics").json()["hypervisor_statistics"]
    assert stats["count"] == 3 and stats["vcpus"] == 48


def test_server_group_cli(compute: Compute) -> None:
    cli = compute.cloud.cli
    name = f"g-{uuid.uuid4().hex[:4]}"
    made = json.loads(
        cli(
            "server", "group", "create", "--policy", "soft-anti-affinity", name, "-f", "json"
        ).stdout
    )
    # the CLI negotiates 2.64+, where a group has one `policy` (and `rules`)
    assert made["policy"] == "soft-anti-affinity"
    cli("server", "group", "delete", name)


def test_create_image_snapshots_into_the_image_service(compute: Compute) -> None:
    server = boot(compute)
    image_name = f"snap-{uuid.uuid4().hex[:4]}"
    compute.cloud.cli("server", "image", "create", "--name", image_name, "--wait", server.id)
    image = compute.conn.image.find_image(image_name)
    raw = httpx.get(
        f"{compute.cloud.url('image')}/v2/images/{image.id}",
        timeout=30,
        headers={"X-Auth-Token": compute.conn.auth_token},
    ).json()
    assert raw["status"] == "active" and raw["instance_uuid"] == server.id
    wait_for(compute, server.id, status="ACTIVE", task_state=None)
    compute.conn.image.delete_image(image)
    compute.conn.compute.delete_server(server)


def test_external_events(compute: Compute) -> None:
    server = boot(compute)
    events = [
        {"name": "network-vif-plugged", "server_uuid": server.id, "tag": "port-1"},
        {"name": "network-vif-plugged", "server_uuid": str(uuid.uuid4())},
    ]
    resp = compute.api("POST", "/os-server-external-events", json={"events": events})
    assert resp.status_code == 207
    assert [e["code"] for e in resp.json()["events"]] == [200, 404]
    compute.conn.compute.delete_server(server)
