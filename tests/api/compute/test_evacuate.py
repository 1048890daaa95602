"""Evacuation on 3 fake hosts with the `openstack` CLI: refused (400, Nova's message) while the
server's host is up; once the operator forces the host down (`compute service set --down`),
`server evacuate --host` rebuilds the server on another host (migration `evacuation`, done)
while the down host still holds the old guest; when the host is back (`--up`) its agent reaps
that guest, frees its allocation there and completes the migration — nothing is left behind.
From 2.95 the evacuated server ends stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ministack.compute.claims import node_uuid
from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.compute.test_servers import wait_for
from tests.cloud import running_cloud

V = ("--os-compute-api-version", "2.80")
ENV = {**FAKE_ENV, "MINISTACK_COMPUTE_SYNC_POWER_STATE_INTERVAL": "1"}


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    """A cloud of its own whose agents sync every second (a returning host reaps soon)."""
    tmp: Path = tmp_path_factory.mktemp("evacuate")
    with running_cloud(tmp, services=SERVICES, extra_env=ENV) as cloud:
        yield prepare(cloud)


def boot_on(c: Compute, host: str) -> Any:
    server = c.conn.compute.create_server(
        name=f"evac-{host[-4:]}",
        image_id=c.image_id,
        flavor_id=c.flavor_id,
        networks="none",
        availability_zone=f"nova:{host}",
    )
    return c.conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)


def migration(c: Compute, server_id: str) -> dict[str, Any]:
    resp = c.api("GET", "/os-migrations", version="2.80", params={"instance_uuid": server_id})
    (row,) = resp.json()["migrations"]
    return dict(row)


def wait_migration(c: Compute, server_id: str, status: str) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for _ in range(300):
        row = migration(c, server_id)
        if row["status"] == status:
            return row
        time.sleep(0.1)
    raise AssertionError(f"the evacuation of {server_id} never became {status}: {row}")


def evacuate(c: Compute, server_id: str, body: dict[str, Any], version: str = "2.80") -> Any:
    return c.api("POST", f"/servers/{server_id}/action", version=version, json={"evacuate": body})


def set_service(c: Compute, host: str, state: str) -> None:
    c.cloud.cli(*V, "compute", "service", "set", state, host, "nova-compute")


def test_evacuate_from_a_down_host_and_reap_on_return(fenced: Compute) -> None:
    c = fenced
    source, target, _ = c.hosts
    server = boot_on(c, source)
    up = evacuate(c, server.id, {"host": target})
    assert up.status_code == 400
    assert up.json()["badRequest"]["message"] == f"Compute service of {source} is still in use."
    set_service(c, source, "--down")
    try:
        itself = evacuate(c, server.id, {"host": source})
        assert itself.status_code == 400
        assert itself.json()["badRequest"]["message"] == "The target host can't be the same one."
        unknown = evacuate(c, server.id, {"host": "elsewhere"})
        assert (
            unknown.json()["badRequest"]["message"] == "Compute host elsewhere could not be found."
        )
        forced = evacuate(c, server.id, {"host": target, "force": True})
        assert forced.status_code == 400  # no force from 2.68
        shared = evacuate(c, server.id, {"host": target}, version="2.13")
        assert shared.status_code == 400  # onSharedStorage is required before 2.14
        c.cloud.cli(*V, "server", "evacuate", "--host", target, server.id)
        moved = wait_for(c, server.id, status="ACTIVE", task_state=None, compute_host=target)
        assert moved.power_state == 1
        mig = wait_migration(c, server.id, "done")
        assert (mig["migration_type"], mig["source_compute"], mig["dest_compute"]) == (
            "evacuation",
            source,
            target,
        )
        # the fenced host keeps its guest (and its allocation) until it comes back
        assert server.id in c.guests(target) and server.id in c.guests(source)
        assert set(c.allocations(server.id)) == {node_uuid(source), node_uuid(target)}
    finally:
        set_service(c, source, "--up")
    wait_migration(c, server.id, "completed")
    assert server.id not in c.guests(source)
    assert set(c.allocations(server.id)) == {node_uuid(target)}
    actions = [a.action for a in c.conn.compute.server_actions(server.id)]
    assert "evacuate" in actions
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
    assert c.allocations(server.id) == {} and server.id not in c.guests(target)


def test_evacuate_at_2_95_ends_stopped_and_states_are_checked(fenced: Compute) -> None:
    c = fenced
    source = c.hosts[2]
    server = boot_on(c, source)
    paused = boot_on(c, source)
    c.conn.compute.pause_server(paused)
    wait_for(c, paused.id, status="PAUSED", task_state=None)
    set_service(c, source, "--down")
    try:
        refused = evacuate(c, paused.id, {})
        assert refused.status_code == 409
        assert "vm_state paused" in refused.json()["conflictingRequest"]["message"]
        resp = evacuate(c, server.id, {}, version="2.95")  # the scheduler picks the host
        assert resp.status_code == 200, resp.text
        stopped = wait_for(c, server.id, status="SHUTOFF", task_state=None)
        assert stopped.compute_host != source and stopped.power_state == 4
        old = evacuate(c, paused.id, {"onSharedStorage": False}, version="2.13")
        assert old.status_code == 409  # the body is valid there; the state is not
    finally:
        set_service(c, source, "--up")
    wait_migration(c, server.id, "completed")
    assert server.id not in c.guests(source)
    for s in (server, paused):
        c.conn.compute.delete_server(s)


def test_a_failed_rebuild_leaves_the_server_in_error_on_its_host(fenced: Compute) -> None:
    c = fenced
    source, target = c.hosts[0], c.hosts[1]
    server = boot_on(c, source)
    set_service(c, source, "--down")
    c.set_fake(target, fail={"spawn": "injected: no room for the evacuee"})
    try:
        assert evacuate(c, server.id, {"host": target}).status_code == 200
        wait_for(c, server.id, status="ERROR", task_state=None)
        mig = wait_migration(c, server.id, "failed")  # after the server is back on its host
        failed = c.conn.compute.get_server(server.id)
    finally:
        c.set_fake(target)
        set_service(c, source, "--up")
    assert failed.compute_host == source
    assert "no room for the evacuee" in failed.fault["message"]
    assert mig["dest_compute"] == target
    assert set(c.allocations(server.id)) == {node_uuid(source)}
    assert server.id not in c.guests(target) and server.id in c.guests(source)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
    assert server.id not in c.guests(source)
