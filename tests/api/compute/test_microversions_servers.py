"""Servers at the microversions after 2.38 that change them, through raw HTTP, openstacksdk
and the `openstack` CLI (which negotiates the highest version both sides know): each field
appears from the version that brought it, each request field is refused before it."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from tests.api.compute.conftest import Compute
from tests.api.compute.test_bad_input import server_body
from tests.api.compute.test_microversions import BASE, V2_3
from tests.api.compute.test_quotas import member_token
from tests.api.compute.test_servers import boot
from tests.nothing_made import nothing_made


def _server(compute: Compute, sid: str, version: str, token: str | None = None) -> Any:
    headers = {"X-Auth-Token": token} if token else {}
    resp = compute.api("GET", f"/servers/{sid}", version=version, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["server"]


def _settle(compute: Compute, sid: str) -> dict[str, Any]:
    """Poll until the server is ACTIVE with no task (no wall-clock assertion)."""
    for _ in range(300):
        server: dict[str, Any] = _server(compute, sid, "2.90")
        if server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None:
            return server
        time.sleep(0.1)
    raise AssertionError(f"server {sid} never settled")


def _create(compute: Compute, version: str, **fields: Any) -> str:
    resp = compute.api("POST", "/servers", version=version, json=server_body(compute, **fields))
    assert resp.status_code == 202, resp.text
    sid: str = resp.json()["server"]["id"]
    _settle(compute, sid)
    return sid


LATE = {"trusted_image_certificates", "server_groups", "locked_reason"}


def test_server_fields_from_2_47_to_2_90(compute: Compute) -> None:
    sid = boot(compute).id
    at_246 = _server(compute, sid, "2.46")
    assert set(at_246["flavor"]) == {"id", "links"}
    at_247 = _server(compute, sid, "2.47")
    flavor = compute.conn.compute.get_flavor(compute.flavor_id)
    # the flavor as the server keeps it: no id or links, the name as it was at boot
    assert at_247["flavor"] == {
        "vcpus": flavor.vcpus,
        "ram": flavor.ram,
        "disk": flavor.disk,
        "ephemeral": 0,
        "swap": 0,
        "original_name": flavor.name,
        "extra_specs": {},
    }
    assert "trusted_image_certificates" not in at_247
    assert _server(compute, sid, "2.63")["trusted_image_certificates"] is None
    assert "server_groups" not in _server(compute, sid, "2.70")
    assert _server(compute, sid, "2.71")["server_groups"] == []
    assert "locked_reason" not in _server(compute, sid, "2.72")
    full = _server(compute, sid, "2.90")
    tags_etc = {"locked", "host_status", "description", "tags"}
    assert set(full) == BASE | V2_3 | tags_etc | LATE
    assert full["locked_reason"] is None
    # the detail list never carries server_groups (Nova shows them on show/update/rebuild)
    listed = compute.api("GET", "/servers/detail", version="2.90").json()["servers"]
    assert all("server_groups" not in s for s in listed)
    compute.conn.compute.delete_server(sid)


def test_flavor_extra_specs_in_server_follow_policy_and_flavor_snapshot(compute: Compute) -> None:
    name = f"spec-{uuid.uuid4().hex[:6]}"
    flavor = compute.conn.compute.create_flavor(name=name, ram=64, vcpus=1, disk=1)
    compute.api(
        "POST",
        f"/flavors/{flavor.id}/os-extra_specs",
        json={"extra_specs": {"hw:cpu_policy": "shared"}},
    )
    sid = _create(compute, "2.47", flavorRef=flavor.id)
    shown = _server(compute, sid, "2.47")["flavor"]
    assert shown["original_name"] == name
    assert shown["extra_specs"] == {"hw:cpu_policy": "shared"}
    # the server keeps its copy: deleting the flavor changes nothing in its view
    compute.conn.compute.delete_flavor(flavor)
    assert _server(compute, sid, "2.90")["flavor"]["original_name"] == name
    # the SDK reads the embedded flavor (name from original_name)
    assert compute.conn.compute.get_server(sid).flavor.original_name == name
    compute.conn.compute.delete_server(sid)


def test_tags_on_create_are_stored_and_filterable(compute: Compute) -> None:
    with nothing_made(compute):
        early = compute.api(
            "POST", "/servers", version="2.51", json=server_body(compute, tags=["a"])
        )
    assert early.status_code == 400 and "tags" in early.text
    sid = _create(compute, "2.52", tags=["blue", "green", "blue"])
    assert sorted(_server(compute, sid, "2.52")["tags"]) == ["blue", "green"]
    tags = compute.api("GET", f"/servers/{sid}/tags", version="2.52").json()["tags"]
    assert sorted(tags) == ["blue", "green"]
    found = compute.api("GET", "/servers?tags=green", version="2.52").json()["servers"]
    assert [s["id"] for s in found] == [sid]
    with nothing_made(compute):
        many = compute.api(
            "POST",
            "/servers",
            version="2.52",
            json=server_body(compute, tags=[f"t{i}" for i in range(51)]),
        )
    assert many.status_code == 400
    compute.conn.compute.delete_server(sid)


def test_lock_reason_cli_and_api(compute: Compute) -> None:
    sid = boot(compute).id
    cli = compute.cloud.cli
    cli("server", "lock", "--reason", "maintenance window", sid)
    shown = json.loads(cli("server", "show", sid, "-f", "json").stdout)
    assert shown["locked"] is True and shown["locked_reason"] == "maintenance window"
    assert _server(compute, sid, "2.73")["locked_reason"] == "maintenance window"
    locked = compute.api("GET", "/servers/detail?locked=true", version="2.73").json()["servers"]
    assert sid in [s["id"] for s in locked]
    cli("server", "unlock", sid)
    assert _server(compute, sid, "2.73")["locked_reason"] is None
    # before 2.73 Nova reads no lock body: the server is locked, the reason not kept
    body = {"lock": {"locked_reason": "x"}}
    old = compute.api("POST", f"/servers/{sid}/action", version="2.72", json=body)
    assert old.status_code == 202
    after = _server(compute, sid, "2.73")
    assert after["locked"] is True and after["locked_reason"] is None
    with nothing_made(compute):
        long = {"lock": {"locked_reason": "x" * 256}}
        refused = compute.api("POST", f"/servers/{sid}/action", version="2.73", json=long)
    assert refused.status_code == 400
    compute.api("POST", f"/servers/{sid}/action", json={"unlock": None})
    compute.conn.compute.delete_server(sid)


def test_hostname_on_create_update_rebuild_and_for_members(compute: Compute) -> None:
    _project, token = member_token(compute)
    resp = compute.api(
        "POST",
        "/servers",
        version="2.90",
        headers={"X-Auth-Token": token},
        json=server_body(compute, hostname="web-01"),
    )
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    for _ in range(300):
        seen = _server(compute, sid, "2.90", token)
        if seen["status"] == "ACTIVE" and seen["OS-EXT-STS:task_state"] is None:
            break
        time.sleep(0.1)
    # 2.90: the hostname is shown to non-admins too (alone of the OS-EXT-SRV-ATTR fields)
    assert seen["OS-EXT-SRV-ATTR:hostname"] == "web-01"
    assert "OS-EXT-SRV-ATTR:host" not in seen
    assert "OS-EXT-SRV-ATTR:hostname" not in _server(compute, sid, "2.89", token)
    updated = compute.api(
        "PUT",
        f"/servers/{sid}",
        version="2.90",
        headers={"X-Auth-Token": token},
        json={"server": {"hostname": "web-02"}},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == "web-02"
    rebuilt = compute.api(
        "POST",
        f"/servers/{sid}/action",
        version="2.90",
        headers={"X-Auth-Token": token},
        json={"rebuild": {"imageRef": compute.image_id, "hostname": "web-03"}},
    )
    assert rebuilt.status_code == 202, rebuilt.text
    assert rebuilt.json()["server"]["OS-EXT-SRV-ATTR:hostname"] == "web-03"
    with nothing_made(compute):
        bad = compute.api(
            "PUT", f"/servers/{sid}", version="2.89", json={"server": {"hostname": "x1"}}
        )
        invalid = compute.api(
            "PUT", f"/servers/{sid}", version="2.90", json={"server": {"hostname": "a.b"}}
        )
        two = compute.api(
            "POST",
            "/servers",
            version="2.90",
            json=server_body(compute, hostname="same", min_count=2),
        )
    assert bad.status_code == 400 and invalid.status_code == 400
    assert two.status_code == 400 and "hostname" in two.json()["badRequest"]["message"]
    compute.api("DELETE", f"/servers/{sid}")


def test_rebuild_answer_per_microversion(compute: Compute) -> None:
    compute.conn.compute.create_keypair(name="rb-key")
    sid = boot(compute).id
    action = f"/servers/{sid}/action"

    def rebuild(version: str, **extra: Any) -> dict[str, Any]:
        body = {"rebuild": {"imageRef": compute.image_id, **extra}}
        resp = compute.api("POST", action, version=version, json=body)
        assert resp.status_code == 202, resp.text
        server: dict[str, Any] = resp.json()["server"]
        _settle(compute, sid)
        return server

    short = rebuild("2.53")
    # before 2.75 the answer leaves out what show adds (zone, states, key, admin attributes)
    assert "OS-EXT-STS:vm_state" not in short and "key_name" not in short
    assert "OS-EXT-SRV-ATTR:host" not in short and "adminPass" in short
    with_key = rebuild("2.54", key_name="rb-key")
    assert with_key["key_name"] == "rb-key"
    assert compute.conn.compute.get_server(sid).key_name == "rb-key"
    data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    with_data = rebuild("2.57", user_data=data, key_name=None)
    assert with_data["user_data"] == data and with_data["key_name"] is None
    full = rebuild("2.75")
    shown = _server(compute, sid, "2.75")
    # from 2.75 the answer is the show body plus adminPass and user_data
    assert set(full) - {"adminPass", "user_data"} == set(shown) - {"OS-EXT-SRV-ATTR:user_data"}
    with nothing_made(compute):
        personality = [{"path": "/etc/x", "contents": "eA=="}]
        gone = compute.api(
            "POST",
            action,
            version="2.57",
            json={"rebuild": {"imageRef": compute.image_id, "personality": personality}},
        )
        early_key = compute.api(
            "POST",
            action,
            version="2.53",
            json={"rebuild": {"imageRef": compute.image_id, "key_name": "rb-key"}},
        )
        no_key = compute.api(
            "POST",
            action,
            version="2.54",
            json={"rebuild": {"imageRef": compute.image_id, "key_name": "no-such-key"}},
        )
    assert gone.status_code == 400 and early_key.status_code == 400
    assert no_key.status_code == 400 and "key_name" in no_key.text
    compute.conn.compute.delete_server(sid)
    compute.conn.compute.delete_keypair("rb-key")


def test_update_answer_per_microversion(compute: Compute) -> None:
    sid = boot(compute).id
    body = {"server": {"name": "renamed"}}
    short = compute.api("PUT", f"/servers/{sid}", version="2.74", json=body).json()["server"]
    assert "OS-EXT-AZ:availability_zone" not in short and "locked_reason" in short
    full = compute.api("PUT", f"/servers/{sid}", version="2.75", json=body).json()["server"]
    assert set(full) == set(_server(compute, sid, "2.75"))
    compute.conn.compute.delete_server(sid)


def test_create_image_answers_image_id_from_2_45(compute: Compute) -> None:
    sid = boot(compute).id
    action = f"/servers/{sid}/action"
    old = compute.api("POST", action, version="2.44", json={"createImage": {"name": "s44"}})
    assert old.status_code == 202 and "/v2/images/" in old.headers["Location"]
    _settle(compute, sid)
    new = compute.api("POST", action, version="2.45", json={"createImage": {"name": "s45"}})
    assert new.status_code == 202 and "Location" not in new.headers
    image_id = new.json()["image_id"]
    _settle(compute, sid)
    assert compute.conn.image.get_image(image_id).name == "s45"
    compute.conn.image.delete_image(image_id)
    compute.conn.image.delete_image(old.headers["Location"].rsplit("/", 1)[-1])
    compute.conn.compute.delete_server(sid)


def test_create_on_a_host_and_personality_gone(compute: Compute) -> None:
    host = compute.hosts[1]
    sid = _create(compute, "2.74", host=host)
    assert compute.conn.compute.get_server(sid).compute_host == host
    compute.conn.compute.delete_server(sid)
    node = _create(compute, "2.74", hypervisor_hostname=compute.hosts[2])
    assert compute.conn.compute.get_server(node).hypervisor_hostname == compute.hosts[2]
    compute.conn.compute.delete_server(node)
    _project, token = member_token(compute)
    personality = [{"path": "/etc/motd", "contents": "aGk="}]
    with nothing_made(compute):
        early = compute.api(
            "POST", "/servers", version="2.73", json=server_body(compute, host=host)
        )
        member = compute.api(
            "POST",
            "/servers",
            version="2.74",
            headers={"X-Auth-Token": token},
            json=server_body(compute, host=host),
        )
        unknown = compute.api(
            "POST", "/servers", version="2.74", json=server_body(compute, host="no-such-host")
        )
        files = compute.api(
            "POST", "/servers", version="2.57", json=server_body(compute, personality=personality)
        )
    assert early.status_code == 400 and member.status_code == 403
    assert unknown.status_code == 400 and "no-such-host" in unknown.text
    assert files.status_code == 400 and "personality" in files.text


def test_server_list_query_is_strict_from_2_75(compute: Compute) -> None:
    assert compute.api("GET", "/servers?foo=1", version="2.74").status_code == 200
    strict = compute.api("GET", "/servers?foo=1", version="2.75")
    assert strict.status_code == 400 and "foo" in strict.text
    assert compute.api("GET", "/servers?sort_key=vcpus", version="2.74").status_code == 200
    assert compute.api("GET", "/servers?sort_key=vcpus", version="2.75").status_code == 400
    assert compute.api("GET", "/servers?sort_key=locked", version="2.75").status_code == 200


def test_topology_and_trusted_certs(compute: Compute) -> None:
    sid = _create(compute, "2.63", trusted_image_certificates=["cert-a", "cert-b"])
    shown = _server(compute, sid, "2.63")
    assert shown["trusted_image_certificates"] == ["cert-a", "cert-b"]
    assert compute.api("GET", f"/servers/{sid}/topology", version="2.77").status_code == 404
    topology = compute.api("GET", f"/servers/{sid}/topology", version="2.78")
    assert topology.json() == {"nodes": [], "pagesize_kb": None}
    compute.api("DELETE", f"/servers/{sid}")


def test_pinned_zone_and_fqdn_hostname(compute: Compute) -> None:
    pinned = _create(compute, "2.94", availability_zone="nova", hostname="db.example.org")
    shown = _server(compute, pinned, "2.96")
    assert shown["pinned_availability_zone"] == "nova"
    assert shown["OS-EXT-SRV-ATTR:hostname"] == "db.example.org"
    assert "pinned_availability_zone" not in _server(compute, pinned, "2.95")
    free = _create(compute, "2.96")
    assert _server(compute, free, "2.96")["pinned_availability_zone"] is None
    listed = compute.api("GET", "/servers/detail", version="2.96").json()["servers"]
    assert {s["id"]: s["pinned_availability_zone"] for s in listed}[pinned] == "nova"
    with nothing_made(compute):
        fqdn_early = compute.api(
            "POST", "/servers", version="2.93", json=server_body(compute, hostname="a.b")
        )
    assert fqdn_early.status_code == 400
    for sid in (pinned, free):
        compute.api("DELETE", f"/servers/{sid}")
