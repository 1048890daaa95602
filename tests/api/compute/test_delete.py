"""Deletes that race with work in progress (PROMISES 7) and the Idempotency-Key extension
(PROMISES 10)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.api.compute.conftest import Compute
from tests.nothing_made import nothing_made


def body(compute: Compute) -> dict[str, Any]:
    return {
        "server": {
            "name": f"d-{uuid.uuid4().hex[:4]}",
            "imageRef": compute.image_id,
            "flavorRef": compute.flavor_id,
            "networks": "none",
        }
    }


def gone(compute: Compute, server_id: str) -> None:
    for _ in range(300):
        if compute.api("GET", f"/servers/{server_id}").status_code == 404:
            return
        time.sleep(0.1)
    raise AssertionError(f"{server_id} was never deleted")


def test_delete_during_spawn_and_while_deleting(compute: Compute) -> None:
    for host in compute.hosts:
        compute.set_fake(host, delay={"spawn": 1.5, "destroy": 1.0})
    try:
        server_id = compute.api("POST", "/servers", json=body(compute)).json()["server"]["id"]
        wait_task_state(compute, server_id, "spawning")
        assert compute.api("DELETE", f"/servers/{server_id}").status_code == 204
        assert compute.api("DELETE", f"/servers/{server_id}").status_code == 204
        gone(compute, server_id)
        actions = compute.api(
            "GET", f"/servers/{server_id}/os-instance-actions", version="2.21"
        ).json()["instanceActions"]
        assert [a["action"] for a in actions].count("delete") == 1
        build_finished(compute, server_id, actions)
    finally:
        for host in compute.hosts:
            compute.set_fake(host)
    # the spawn that was under way left no guest behind, on any host, and holds no allocation
    assert all(server_id not in compute.guests(host) for host in compute.hosts)
    assert compute.allocations(server_id) == {}
    assert compute.api("DELETE", f"/servers/{server_id}").status_code == 404


def wait_task_state(compute: Compute, server_id: str, task_state: str) -> None:
    for _ in range(600):
        server = compute.api("GET", f"/servers/{server_id}").json()["server"]
        if server["OS-EXT-STS:task_state"] == task_state:
            return
        time.sleep(0.05)
    raise AssertionError(f"{server_id} never reached task_state {task_state}: {server}")


def build_finished(compute: Compute, server_id: str, actions: list[dict[str, Any]]) -> None:
    """Wait until the build step on the host has ended (an orphan guest would exist by then)."""
    create = next(a for a in actions if a["action"] == "create")
    path = f"/servers/{server_id}/os-instance-actions/{create['request_id']}"
    for _ in range(600):
        events = compute.api("GET", path, version="2.21").json()["instanceAction"]["events"]
        build = [e for e in events if e["event"] == "compute__do_build_and_run_instance"]
        if build and all(e["finish_time"] for e in build):
            return
        time.sleep(0.05)
    raise AssertionError(f"the build of {server_id} never finished: {events}")


def test_idempotency_key_replays_and_conflicts(compute: Compute) -> None:
    key = f"token-{uuid.uuid4().hex}"
    request = body(compute)
    first = compute.api("POST", "/servers", json=request, headers={"Idempotency-Key": key})
    again = compute.api("POST", "/servers", json=request, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert first.json()["server"]["id"] == again.json()["server"]["id"]
    other = body(compute)
    named = {request["server"]["name"], other["server"]["name"]}
    with nothing_made(compute):
        clash = compute.api("POST", "/servers", json=other, headers={"Idempotency-Key": key})
        assert clash.status_code == 409
        bad = compute.api("POST", "/servers", json=request, headers={"Idempotency-Key": "x" * 65})
        assert bad.status_code == 400
    listed = compute.api("GET", "/servers/detail").json()["servers"]
    assert [s["id"] for s in listed if s["name"] in named] == [first.json()["server"]["id"]]
    compute.api("DELETE", f"/servers/{first.json()['server']['id']}")
