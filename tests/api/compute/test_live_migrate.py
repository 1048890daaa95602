"""Live migration on 3 fake hosts, driven with the `openstack` CLI and openstacksdk: the
server is MIGRATING while the fake copy runs (its delay is data), the in-progress migration is
listed and shown (/servers/{id}/migrations), can be forced to complete or aborted, and a copy
that breaks leaves the server ACTIVE on its source with its allocations as before. While the
copy runs the server holds the destination's allocation and the migration's uuid the
source's (Nova's migration consumer)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ministack.compute.claims import node_uuid
from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for

V = ("--os-compute-api-version", "2.80")
HOLD = 120.0  # the fake copy's length: far longer than any test waits (abort/force end it)


def migrations(c: Compute, server_id: str) -> list[dict[str, Any]]:
    resp = c.api("GET", "/os-migrations", version="2.80", params={"instance_uuid": server_id})
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()["migrations"]
    return rows


def wait_migration(c: Compute, server_id: str, status: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for _ in range(300):
        rows = migrations(c, server_id)
        if rows and rows[0]["status"] == status:
            return rows[0]
        time.sleep(0.1)
    raise AssertionError(f"the migration of {server_id} never became {status}: {rows}")


def live(c: Compute, server_id: str, body: dict[str, Any], version: str = "2.80") -> Any:
    return c.api(
        "POST", f"/servers/{server_id}/action", version=version, json={"os-migrateLive": body}
    )


@pytest.fixture
def slow_copy(compute: Compute) -> Iterator[Any]:
    """A server whose host copies for HOLD seconds; the host's settings are reset after."""
    server = boot(compute)
    compute.set_fake(server.compute_host, delay={"live_migrate": HOLD})
    yield server
    compute.set_fake(server.compute_host)
    compute.conn.compute.delete_server(server.id, ignore_missing=True)


def test_live_migrate_with_the_cli_moves_server_and_allocations(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    c.cloud.cli(*V, "server", "migrate", "--live-migration", "--host", target, "--wait", server.id)
    moved = wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=target)
    assert moved.power_state == 1
    mig = wait_migration(c, server.id, "completed")
    assert (mig["migration_type"], mig["source_compute"], mig["dest_compute"]) == (
        "live-migration",
        source,
        target,
    )
    assert "links" not in mig  # only a migration in progress links to its resource
    assert set(c.allocations(server.id)) == {node_uuid(target)}
    assert c.allocations(mig["uuid"]) == {}
    assert server.id in c.guests(target) and server.id not in c.guests(source)
    listed = json.loads(
        c.cloud.cli(*V, "server", "migration", "list", "--server", server.id, "-f", "json").stdout
    )
    assert [(r["Type"], r["Status"]) for r in listed] == [("live-migration", "completed")]
    gone = c.api("GET", f"/servers/{server.id}/migrations/{mig['id']}", version="2.80")
    assert gone.status_code == 404  # shown only while in progress
    c.conn.compute.delete_server(server)


def test_running_migration_is_shown_then_forced_to_complete(
    compute: Compute, slow_copy: Any
) -> None:
    c, server = compute, slow_copy
    source = server.compute_host
    c.conn.compute.live_migrate_server(server, host=None, block_migration="auto")
    wait_for(c, server.id, status="MIGRATING")
    mig = wait_migration(c, server.id, "running")
    target = mig["dest_compute"]
    assert target not in (None, source)
    assert mig["links"][0]["href"].endswith(f"/servers/{server.id}/migrations/{mig['id']}")
    (shown,) = c.conn.compute.server_migrations(server)
    assert (shown.id, shown.status, shown.dest_compute) == (mig["id"], "running", target)
    # by uuid: the CLI's show by integer id passes server and migration to openstacksdk
    # swapped (python-openstackclient's bug, not the API's), while by uuid it lists
    out = c.cloud.cli(*V, "server", "migration", "show", server.id, mig["uuid"], "-f", "json")
    assert json.loads(out.stdout)["Status"] == "running"
    # while the copy runs: the server holds the destination, the migration the source
    assert set(c.allocations(server.id)) == {node_uuid(target)}
    assert set(c.allocations(mig["uuid"])) == {node_uuid(source)}
    c.cloud.cli(*V, "server", "migration", "force", "complete", server.id, str(mig["id"]))
    done = wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=target)
    assert done.power_state == 1
    assert wait_migration(c, server.id, "completed")["id"] == mig["id"]
    assert c.allocations(mig["uuid"]) == {}
    assert list(c.conn.compute.server_migrations(server)) == []


def test_abort_leaves_the_server_on_its_source(compute: Compute, slow_copy: Any) -> None:
    c, server = compute, slow_copy
    source = server.compute_host
    c.cloud.cli(*V, "server", "migrate", "--live-migration", server.id)
    mig = wait_migration(c, server.id, "running")
    c.cloud.cli(*V, "server", "migration", "abort", server.id, str(mig["id"]))
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.compute_host == source and back.power_state == 1
    assert wait_migration(c, server.id, "cancelled")["id"] == mig["id"]
    assert set(c.allocations(server.id)) == {node_uuid(source)}
    assert c.allocations(mig["uuid"]) == {}
    assert server.id not in c.guests(mig["dest_compute"])


