"""Migration records for resizes (os-migrations through the CLI and raw HTTP), the empty
in-progress live-migration list of /servers/{id}/migrations when no live migration runs, and
the admin's os-resetState (CLI `server set --state`, openstacksdk, raw HTTP)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for


def _migrations(compute: Compute, server_id: str, version: str = "2.23") -> list[Any]:
    resp = compute.api(
        "GET", "/os-migrations", version=version, params={"instance_uuid": server_id}
    )
    assert resp.status_code == 200, resp.text
    rows: list[Any] = resp.json()["migrations"]
    return rows


def _wait_status(compute: Compute, server_id: str, statuses: list[str]) -> list[Any]:
    rows: list[Any] = []
    for _ in range(300):
        rows = _migrations(compute, server_id)
        if [r["status"] for r in rows] == statuses:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"migrations of {server_id} never became {statuses}: {rows}")


def test_resizes_are_recorded_as_migrations(compute: Compute) -> None:
    conn = compute.conn
    bigger = conn.compute.create_flavor(
        name=f"mig-{uuid.uuid4().hex[:6]}", ram=128, vcpus=2, disk=1
    )
    server = boot(compute)
    source = server.compute_host
    conn.compute.resize_server(server, bigger.id)
    resized = wait_for(compute, server.id, status="VERIFY_RESIZE")
    (first,) = _wait_status(compute, server.id, ["finished"])
    assert (first["source_compute"], first["dest_compute"]) == (source, resized.compute_host)
    assert first["migration_type"] == "resize" and first["dest_host"]
    assert isinstance(first["old_instance_type_id"], int)
    assert first["new_instance_type_id"] != first["old_instance_type_id"]
    legacy = _migrations(compute, server.id, version="2.1")[0]
    assert "migration_type" not in legacy and legacy["id"] == first["id"]
    conn.compute.revert_server_resize(server)
    wait_for(compute, server.id, status="ACTIVE", task_state=None)
    _wait_status(compute, server.id, ["reverted"])
    conn.compute.resize_server(server, bigger.id)
    wait_for(compute, server.id, status="VERIFY_RESIZE")
    conn.compute.confirm_server_resize(server)
    wait_for(compute, server.id, status="ACTIVE", task_state=None)
    _wait_status(compute, server.id, ["reverted", "confirmed"])
    listed = json.loads(
        compute.cloud.cli("server", "migration", "list", "--server", server.id, "-f", "json").stdout
    )
    assert sorted(r["Status"] for r in listed) == ["confirmed", "reverted"]
    assert {r["Type"] for r in listed} == {"resize"}
    by_status = compute.api("GET", "/os-migrations", params={"status": "reverted"}).json()
    assert server.id in {r["instance_uuid"] for r in by_status["migrations"]}
    live = compute.api("GET", f"/servers/{server.id}/migrations", version="2.23")
    assert live.status_code == 200 and live.json() == {"migrations": []}
    assert compute.api("GET", f"/servers/{server.id}/migrations", version="2.22").status_code == 404
    missing = compute.api("GET", f"/servers/{server.id}/migrations/1", version="2.23")
    assert missing.status_code == 404
    conn.compute.delete_server(server)
    conn.compute.delete_flavor(bigger)


def test_reset_state_by_the_admin(compute: Compute) -> None:
    server = boot(compute)
    compute.cloud.cli("server", "set", "--auto-approve", "--state", "error", server.id)
    assert compute.conn.compute.get_server(server.id).status == "ERROR"
    resp = compute.api(
        "POST", f"/servers/{server.id}/action", json={"os-resetState": {"state": "active"}}
    )
    assert resp.status_code == 202
    assert compute.conn.compute.get_server(server.id).status == "ACTIVE"
    bad = compute.api(
        "POST", f"/servers/{server.id}/action", json={"os-resetState": {"state": "paused"}}
    )
    assert bad.status_code == 400
    extra = compute.api(
        "POST",
        f"/servers/{server.id}/action",
        json={"os-resetState": {"state": "active", "task_state": None}},
    )
    assert extra.status_code == 400
    missing = compute.api(
        "POST", f"/servers/{uuid.uuid4()}/action", json={"os-resetState": {"state": "error"}}
    )
    assert missing.status_code == 404
    # Nova records it as an instance action (resetState), one per reset
    actions = [a.action for a in compute.conn.compute.server_actions(server.id)]
    assert actions.count("resetState") == 2, actions
    # a server held in a task (a stop the fake host delays) is freed by the reset
    compute.set_fake(server.compute_host, delay={"power_off": 30.0})
    try:
        compute.conn.compute.stop_server(server)
        wait_for(compute, server.id, task_state="powering-off")
        compute.conn.compute.reset_server_state(server, "active")
        reset = wait_for(compute, server.id, task_state=None)
        assert reset.status == "ACTIVE"
    finally:
        compute.set_fake(server.compute_host)
    # a locked server can be reset too (Nova's reset is no lock-checked action)
    compute.conn.compute.lock_server(server)
    compute.cloud.cli("server", "set", "--auto-approve", "--state", "error", server.id)
    assert compute.conn.compute.get_server(server.id).status == "ERROR"
    compute.conn.compute.unlock_server(server)
    compute.conn.compute.delete_server(server)
