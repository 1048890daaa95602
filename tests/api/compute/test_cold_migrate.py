"""Cold migration on 3 fake hosts through the `openstack` CLI: `server migrate [--host]` →
VERIFY_RESIZE on another host → `server migrate confirm` / `revert`. While it waits, placement
holds the destination's allocation for the server and the source's for the migration (its
uuid as consumer, as Nova); confirm frees the source's, revert gives it back to the server.
Bad hosts are 400 and a server in the wrong state 409, with Nova's messages."""

from __future__ import annotations

import json
import time
from typing import Any

from ministack.compute import claims
from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for
from tests.cloud import Cloud

V = ("--os-compute-api-version", "2.80")


def node_uuid(c: Compute, host: str) -> str:
    """The host's resource provider (its compute node's uuid)."""
    return claims.node_uuid(host)


def migrations(c: Compute, server_id: str) -> list[dict[str, Any]]:
    resp = c.api("GET", "/os-migrations", version="2.80", params={"instance_uuid": server_id})
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()["migrations"]
    return rows


def action(c: Compute, server_id: str, body: dict[str, Any], version: str = "2.80") -> Any:
    return c.api("POST", f"/servers/{server_id}/action", version=version, json=body)


def cli(cloud: Cloud, *args: str) -> Any:
    return cloud.cli(*V, *args)


def test_cold_migrate_to_a_named_host_then_confirm(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    cli(c.cloud, "server", "migrate", "--host", target, "--wait", server.id)
    moved = wait_for(c, server.id, status="VERIFY_RESIZE", task_state=None)
    assert moved.compute_host == target
    (mig,) = migrations(c, server.id)
    assert (mig["migration_type"], mig["status"]) == ("migration", "finished")
    assert (mig["source_compute"], mig["dest_compute"]) == (source, target)
    assert mig["old_instance_type_id"] == mig["new_instance_type_id"]
    # the server holds the destination, the migration the source
    assert set(c.allocations(server.id)) == {node_uuid(c, target)}
    assert set(c.allocations(mig["uuid"])) == {node_uuid(c, source)}
    assert server.id in c.guests(source) and server.id in c.guests(target)
    cli(c.cloud, "server", "migrate", "confirm", server.id)
    done = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert done.compute_host == target and done.power_state == 1
    assert c.allocations(mig["uuid"]) == {}
    assert set(c.allocations(server.id)) == {node_uuid(c, target)}
    assert server.id not in c.guests(source)
    assert [m["status"] for m in migrations(c, server.id)] == ["confirmed"]
    shown = json.loads(
        cli(c.cloud, "server", "migration", "list", "--server", server.id, "-f", "json").stdout
    )
    assert [(r["Type"], r["Status"]) for r in shown] == [("migration", "confirmed")]
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
    assert c.allocations(server.id) == {}


def test_cold_migrate_revert_gives_the_source_back(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    c.conn.compute.stop_server(server)
    wait_for(c, server.id, status="SHUTOFF", task_state=None)
    cli(c.cloud, "server", "migrate", server.id)  # the scheduler picks
    moved = wait_for(c, server.id, status="VERIFY_RESIZE", task_state=None)
    assert moved.compute_host != source
    (mig,) = migrations(c, server.id)
    cli(c.cloud, "server", "migrate", "revert", server.id)
    back = wait_for(c, server.id, status="SHUTOFF", task_state=None)
    assert back.compute_host == source
    assert set(c.allocations(server.id)) == {node_uuid(c, source)}
    assert c.allocations(mig["uuid"]) == {}
    assert server.id not in c.guests(moved.compute_host)
    assert [m["status"] for m in migrations(c, server.id)] == ["reverted"]
    c.conn.compute.delete_server(server)


def test_cold_migrate_refuses_bad_hosts_and_states(compute: Compute) -> None:
    c = compute
    server = boot(c)
    unknown = action(c, server.id, {"migrate": {"host": "no-such-host"}})
    assert unknown.status_code == 400
    assert (
        unknown.json()["badRequest"]["message"] == "Compute host no-such-host could not be found."
    )
    itself = action(c, server.id, {"migrate": {"host": server.compute_host}})
    assert itself.status_code == 400
    assert "to current host" in itself.json()["badRequest"]["message"]
    extra = action(c, server.id, {"migrate": {"host": server.compute_host, "x": 1}})
    assert extra.status_code == 400
    assert migrations(c, server.id) == []  # nothing recorded for a refused request
    c.conn.compute.pause_server(server)
    wait_for(c, server.id, status="PAUSED", task_state=None)
    paused = action(c, server.id, {"migrate": None})
    assert paused.status_code == 409
    assert "vm_state paused" in paused.json()["conflictingRequest"]["message"]
    c.conn.compute.delete_server(server)


def test_cold_migrate_to_a_disabled_host_is_no_valid_host(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    cli(c.cloud, "compute", "service", "set", "--disable", target, "nova-compute")
    try:
        assert action(c, server.id, {"migrate": {"host": target}}).status_code == 202
        (mig,) = migrations(c, server.id)
        for _ in range(300):
            if migrations(c, server.id)[0]["status"] == "error":
                break
            time.sleep(0.1)
        back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    finally:
        cli(c.cloud, "compute", "service", "set", "--enable", target, "nova-compute")
    assert back.compute_host == source
    assert migrations(c, server.id)[0]["status"] == "error"
    assert set(c.allocations(server.id)) == {node_uuid(c, source)}
    assert c.allocations(mig["uuid"]) == {}
    request_id = c.api("GET", f"/servers/{server.id}/os-instance-actions").json()[
        "instanceActions"
    ][0]["request_id"]
    detail = c.api("GET", f"/servers/{server.id}/os-instance-actions/{request_id}").json()
    events = detail["instanceAction"]["events"]
    assert any("No valid host" in (e.get("traceback") or "") for e in events), events
    c.conn.compute.delete_server(server)
