"""Deletes that race with work in progress (PROMISES 7) and the Idempotency-Key extension
(PROMISES 10)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.api.compute.conftest import Compute


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
        for _ in range(300):
            task = compute.api("GET", f"/servers/{server_id}").json()["server"]
            if task["OS-EXT-STS:task_state"] == "spawning":
                break
            time.sleep(0.02)
        assert compute.api("DELETE", f"/servers/{server_id}").status_code == 204
        assert compute.api("DELETE", f"/servers/{server_id}").status_code == 204
        gone(compute, server_id)
        actions = compute.api(
            "GET", f"/servers/{server_id}/os-instance-actions", version="2.21"
        ).json()["instanceActions"]
        assert [a["action"] for a in actions].count("delete") == 1
    finally:
        for host in compute.hosts:
            compute.set_fake(host)
    assert compute.api("DELETE", f"/servers/{server_id}").status_code == 404


def test_idempotency_key_replays_and_conflicts(compute: Compute) -> None:
    key = f"token-{uuid.uuid4().hex}"
    request = body(compute)
    first = compute.api("POST", "/servers", json=request, headers={"Idempotency-Key": key})
    again = compute.api("POST", "/servers", json=request, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert first.json()["server"]["id"] == again.json()["server"]["id"]
    other = body(compute)
    clash = compute.api("POST", "/servers", json=other, headers={"Idempotency-Key": key})
    assert clash.status_code == 409
    bad = compute.api("POST", "/servers", json=request, headers={"Idempotency-Key": "x" * 65})
    assert bad.status_code == 400
    compute.api("DELETE", f"/servers/{first.json()['server']['id']}")
