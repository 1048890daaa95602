"""Servers through the unmodified CLI and openstacksdk: create --wait, every action and the
state it passes through and ends in, events, console log, metadata, rebuild, resize."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import openstack.exceptions
import pytest

from tests.api.compute.conftest import Compute


def wait_for(compute: Compute, server_id: str, **want: Any) -> Any:
    """Poll until every field of the server equals `want` (no wall-clock assertion)."""
    for _ in range(300):
        server = compute.conn.compute.get_server(server_id)
        if all(getattr(server, k) == v for k, v in want.items()):
            return server
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} never reached {want}: {server.to_dict()}")


def boot(compute: Compute, name: str | None = None, **kw: Any) -> Any:
    server = compute.conn.compute.create_server(
        name=name or f"vm-{uuid.uuid4().hex[:6]}",
        image_id=compute.image_id,
        flavor_id=compute.flavor_id,
        networks="none",
        **kw,
    )
    return compute.conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)


def test_cli_create_wait_show_list_delete(compute: Compute) -> None:
    cli = compute.cloud.cli
    name = f"cli-{uuid.uuid4().hex[:6]}"
    key = f"key-{uuid.uuid4().hex[:6]}"
    cli("keypair", "create", key)
    made = json.loads(
        cli(
            "server",
            "create",
            "--flavor",
            compute.flavor_id,
            "--image",
            "fake-image",
            "--key-name",
            key,
            "--nic",
            "none",
            "--wait",
            name,
            "-f",
            "json",
        ).stdout
    )
    assert made["status"] == "ACTIVE" and made["key_name"] == key
    assert made["OS-EXT-STS:power_state"] in (1, "Running")
    listed = json.loads(cli("server", "list", "-f", "json").stdout)
    assert name in {s["Name"] for s in listed}
    events = json.loads(cli("server", "event", "list", name, "-f", "json").stdout)
    assert [e["Action"] for e in events] == ["create"]
    cli("server", "delete", "--wait", name)
    assert cli("server", "show", name, check=False).returncode != 0


@pytest.mark.parametrize(
    ("action", "status", "power_state"),
    [
        ("stop_server", "SHUTOFF", 4),
        ("start_server", "ACTIVE", 1),
        ("pause_server", "PAUSED", 3),
        ("unpause_server", "ACTIVE", 1),
        ("suspend_server", "SUSPENDED", 7),
        ("resume_server", "ACTIVE", 1),
    ],
)
def test_power_action_states(
    compute: Compute, shared_server: Any, action: str, status: str, power_state: int
) -> None:
    getattr(compute.conn.compute, action)(shared_server)
    server = wait_for(compute, shared_server.id, status=status)
    assert server.power_state == power_state and server.task_state is None


@pytest.fixture(scope="module")
def shared_server(compute: Compute) -> Any:
    server = boot(compute)
    yield server
    compute.conn.compute.delete_server(server)


def test_reboot_soft_and_hard(compute: Compute) -> None:
    server = boot(compute)
    compute.conn.compute.reboot_server(server, "SOFT")
    wait_for(compute, server.id, status="ACTIVE", task_state=None)
    compute.conn.compute.reboot_server(server, "HARD")
    wait_for(compute, server.id, status="ACTIVE", task_state=None)
    events = compute.api("GET", f"/servers/{server.id}/os-instance-actions").json()
    assert [a["action"] for a in events["instanceActions"]][:2] == ["reboot", "reboot"]
    compute.conn.compute.delete_server(server)


def test_forbidden_transition_is_409(compute: Compute) -> None:
    server = boot(compute)
    compute.conn.compute.stop_server(server)
    wait_for(compute, server.id, status="SHUTOFF")
    with pytest.raises(openstack.exceptions.ConflictException, match="vm_state stopped"):
        compute.conn.compute.stop_server(server)
    with pytest.raises(openstack.exceptions.ConflictException):
        compute.conn.compute.pause_server(server)
    compute.conn.compute.delete_server(server)


def test_delete_twice_is_404(compute: Compute) -> None:
    server = boot(compute)
    compute.conn.compute.delete_server(server)
    compute.conn.compute.wait_for_delete(server, wait=60)
    resp = compute.api("DELETE", f"/servers/{server.id}")
    assert resp.status_code == 404 and "itemNotFound" in resp.json()


def test_concurrent_actions_one_wins(compute: Compute) -> None:
    from concurrent.futures import ThreadPoolExecutor

    server = boot(compute)
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda _: (
                    compute.api(
                        "POST", f"/servers/{server.id}/action", json={"os-stop": None}
                    ).status_code
                ),
                range(8),
            )
        )
    assert codes.count(202) == 1 and codes.count(409) == 7
    wait_for(compute, server.id, status="SHUTOFF")
    compute.conn.compute.delete_server(server)


def test_console_log_events_metadata_lock(compute: Compute) -> None:
    cli = compute.cloud.cli
    server = boot(compute, metadata={"role": "web"})
    assert "login:" in cli("console", "log", "show", server.id).stdout
    cli("server", "set", "--property", "tier=1", server.id)
    assert compute.conn.compute.get_server_metadata(server).metadata == {"role": "web", "tier": "1"}
    action = compute.api("GET", f"/servers/{server.id}/os-instance-actions").json()
    request_id = action["instanceActions"][-1]["request_id"]
    detail = compute.api("GET", f"/servers/{server.id}/os-instance-actions/{request_id}").json()
    events = {e["event"]: e["result"] for e in detail["instanceAction"]["events"]}
    assert events == {
        "conductor_schedule_and_build_instances": "Success",
        "compute__do_build_and_run_instance": "Success",
    }
    compute.conn.compute.lock_server(server)
    assert compute.api("GET", f"/servers/{server.id}").json()["server"]["locked"] is True
    compute.conn.compute.unlock_server(server)
    compute.conn.compute.delete_server(server)


def test_rebuild_and_resize_confirm_revert(compute: Compute) -> None:
    conn = compute.conn
    bigger = conn.compute.create_flavor(
        name=f"big-{uuid.uuid4().hex[:6]}", ram=128, vcpus=2, disk=1
    )
    server = boot(compute)
    conn.compute.rebuild_server(server, image=compute.image_id, name="rebuilt")
    rebuilt = wait_for(compute, server.id, status="ACTIVE", task_state=None, name="rebuilt")
    first_host = rebuilt.compute_host
    conn.compute.resize_server(server, bigger.id)
    resized = wait_for(compute, server.id, status="VERIFY_RESIZE")
    assert resized.compute_host != first_host and resized.flavor.original_name == bigger.name
    conn.compute.revert_server_resize(server)
    reverted = wait_for(compute, server.id, status="ACTIVE", task_state=None)
    assert (
        reverted.compute_host == first_host
        and reverted.flavor.original_name == compute.conn.compute.get_flavor(compute.flavor_id).name
    )
    conn.compute.resize_server(server, bigger.id)
    wait_for(compute, server.id, status="VERIFY_RESIZE")
    conn.compute.confirm_server_resize(server)
    confirmed = wait_for(compute, server.id, status="ACTIVE", task_state=None)
    assert confirmed.flavor.original_name == bigger.name
    conn.compute.delete_server(server)


def test_list_filters_and_pagination(compute: Compute) -> None:
    tag = uuid.uuid4().hex[:6]
    servers = [boot(compute, name=f"page-{tag}-{i}") for i in range(3)]
    page1 = compute.api("GET", f"/servers/detail?name=page-{tag}&limit=2").json()
    assert len(page1["servers"]) == 2 and page1["servers_links"][0]["rel"] == "next"
    marker = page1["servers"][-1]["id"]
    page2 = compute.api("GET", f"/servers?name=page-{tag}&limit=2&marker={marker}").json()
    assert len(page2["servers"]) == 1
    assert compute.api("GET", "/servers?status=bogus").status_code == 400
    for server in servers:
        compute.conn.compute.delete_server(server)
    since = compute.api("GET", f"/servers/detail?changes-since=2000-01-01T00:00:00Z&name={tag}")
    assert since.status_code == 200
    # changes-since lists deleted (or deleting) servers too, and nothing changed after it
    assert {s["id"] for s in since.json()["servers"]} == {s.id for s in servers}
    future = compute.api("GET", f"/servers/detail?changes-since=2999-01-01T00:00:00Z&name={tag}")
    assert future.json()["servers"] == []
