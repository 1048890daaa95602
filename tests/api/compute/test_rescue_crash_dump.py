"""rescue / unrescue through the `openstack` CLI and trigger_crash_dump (2.17) against the
fake driver, which writes what it was asked on the guest's console (issue 15)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for
from tests.api.compute.test_shelve_soft_delete import action, actions


def console(c: Compute, server_id: str) -> str:
    resp = action(c, server_id, {"os-getConsoleOutput": {}})
    assert resp.status_code == 200, resp.text
    output: str = resp.json()["output"]
    return output


def test_rescue_and_unrescue_with_the_cli(compute: Compute) -> None:
    c, cli = compute, compute.cloud.cli
    server = boot(c)
    rescue_image = c.conn.image.create_image(
        name="rescue-image", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    cli("server", "rescue", "--image", rescue_image.id, "--password", "rescue-pw-1", server.id)
    rescued = wait_for(c, server.id, status="RESCUE", task_state=None)
    assert rescued.vm_state == "rescued" and rescued.power_state == 1
    assert f"fake: rescue from image {rescue_image.id}" in console(c, server.id)
    for name, body in (("rescue", {}), ("os-stop", None), ("reboot", {"type": "SOFT"})):
        resp = action(c, server.id, {name: body})
        assert resp.status_code == 409, (name, resp.text)
    cli("server", "unrescue", server.id)
    back = wait_for(c, server.id, status="ACTIVE", task_state=None)
    assert back.power_state == 1 and console(c, server.id).rstrip().endswith("fake: unrescue")
    assert {"rescue", "unrescue"} <= set(actions(c, server.id))

    c.conn.compute.stop_server(server)  # a stopped server is rescued too, and comes back ACTIVE
    wait_for(c, server.id, status="SHUTOFF", task_state=None)
    resp = action(c, server.id, {"rescue": None})
    assert resp.status_code == 200, resp.text
    password = resp.json()["adminPass"]
    assert isinstance(password, str) and len(password) >= 8
    assert f"fake: rescue from image {c.image_id}" in console(c, server.id)  # its own image
    wait_for(c, server.id, status="RESCUE", task_state=None)
    assert action(c, server.id, {"unrescue": None}).status_code == 202
    wait_for(c, server.id, status="ACTIVE", task_state=None)
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)


def test_rescue_answers_the_password_asked_and_refuses_bad_input(compute: Compute) -> None:
    c = compute
    server = boot(c)
    bad: list[dict[str, Any]] = [
        {"rescue": {"rescue_image_ref": "not-a-uuid"}},
        {"rescue": {"colour": "blue"}},
        {"rescue": {"adminPass": 5}},
        {"rescue": {"rescue_image_ref": "6f1c3a0e-1111-4222-8333-944455556666"}},
    ]
    for body in bad:
        resp = action(c, server.id, body)
        assert resp.status_code == 400, (body, resp.text)
    assert c.conn.compute.get_server(server.id).status == "ACTIVE"
    resp = action(c, server.id, {"unrescue": None})
    assert resp.status_code == 409, resp.text
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'unrescue' instance {server.id} while it is in vm_state active"
    )
    resp = action(c, server.id, {"rescue": {"adminPass": "chosen-pw-1"}})
    assert resp.status_code == 200 and resp.json() == {"adminPass": "chosen-pw-1"}
    wait_for(c, server.id, status="RESCUE", task_state=None)
    c.conn.compute.delete_server(server)  # a rescued server deletes like any other
    c.conn.compute.wait_for_delete(server, wait=60)
    assert server.id not in c.guests(server.compute_host)


def test_trigger_crash_dump(compute: Compute) -> None:
    c = compute
    server = boot(c)
    resp = action(c, server.id, {"trigger_crash_dump": None}, "2.16")
    assert resp.status_code == 404, resp.text
    resp = action(c, server.id, {"trigger_crash_dump": {}}, "2.17")
    assert resp.status_code == 400, resp.text
    c.cloud.cli("--os-compute-api-version", "2.17", "server", "dump", "create", server.id)
    assert "trigger_crash_dump" in actions(c, server.id)
    for _ in range(100):
        if "fake: NMI received" in console(c, server.id):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the NMI never reached the guest")
    assert c.conn.compute.get_server(server.id).status == "ACTIVE"

    c.conn.compute.stop_server(server)
    wait_for(c, server.id, status="SHUTOFF", task_state=None)
    resp = action(c, server.id, {"trigger_crash_dump": None}, "2.17")
    assert resp.status_code == 409, resp.text
    assert "vm_state stopped" in json.dumps(resp.json())
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