def test_a_failed_copy_rolls_back(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    c.conn.compute.pause_server(server)
    wait_for(c, server.id, status="PAUSED", task_state=None)
    c.set_fake(source, fail={"live_migrate": "injected: the copy broke off"})
    try:
        resp = live(c, server.id, {"host": None, "block_migration": False}, version="2.68")
        assert resp.status_code == 202, resp.text
        mig = wait_migration(c, server.id, "failed")
        back = wait_for(c, server.id, status="PAUSED", task_state=None)
    finally:
        c.set_fake(source)
    assert back.compute_host == source and back.power_state == 3
    assert set(c.allocations(server.id)) == {node_uuid(source)}
    assert c.allocations(mig["uuid"]) == {}
    assert server.id not in c.guests(mig["dest_compute"]) and server.id in c.guests(source)
    actions = c.api("GET", f"/servers/{server.id}/os-instance-actions").json()
    request_id = actions["instanceActions"][0]["request_id"]
    assert actions["instanceActions"][0]["action"] == "live-migration"
    detail = c.api("GET", f"/servers/{server.id}/os-instance-actions/{request_id}").json()
    events = detail["instanceAction"]["events"]
    assert any("the copy broke off" in (e.get("traceback") or "") for e in events), events
    c.conn.compute.delete_server(server)


def test_live_migrate_refusals(compute: Compute) -> None:
    c = compute
    server = boot(c)
    itself = live(c, server.id, {"host": server.compute_host, "block_migration": "auto"})
    assert itself.status_code == 400
    assert itself.json()["badRequest"]["message"] == (
        f"Unable to migrate instance ({server.id}) to current host ({server.compute_host})."
    )
    unknown = live(c, server.id, {"host": "nowhere", "block_migration": "auto"})
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"] == "Compute host nowhere could not be found."
    forced = live(c, server.id, {"host": None, "block_migration": "auto", "force": True})
    assert forced.status_code == 400  # no force from 2.68
    assert live(c, server.id, {"block_migration": "maybe", "host": None}).status_code == 400
    # before 2.25 disk_over_commit is required and "auto" is no boolean
    old = {"host": None, "block_migration": False}
    assert live(c, server.id, old, version="2.24").status_code == 400
    auto = {"host": None, "block_migration": "auto", "disk_over_commit": False}
    assert live(c, server.id, auto, version="2.24").status_code == 400
    not_migrating = c.api(
        "POST",
        f"/servers/{server.id}/migrations/1/action",
        version="2.80",
        json={"force_complete": None},
    )
    assert not_migrating.status_code == 409
    assert not_migrating.json()["conflictingRequest"]["message"] == (
        f"Cannot 'force_complete' instance {server.id} while it is in vm_state active"
    )
    abort = c.api("DELETE", f"/servers/{server.id}/migrations/1", version="2.80")
    assert abort.status_code == 409
    old = c.api("GET", f"/servers/{server.id}/migrations", version="2.22")
    assert old.status_code == 404
    assert migrations(c, server.id) == []  # nothing recorded for the refused requests
    c.conn.compute.stop_server(server)
    wait_for(c, server.id, status="SHUTOFF", task_state=None)
    stopped = live(c, server.id, {"host": None, "block_migration": "auto"})
    assert stopped.status_code == 409
    assert "vm_state stopped" in stopped.json()["conflictingRequest"]["message"]
    c.conn.compute.delete_server(server)


def test_abort_refusals_while_migrating(compute: Compute, slow_copy: Any) -> None:
    c, server = compute, slow_copy
    assert live(c, server.id, {"host": None, "block_migration": "auto"}).status_code == 202
    mig = wait_migration(c, server.id, "running")
    other = c.api("DELETE", f"/servers/{server.id}/migrations/{mig['id'] + 1000}", version="2.80")
    assert other.status_code == 404
    assert other.json()["itemNotFound"]["message"] == (
        f"Migration {mig['id'] + 1000} not found for instance {server.id}"
    )
    again = live(c, server.id, {"host": None, "block_migration": "auto"})
    assert again.status_code == 409
    aborted = c.api("DELETE", f"/servers/{server.id}/migrations/{mig['id']}", version="2.24")
    assert aborted.status_code == 202
    wait_migration(c, server.id, "cancelled")
    wait_for(c, server.id, status="ACTIVE", task_state=None)


def test_a_disabled_host_is_refused_unless_forced(compute: Compute) -> None:
    c = compute
    server = boot(c)
    source = server.compute_host
    target = next(h for h in c.hosts if h != source)
    c.cloud.cli(*V, "compute", "service", "set", "--disable", target, "nova-compute")
    try:
        body = {"host": target, "block_migration": "auto"}
        assert live(c, server.id, body).status_code == 202  # the scheduler's filters run
        refused = wait_migration(c, server.id, "error")
        back = wait_for(c, server.id, status="ACTIVE", task_state=None)
        assert back.compute_host == source
        assert set(c.allocations(server.id)) == {node_uuid(source)}
        assert c.allocations(refused["uuid"]) == {}
        forced = live(c, server.id, {**body, "force": True}, version="2.30")
        assert forced.status_code == 202  # force skips the filters (Nova before 2.68)
        wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=target)
        assert wait_migration(c, server.id, "completed")["dest_compute"] == target
    finally:
        c.cloud.cli(*V, "compute", "service", "set", "--enable", target, "nova-compute")
    assert set(c.allocations(server.id)) == {node_uuid(target)}
    c.conn.compute.delete_server(server)
