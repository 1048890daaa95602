"""The unmodified `openstack resource ...` commands of osc-placement against port 8778."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.compute.conftest import Compute
from tests.api.placement.test_placement import placement


def cli_json(compute: Compute, *args: str) -> Any:
    return json.loads(compute.cloud.cli(*args, "-f", "json").stdout)


def test_resource_provider_commands(compute: Compute) -> None:
    providers = cli_json(compute, "resource", "provider", "list")
    assert sorted(p["name"] for p in providers) == compute.hosts
    rp = providers[0]["uuid"]
    shown = cli_json(compute, "resource", "provider", "show", rp)
    assert shown["uuid"] == rp and shown["name"] == providers[0]["name"]
    inventory = cli_json(compute, "resource", "provider", "inventory", "list", rp)
    assert {i["resource_class"] for i in inventory} == {"VCPU", "MEMORY_MB", "DISK_GB"}
    memory = next(i for i in inventory if i["resource_class"] == "MEMORY_MB")
    assert memory["reserved"] == 512 and memory["allocation_ratio"] == 1.5
    usages = cli_json(compute, "resource", "provider", "usage", "show", rp)
    assert {u["resource_class"] for u in usages} >= {"VCPU", "MEMORY_MB", "DISK_GB"}
    classes = {c["name"] for c in cli_json(compute, "resource", "class", "list")}
    assert {"VCPU", "MEMORY_MB", "DISK_GB"} <= classes


def test_unknown_provider_is_a_placement_error(compute: Compute) -> None:
    missing = str(uuid.uuid4())
    result = compute.cloud.cli("resource", "provider", "show", missing, check=False)
    assert result.returncode != 0 and f"No resource provider with uuid {missing}" in result.stderr
    body = placement(compute, f"/resource_providers/{missing}").json()
    (error,) = body["errors"]
    assert error["status"] == 404 and error["title"] == "Not Found"
    assert missing in error["detail"] and error["request_id"].startswith("req-")
