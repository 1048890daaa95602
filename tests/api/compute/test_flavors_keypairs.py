"""Flavors (extra specs, private access) and key pairs through the unmodified CLI and SDK."""

from __future__ import annotations

import json
import uuid

import openstack.exceptions
import pytest

from tests.api.compute.conftest import Compute
from tests.nothing_made import nothing_made

PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0oX1aVrmmXwvH5m1b7m3T6S2pZ0Jq7y0o8oN3vN4X test"


def test_flavor_cli_life_cycle(compute: Compute) -> None:
    name = f"m1-{uuid.uuid4().hex[:6]}"
    cli = compute.cloud.cli
    made = json.loads(
        cli(
            "flavor",
            "create",
            "--vcpus",
            "2",
            "--ram",
            "1024",
            "--disk",
            "10",
            "--property",
            "hw:cpu_policy=shared",
            name,
            "-f",
            "json",
        ).stdout
    )
    assert (made["vcpus"], made["ram"], made["disk"]) == (2, 1024, 10)
    shown = json.loads(cli("flavor", "show", name, "-f", "json").stdout)
    assert shown["properties"] == {"hw:cpu_policy": "shared"}
    listed = json.loads(cli("flavor", "list", "-f", "json").stdout)
    assert name in {f["Name"] for f in listed}
    duplicate = cli("flavor", "create", "--ram", "1", "--vcpus", "1", name, check=False)
    assert duplicate.returncode != 0 and "409" in duplicate.stderr
    cli("flavor", "delete", name)
    assert cli("flavor", "show", name, check=False).returncode != 0


def test_private_flavor_access(compute: Compute) -> None:
    name = f"priv-{uuid.uuid4().hex[:6]}"
    cli = compute.cloud.cli
    cli("flavor", "create", "--private", "--ram", "64", "--vcpus", "1", name)
    project = compute.conn.current_project_id
    cli("flavor", "set", "--project", project, name)
    access = compute.api(
        "GET", f"/flavors/{compute.conn.compute.find_flavor(name).id}/os-flavor-access"
    ).json()
    assert access["flavor_access"][0]["tenant_id"] == project
    public = compute.api("GET", f"/flavors/{compute.flavor_id}/os-flavor-access")
    assert public.status_code == 404


def test_keypair_generate_import_delete(compute: Compute) -> None:
    cli = compute.cloud.cli
    name = f"kp-{uuid.uuid4().hex[:6]}"
    private = cli("keypair", "create", name).stdout
    assert "PRIVATE KEY" in private
    imported = compute.conn.compute.create_keypair(name=f"{name}-2", public_key=PUBKEY)
    assert imported.fingerprint.count(":") == 15
    names = {k["Name"] for k in json.loads(cli("keypair", "list", "-f", "json").stdout)}
    assert {name, f"{name}-2"} <= names
    with pytest.raises(openstack.exceptions.ConflictException):
        compute.conn.compute.create_keypair(name=name, public_key=PUBKEY)
    cli("keypair", "delete", name)
    cli("keypair", "delete", f"{name}-2")


def test_keypair_generated_server_side_before_2_92(compute: Compute) -> None:
    resp = compute.api("POST", "/os-keypairs", json={"keypair": {"name": "gen-1"}})
    assert resp.status_code == 201
    assert "PRIVATE KEY" in resp.json()["keypair"]["private_key"]
    assert compute.api("DELETE", "/os-keypairs/gen-1").status_code == 204


def test_bad_public_key_is_400(compute: Compute) -> None:
    name = f"bad-{uuid.uuid4().hex[:6]}"
    with nothing_made(compute):
        resp = compute.api(
            "POST", "/os-keypairs", json={"keypair": {"name": name, "public_key": "not a key"}}
        )
        assert resp.status_code == 400
        assert "Keypair data is invalid" in resp.json()["badRequest"]["message"]
    assert compute.api("GET", f"/os-keypairs/{name}").status_code == 404
    listed = compute.api("GET", "/os-keypairs").json()["keypairs"]
    assert name not in [k["keypair"]["name"] for k in listed]
