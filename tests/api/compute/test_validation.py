"""Request schemas in front of every compute handler: the hostile-review findings of issue 9,
each answered with Nova's status, naming the field, and leaving nothing behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.compute.conftest import Compute
from tests.nothing_made import nothing_made


@pytest.fixture
def unchanged(compute: Compute) -> Iterator[None]:
    """Fails the test if it left anything behind: rows, allocations, quota usage, guests or
    files (after waiting for work an earlier test left running to settle)."""
    with nothing_made(compute):
        yield


def server_body(compute: Compute, **changes: Any) -> dict[str, Any]:
    server: dict[str, Any] = {
        "name": "valid",
        "imageRef": compute.image_id,
        "flavorRef": compute.flavor_id,
        "networks": "none",
    }
    server.update(changes)
    return {"server": server}


def wait_active(compute: Compute, server_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = compute.api("GET", f"/servers/{server_id}").json()["server"]["status"]
        if status == "ACTIVE":
            return
        assert status != "ERROR"
        time.sleep(0.2)
    raise AssertionError(f"server {server_id} did not become ACTIVE")


def message(resp: Any) -> str:
    (body,) = resp.json().values()
    text: str = body["message"]
    return text


def flavor_body(**changes: Any) -> dict[str, Any]:
    flavor: dict[str, Any] = {"name": "validation-flavor", "ram": 64, "vcpus": 1, "disk": 1}
    flavor.update(changes)
    return {"flavor": flavor}


@pytest.mark.parametrize("factor", ["abc", -1, "inf", 0, "-1", "1e999"])
def test_bad_rxtx_factor_is_400(compute: Compute, unchanged: None, factor: Any) -> None:
    resp = compute.api("POST", "/flavors", json=flavor_body(rxtx_factor=factor))
    assert resp.status_code == 400, resp.text
    assert "rxtx_factor" in message(resp)


def test_good_rxtx_factor_as_text_is_accepted(compute: Compute) -> None:
    resp = compute.api("POST", "/flavors", json=flavor_body(name="rxtx-ok", rxtx_factor="2.5"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor"]["rxtx_factor"] == 2.5
    compute.api("DELETE", f"/flavors/{resp.json()['flavor']['id']}")


@pytest.mark.parametrize("flavor_id", ["../../x", "a/b", "..", " lead", "x" * 256])
def test_flavor_id_outside_nova_pattern_is_400(
    compute: Compute, unchanged: None, flavor_id: str
) -> None:
    resp = compute.api("POST", "/flavors", json=flavor_body(id=flavor_id))
    assert resp.status_code == 400, resp.text
    assert "flavor/id" in message(resp)


BAD_NAMES = ["nul\x00byte", "new\nline", "right\u202eleft", " padded", "x" * 256, ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_server_create_refuses_bad_names(compute: Compute, unchanged: None, name: str) -> None:
    resp = compute.api("POST", "/servers", json=server_body(compute, name=name))
    assert resp.status_code == 400, resp.text
    assert "server/name" in message(resp)


def test_server_rename_refuses_bad_names(compute: Compute) -> None:
    created = compute.api("POST", "/servers", json=server_body(compute, name="rename-me"))
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    try:
        wait_active(compute, server_id)  # the build adds rows of its own; let it finish
        with nothing_made(compute):
            for name in BAD_NAMES:
                resp = compute.api("PUT", f"/servers/{server_id}", json={"server": {"name": name}})
                assert resp.status_code == 400, (name, resp.text)
        shown = compute.api("GET", f"/servers/{server_id}").json()["server"]
        assert shown["name"] == "rename-me"
    finally:
        compute.api("DELETE", f"/servers/{server_id}")


@pytest.mark.parametrize(
    "query", ["sort_key=password", "sort_dir=sideways", "sort_key=uuid&sort_dir=up", "limit=-1"]
)
def test_server_list_refuses_unknown_sorting(compute: Compute, query: str) -> None:
    resp = compute.api("GET", f"/servers?{query}")
    assert resp.status_code == 400, resp.text
    assert query.rsplit("&", 1)[-1].split("=")[0] in message(resp)


def test_server_list_accepts_whitelisted_sorting(compute: Compute) -> None:
    resp = compute.api("GET", "/servers/detail?sort_key=display_name&sort_dir=asc")
    assert resp.status_code == 200, resp.text


def test_keypair_limit_is_checked_from_2_35(compute: Compute) -> None:
    assert compute.api("GET", "/os-keypairs?limit=-1", version="2.35").status_code == 400
    assert compute.api("GET", "/os-keypairs?limit=abc", version="2.35").status_code == 400
    # before 2.35 Nova does not read limit at all
    assert compute.api("GET", "/os-keypairs?limit=-1", version="2.34").status_code == 200


@pytest.mark.parametrize(
    ("version", "changes", "field"),
    [
        ("2.38", {"colour": "blue"}, "server/colour"),
        ("2.38", {"accessIPv4": "999.1.1.1"}, "server/accessIPv4"),
        ("2.38", {"accessIPv6": "zzzz"}, "server/accessIPv6"),
        ("2.38", {"config_drive": "maybe"}, "server/config_drive"),
        ("2.38", {"description": "d" * 300}, "server/description"),
        ("2.18", {"description": "only from 2.19"}, "server/description"),
        ("2.38", {"min_count": 0}, "server/min_count"),
        ("2.38", {"metadata": {"k": 1}}, "server/metadata/k"),
        ("2.38", {"security_groups": [{"name": "default", "extra": 1}]}, "security_groups/0"),
    ],
)
def test_server_create_refuses_what_nova_refuses(
    compute: Compute, unchanged: None, version: str, changes: dict[str, Any], field: str
) -> None:
    resp = compute.api("POST", "/servers", version=version, json=server_body(compute, **changes))
    assert resp.status_code == 400, resp.text
    assert field in message(resp)


@pytest.mark.parametrize(
    "hints",
    [
        {"same_host": "not-a-uuid"},
        {"different_host": ["also-not-a-uuid"]},
        {"group": "nope"},
        {"build_near_host_ip": "300.0.0.1"},
    ],
)
def test_scheduler_hints_name_servers_by_uuid(
    compute: Compute, unchanged: None, hints: dict[str, Any]
) -> None:
    body = {**server_body(compute), "os:scheduler_hints": hints}
    resp = compute.api("POST", "/servers", json=body)
    assert resp.status_code == 400, resp.text
    assert "os:scheduler_hints" in message(resp)


def test_unknown_top_level_key_is_400(compute: Compute, unchanged: None) -> None:
    resp = compute.api("POST", "/servers", json={**server_body(compute), "sever": {}})
    assert resp.status_code == 400, resp.text
    assert "sever" in message(resp)


def test_text_plain_body_is_415(compute: Compute, unchanged: None) -> None:
    import json

    resp = compute.api(
        "POST",
        "/servers",
        content=json.dumps(server_body(compute)).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status_code == 415, resp.text
    assert resp.json() == {"badMediaType": {"code": 415, "message": "Unsupported Content-Type"}}


def test_valid_spellings_still_create(compute: Compute) -> None:
    """The schema takes what Nova takes: oslo boolean spellings, both IP families, UUID hints."""
    changes = {
        "config_drive": "yes",
        "accessIPv4": "192.0.2.10",
        "accessIPv6": "2001:db8::10",
        "description": "d" * 255,
        "min_count": "1",
    }
    body = {**server_body(compute, **changes), "os:scheduler_hints": {"same_host": []}}
    resp = compute.api("POST", "/servers", json=body)
    assert resp.status_code == 202, resp.text
    compute.api("DELETE", f"/servers/{resp.json()['server']['id']}")


def test_unauthenticated_bad_body_is_401_first(compute: Compute) -> None:
    import httpx

    resp = httpx.post(f"{compute.cloud.url('compute')}/v2.1/servers", json={"x": 1}, timeout=30)
    assert resp.status_code == 401


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "offset=-1", "offset=x"])
def test_server_group_list_paging_is_checked(compute: Compute, query: str) -> None:
    """Before the schema, limit=abc was a 500 (an int() in the handler)."""
    resp = compute.api("GET", f"/os-server-groups?{query}")
    assert resp.status_code == 400, resp.text
