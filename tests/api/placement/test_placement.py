"""The Placement API (port 8778) through openstacksdk and raw HTTP: each fake host is a
resource provider with VCPU, MEMORY_MB and DISK_GB inventories; a server's flavor is its
allocation there while it lives."""

from __future__ import annotations

import time

import httpx

from tests.api.compute.conftest import Compute


def placement(compute: Compute, path: str, version: str = "1.14") -> httpx.Response:
    return httpx.get(
        f"{compute.cloud.url('placement')}{path}",
        timeout=30,
        headers={
            "X-Auth-Token": compute.conn.auth_token,
            "OpenStack-API-Version": f"placement {version}",
        },
    )


def test_providers_and_inventories_with_the_sdk(compute: Compute) -> None:
    providers = list(compute.conn.placement.resource_providers())
    assert sorted(p.name for p in providers) == compute.hosts
    inventories = placement(compute, f"/resource_providers/{providers[0].id}/inventories").json()
    assert set(inventories["inventories"]) == {"VCPU", "MEMORY_MB", "DISK_GB"}
    assert inventories["inventories"]["MEMORY_MB"]["reserved"] == 512


def test_server_allocation_lives_with_the_server(compute: Compute) -> None:
    server = compute.conn.compute.create_server(
        name="alloc", image_id=compute.image_id, flavor_id=compute.flavor_id, networks="none"
    )
    server = compute.conn.compute.wait_for_server(server, wait=60, interval=0.2)
    allocations = placement(compute, f"/allocations/{server.id}").json()["allocations"]
    (resources,) = [a["resources"] for a in allocations.values()]
    assert resources == {"VCPU": 1, "MEMORY_MB": 64, "DISK_GB": 1}
    compute.conn.compute.delete_server(server)
    compute.conn.compute.wait_for_delete(server, wait=60)
    for _ in range(100):
        if placement(compute, f"/allocations/{server.id}").json()["allocations"] == {}:
            return
        time.sleep(0.1)
    raise AssertionError("allocation outlived its server")


def test_versions_and_bad_microversion(compute: Compute) -> None:
    root = placement(compute, "/").json()
    assert root["versions"][0]["max_version"] == "1.14"
    assert placement(compute, "/resource_providers", version="1.99").status_code == 406
