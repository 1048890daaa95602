"""adminPass: a user-supplied password is honoured where the driver can set it.

Create and rebuild answer with the password asked for (Nova), a generated one otherwise; it
travels to the agent's guest spec (libvirt writes it into the config drive's meta_data.json
as admin_pass, tests/compute/virt/libvirt/test_configdrive.py) and is then forgotten: the
database keeps no copy once the guest was spawned. A non-string adminPass is 400 and creates
nothing.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import pytest

from ministack.compute.agent.base import guest_spec
from ministack.compute.instances import ADMIN_PASS_KEY
from ministack.compute.models import Instance
from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import wait_for


def _body(compute: Compute, **extra: Any) -> dict[str, Any]:
    server = {
        "name": f"pw-{uuid.uuid4().hex[:6]}",
        "imageRef": compute.image_id,
        "flavorRef": compute.flavor_id,
        "networks": "none",
        **extra,
    }
    return {"server": server}


def _system_metadata(compute: Compute, server_id: str) -> str:
    with sqlite3.connect(compute.cloud.state_dir / "ministack.db") as db:
        row = db.execute(
            "SELECT system_metadata FROM compute_instances WHERE uuid = ?", (server_id,)
        ).fetchone()
    return str(row[0])


def test_admin_pass_is_returned_used_and_forgotten(compute: Compute) -> None:
    resp = compute.api("POST", "/servers", json=_body(compute, adminPass="Chosen-pw-1"))
    assert resp.status_code == 202, resp.text
    server = resp.json()["server"]
    assert server["adminPass"] == "Chosen-pw-1"
    wait_for(compute, server["id"], status="ACTIVE")
    assert "Chosen-pw-1" not in _system_metadata(compute, server["id"])
    rebuild = {"rebuild": {"imageRef": compute.image_id, "adminPass": "Rebuilt-pw-2"}}
    resp = compute.api("POST", f"/servers/{server['id']}/action", json=rebuild)
    assert resp.status_code == 202, resp.text
    assert resp.json()["server"]["adminPass"] == "Rebuilt-pw-2"
    wait_for(compute, server["id"], status="ACTIVE")
    assert "Rebuilt-pw-2" not in _system_metadata(compute, server["id"])
    generated = compute.api("POST", "/servers", json=_body(compute)).json()["server"]
    assert len(generated["adminPass"]) >= 8
    for ident in (server["id"], generated["id"]):
        assert compute.api("DELETE", f"/servers/{ident}").status_code == 204


@pytest.mark.parametrize("value", [123, ["pw"], {"pw": 1}, True])
def test_non_string_admin_pass_is_400_and_creates_nothing(compute: Compute, value: Any) -> None:
    body = _body(compute, adminPass=value)
    resp = compute.api("POST", "/servers", json=body)
    assert resp.status_code == 400, resp.text
    assert "adminPass" in resp.json()["badRequest"]["message"]
    name = body["server"]["name"]
    assert compute.api("GET", f"/servers?name={name}").json()["servers"] == []


def test_the_guest_spec_carries_the_admin_pass() -> None:
    flavor = {"vcpus": 1, "ram": 64, "disk": 1}
    inst = Instance(
        id=1,
        uuid="u1",
        hostname="vm",
        flavor=flavor,
        project_id="p",
        system_metadata={ADMIN_PASS_KEY: "s3cret"},
    )
    assert guest_spec(inst).admin_password == "s3cret"
    inst.system_metadata = {}
    assert guest_spec(inst).admin_password is None


def test_the_guest_spec_is_named_as_the_server() -> None:
    """meta_data.json's "name" (and the domain's title) is the server's name, as nova's."""
    flavor = {"vcpus": 1, "ram": 64, "disk": 1}
    inst = Instance(
        id=7, uuid="u7", display_name="vm one", hostname="vm-one", flavor=flavor, project_id="p"
    )
    assert guest_spec(inst).name == "vm one"
