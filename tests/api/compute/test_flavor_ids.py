"""Flavor ids as Nova takes them: numbers (kept as their text), null or missing (the service
makes a UUID), UUIDs, and exactly Nova's spellings of `os-flavor-access:is_public`; an id with
a path in it is still refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.api.compute.conftest import Compute

NOVA_TRUE = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
NOVA_FALSE = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")


def _create(compute: Compute, **fields: Any) -> httpx.Response:
    body = {"name": f"f-{uuid.uuid4().hex[:8]}", "ram": 64, "vcpus": 1, "disk": 0, **fields}
    return compute.api("POST", "/flavors", json={"flavor": body})


def _delete(compute: Compute, flavor_id: str) -> None:
    assert compute.api("DELETE", f"/flavors/{flavor_id}").status_code == 202


def test_numeric_id_from_the_cli_and_as_a_json_number(compute: Compute) -> None:
    name = f"num-{uuid.uuid4().hex[:6]}"
    made = json.loads(
        compute.cloud.cli(
            "flavor", "create", "--id", "4201", "--ram", "64", "--vcpus", "1", name, "-f", "json"
        ).stdout
    )
    assert made["id"] == "4201"
    assert compute.conn.compute.get_flavor("4201").name == name
    _delete(compute, "4201")
    resp = _create(compute, id=4202)
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor"]["id"] == "4202"
    assert compute.api("GET", "/flavors/4202").json()["flavor"]["id"] == "4202"
    assert _create(compute, id="4202").status_code == 409
    _delete(compute, "4202")


@pytest.mark.parametrize("given", [None, "missing", 0])
def test_null_or_missing_id_gets_a_uuid(compute: Compute, given: Any) -> None:
    resp = _create(compute) if given == "missing" else _create(compute, id=given)
    assert resp.status_code == 200, resp.text
    made = resp.json()["flavor"]["id"]
    assert str(uuid.UUID(made)) == made
    _delete(compute, made)


def test_auto_id_and_uuid_id_through_the_sdk(compute: Compute) -> None:
    auto = compute.conn.compute.create_flavor(
        name=f"a-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=0
    )
    assert str(uuid.UUID(auto.id)) == auto.id
    chosen = str(uuid.uuid4())
    given = compute.conn.compute.create_flavor(
        name=f"u-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=0, id=chosen
    )
    assert given.id == chosen and compute.conn.compute.get_flavor(chosen).id == chosen
    compute.conn.compute.delete_flavor(auto)
    compute.conn.compute.delete_flavor(given)


@pytest.mark.parametrize("bad", ["../../x", "a/b", " lead", "trail ", "", "..", True, [1]])
def test_an_id_that_is_not_nova_s_is_refused(compute: Compute, bad: Any) -> None:
    resp = _create(compute, id=bad)
    assert resp.status_code == 400, resp.text
    assert "flavor/id" in resp.json()["badRequest"]["message"]


def test_is_public_spellings_nova_accepts(compute: Compute) -> None:
    for spelling, public in [
        *((s, True) for s in (True, *NOVA_TRUE)),
        *((s, False) for s in (False, *NOVA_FALSE)),
    ]:
        resp = _create(compute, **{"os-flavor-access:is_public": spelling})
        assert resp.status_code == 200, (spelling, resp.text)
        made = resp.json()["flavor"]
        assert made["os-flavor-access:is_public"] is public, spelling
        _delete(compute, made["id"])


@pytest.mark.parametrize("spelling", ["y", "t", "n", "f", "maybe", 1, None])
def test_is_public_spellings_nova_refuses(compute: Compute, spelling: Any) -> None:
    resp = _create(compute, **{"os-flavor-access:is_public": spelling})
    assert resp.status_code == 400, resp.text
