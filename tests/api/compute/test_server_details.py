"""Server details where ministack used to differ from Nova: accessIPv6 in compressed form,
the `name` filter as a regular expression, console output `length` (absent or negative:
everything), server tags (2.26) stored, listed, filtered, and an admin booting another
project's private image, through the SDK, CLI and raw HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.api.compute.conftest import Compute
from tests.api.compute.test_quotas import member_token
from tests.api.compute.test_servers import boot
from tests.nothing_made import nothing_made

TAGS = "2.26"


@pytest.fixture(scope="module")
def pair(compute: Compute) -> Any:
    mark = uuid.uuid4().hex[:6]
    alpha = boot(compute, name=f"rx-alpha-{mark}", access_ipv6="2001:0db8:0000:0000:0000::0001")
    beta = boot(compute, name=f"rx-beta-{mark}")
    yield mark, alpha, beta
    for server in (alpha, beta):
        compute.conn.compute.delete_server(server)


def test_access_ipv6_is_compressed(compute: Compute, pair: Any) -> None:
    _mark, alpha, _beta = pair
    assert compute.conn.compute.get_server(alpha.id).access_ipv6 == "2001:db8::1"
    resp = compute.api(
        "PUT", f"/servers/{alpha.id}", json={"server": {"accessIPv6": "FE80:0:0:0:0:0:0:A"}}
    )
    assert resp.status_code == 200 and resp.json()["server"]["accessIPv6"] == "fe80::a"
    shown = json.loads(compute.cloud.cli("server", "show", alpha.id, "-f", "json").stdout)
    assert shown["accessIPv6"] == "fe80::a"
    rebuild = {"rebuild": {"imageRef": compute.image_id, "accessIPv6": "2001:DB8:0:0:1::1"}}
    resp = compute.api("POST", f"/servers/{alpha.id}/action", json=rebuild)
    assert resp.status_code == 202 and resp.json()["server"]["accessIPv6"] == "2001:db8::1:0:0:1"
    compute.conn.compute.wait_for_server(alpha, status="ACTIVE", wait=60, interval=0.2)


def test_name_filter_is_a_regular_expression(compute: Compute, pair: Any) -> None:
    mark, alpha, beta = pair
    anchored = compute.api("GET", "/servers", params={"name": f"^rx-a.*-{mark}$"}).json()
    assert [s["id"] for s in anchored["servers"]] == [alpha.id]
    listed = json.loads(
        compute.cloud.cli(
            "server", "list", "--name", f"rx-(alpha|beta)-{mark}", "-f", "json"
        ).stdout
    )
    assert {s["ID"] for s in listed} == {alpha.id, beta.id}
    plain = compute.api("GET", "/servers", params={"name": f"beta-{mark}"}).json()
    assert [s["id"] for s in plain["servers"]] == [beta.id]
    dot = compute.api("GET", "/servers", params={"name": f"rx.beta.{mark}"}).json()
    assert [s["id"] for s in dot["servers"]] == [beta.id]
    bad = compute.api("GET", "/servers", params={"name": "rx-("})
    assert bad.status_code == 400


def _console(compute: Compute, server_id: str, body: Any) -> Any:
    return compute.api("POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": body})


def test_console_length_absent_or_negative_means_everything(compute: Compute, pair: Any) -> None:
    _mark, alpha, _beta = pair
    compute.conn.compute.reboot_server(alpha, "SOFT")  # one more console line
    compute.conn.compute.wait_for_server(alpha, status="ACTIVE", wait=60, interval=0.2)
    whole = _console(compute, alpha.id, {}).json()["output"]
    assert len(whole.splitlines()) >= 2
    assert _console(compute, alpha.id, {"length": -1}).json()["output"] == whole
    assert _console(compute, alpha.id, {"length": "-1"}).json()["output"] == whole
    assert _console(compute, alpha.id, {"length": None}).json()["output"] == whole
    last = _console(compute, alpha.id, {"length": 1}).json()["output"]
    assert last.strip() == whole.splitlines()[-1]
    assert _console(compute, alpha.id, {"length": -2}).status_code == 400


def test_tags_api_stored_and_returned(compute: Compute, pair: Any) -> None:
    _mark, alpha, _beta = pair
    path = f"/servers/{alpha.id}/tags"
    assert compute.api("GET", path, version="2.25").status_code == 404
    put = compute.api("PUT", path, version=TAGS, json={"tags": ["b", "a", "b"]})
    assert put.status_code == 200 and put.json() == {"tags": ["a", "b"]}
    added = compute.api("PUT", f"{path}/c", version=TAGS)
    assert added.status_code == 201 and added.headers["location"].endswith(f"{path}/c")
    assert compute.api("PUT", f"{path}/c", version=TAGS).status_code == 204
    assert compute.api("GET", f"{path}/c", version=TAGS).status_code == 204
    assert compute.api("GET", f"{path}/zz", version=TAGS).status_code == 404
    assert compute.api("GET", path, version=TAGS).json() == {"tags": ["a", "b", "c"]}
    shown = compute.api("GET", f"/servers/{alpha.id}", version=TAGS).json()["server"]
    assert shown["tags"] == ["a", "b", "c"]
    assert compute.api("DELETE", f"{path}/a", version=TAGS).status_code == 204
    assert compute.api("DELETE", f"{path}/a", version=TAGS).status_code == 404
    too_many = compute.api("PUT", path, version=TAGS, json={"tags": [f"t{i}" for i in range(51)]})
    assert too_many.status_code == 400
    assert compute.api("PUT", path, version=TAGS, json={"tags": ["a/b"]}).status_code == 400
    assert compute.api("DELETE", path, version=TAGS).status_code == 204
    assert compute.api("GET", path, version=TAGS).json() == {"tags": []}


def test_tags_through_the_cli_and_list_filters(compute: Compute, pair: Any) -> None:
    mark, alpha, beta = pair
    cli = compute.cloud.cli
    red, blue = f"red{mark}", f"blue{mark}"
    cli("server", "set", "--tag", red, "--tag", blue, alpha.id)
    cli("server", "set", "--tag", red, beta.id)
    shown = json.loads(cli("server", "show", alpha.id, "-f", "json").stdout)
    assert sorted(shown["tags"]) == sorted([red, blue])

    def ids(**filters: str) -> set[str]:
        resp = compute.api("GET", "/servers", version=TAGS, params=filters)
        return {s["id"] for s in resp.json()["servers"]}

    assert ids(tags=f"{red},{blue}") == {alpha.id}
    assert ids(**{"tags-any": f"{red},{blue}"}) == {alpha.id, beta.id}
    mine = {"name": f"-{mark}$"}
    assert ids(**mine, **{"not-tags": f"{red},{blue}"}) == {beta.id}
    assert ids(**mine, **{"not-tags-any": blue}) == {beta.id}
    listed = json.loads(cli("server", "list", "--tags", blue, "-f", "json").stdout)
    assert [s["ID"] for s in listed] == [alpha.id]
    cli("server", "unset", "--tag", blue, alpha.id)
    assert ids(tags=blue) == set()


def test_admin_boots_another_projects_private_image(compute: Compute) -> None:
    """Nova lets an admin boot any image the image service shows the admin; a member of
    another project gets the 400 of an image it cannot see, and nothing is made."""
    conn = compute.conn
    other = conn.identity.create_project(name=f"img-{uuid.uuid4().hex[:6]}", domain_id="default")
    image = conn.image.create_image(
        name=f"private-{uuid.uuid4().hex[:6]}",
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="private",
        owner=other.id,
    )
    assert conn.image.get_image(image.id).owner == other.id
    server = conn.compute.create_server(
        name="admin-private",
        image_id=image.id,
        flavor_id=compute.flavor_id,
        networks="none",
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.2)
    assert server.image.id == image.id
    _project, token = member_token(compute)
    body = {
        "server": {
            "name": "member-private",
            "imageRef": image.id,
            "flavorRef": compute.flavor_id,
            "networks": "none",
        }
    }
    with nothing_made(compute):
        refused = compute.api("POST", "/servers", headers={"X-Auth-Token": token}, json=body)
    assert refused.status_code == 400 and "could not be found" in refused.text
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60, interval=0.2)
    conn.image.delete_image(image)
