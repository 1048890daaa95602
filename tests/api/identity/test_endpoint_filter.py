"""Endpoint groups and project endpoints (OS-EP-FILTER) through the `openstack` CLI and raw
HTTP: a project with associations gets a catalog of those endpoints only, in its tokens as
keystoneauth reads them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud import Cloud, admin_token
from tests.nothing_made import nothing_made

PASSWORD = "epf-pw-1"
EP = "/OS-EP-FILTER"


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _member_project(cloud: Cloud, admin: str) -> tuple[str, str, str]:
    """(user name, user id, project id): a new user with the member role on a new project."""
    name = f"epf-{uuid.uuid4().hex[:8]}"
    uid = _api(cloud, "POST", "/users", admin, {"user": {"name": name, "password": PASSWORD}})
    pid = _api(cloud, "POST", "/projects", admin, {"project": {"name": name}})
    user_id, project_id = uid.json()["user"]["id"], pid.json()["project"]["id"]
    role = _api(cloud, "GET", "/roles?name=member", admin).json()["roles"][0]["id"]
    grant = f"/projects/{project_id}/users/{user_id}/roles/{role}"
    assert _api(cloud, "PUT", grant, admin).status_code == 204
    return name, user_id, project_id


def _catalog(cloud: Cloud, name: str) -> dict[str, list[str]]:
    """The user's catalog as keystoneauth reads it: service type -> endpoint ids."""
    auth = v3.Password(
        auth_url=cloud.auth_url,
        username=name,
        password=PASSWORD,
        user_domain_id="default",
        project_name=name,
        project_domain_id="default",
    )
    access = auth.get_access(ks_session.Session())
    return {
        svc["type"]: sorted(e["id"] for e in svc["endpoints"])
        for svc in access.service_catalog.catalog
    }


def _extra_service(cloud: Cloud, admin: str) -> tuple[str, list[str]]:
    """A service of its own type with public and internal endpoints: (its id, the endpoint
    ids, public first)."""
    kind = f"epf-{uuid.uuid4().hex[:8]}"
    svc = _api(cloud, "POST", "/services", admin, {"service": {"type": kind, "name": kind}})
    sid = svc.json()["service"]["id"]
    ids = []
    for interface in ("public", "internal"):
        body = {
            "endpoint": {
                "service_id": sid,
                "interface": interface,
                "url": f"http://127.0.0.1:9/{kind}",
                "region_id": "RegionOne",
            }
        }
        ids.append(_api(cloud, "POST", "/endpoints", admin, body).json()["endpoint"]["id"])
    return sid, ids


def test_project_endpoints_narrow_the_catalog(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    sid, ids = _extra_service(identity_cloud, admin)
    name, _uid, pid = _member_project(identity_cloud, admin)
    full = _catalog(identity_cloud, name)
    assert "identity" in full and set(ids) <= {i for v in full.values() for i in v}
    identity_cloud.cli("endpoint", "add", "project", ids[0], pid)
    listed = json.loads(
        identity_cloud.cli("endpoint", "list", "--project", pid, "-f", "json").stdout
    )
    assert [e["ID"] for e in listed] == [ids[0]]
    assert list(_catalog(identity_cloud, name).values()) == [[ids[0]]]
    check = _api(identity_cloud, "GET", f"{EP}/projects/{pid}/endpoints/{ids[0]}", admin)
    assert check.status_code == 204
    projects = _api(identity_cloud, "GET", f"{EP}/endpoints/{ids[0]}/projects", admin).json()
    assert [p["id"] for p in projects["projects"]] == [pid]
    identity_cloud.cli("endpoint", "remove", "project", ids[0], pid)
    assert _catalog(identity_cloud, name) == full
    assert _api(identity_cloud, "DELETE", f"/services/{sid}", admin).status_code == 204


def test_endpoint_groups_through_the_cli(identity_cloud: Cloud, tmp_path: Path) -> None:
    admin = admin_token(identity_cloud.auth_url)
    sid, ids = _extra_service(identity_cloud, admin)
    name, _uid, pid = _member_project(identity_cloud, admin)
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps({"service_id": sid}))
    group_name = f"grp-{uuid.uuid4().hex[:6]}"
    created = json.loads(
        identity_cloud.cli(
            "endpoint", "group", "create", "--description", "only the test service",
            group_name, str(filters), "-f", "json",
        ).stdout
    )  # fmt: skip
    gid = created["id"]
    assert created["filters"] == {"service_id": sid}
    identity_cloud.cli("endpoint", "group", "add", "project", gid, pid)
    groups = json.loads(
        identity_cloud.cli("endpoint", "group", "list", "--project", pid, "-f", "json").stdout
    )
    assert [g["ID"] for g in groups] == [gid]
    assert _catalog(identity_cloud, name) == {_type_of(identity_cloud, admin, sid): sorted(ids)}
    members = _api(identity_cloud, "GET", f"{EP}/endpoint_groups/{gid}/endpoints", admin).json()
    assert sorted(e["id"] for e in members["endpoints"]) == sorted(ids)
    link = _api(identity_cloud, "GET", f"{EP}/endpoint_groups/{gid}/projects/{pid}", admin)
    assert link.json()["project_endpoint_group"]["project_id"] == pid
    # narrowing the group's filters narrows the catalog at once
    filters.write_text(json.dumps({"service_id": sid, "interface": "internal"}))
    identity_cloud.cli("endpoint", "group", "set", "--filters", str(filters), gid)
    assert list(_catalog(identity_cloud, name).values()) == [[ids[1]]]
    identity_cloud.cli("endpoint", "group", "remove", "project", gid, pid)
    identity_cloud.cli("endpoint", "group", "delete", gid)
    assert "identity" in _catalog(identity_cloud, name)
    assert _api(identity_cloud, "DELETE", f"/services/{sid}", admin).status_code == 204


def _type_of(cloud: Cloud, admin: str, service_id: str) -> str:
    return str(_api(cloud, "GET", f"/services/{service_id}", admin).json()["service"]["type"])


def test_bad_endpoint_filter_requests_change_nothing(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    name, _uid, pid = _member_project(identity_cloud, admin)
    member = httpx.post(
        f"{identity_cloud.auth_url}/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": name, "domain": {"id": "default"}, "password": PASSWORD}
                    },
                },
                "scope": {"project": {"id": pid}},
            }
        },
        timeout=30,
    ).headers["X-Subject-Token"]
    endpoint = _api(identity_cloud, "GET", "/endpoints", admin).json()["endpoints"][0]["id"]
    good = {"endpoint_group": {"name": "g", "filters": {"interface": "public"}}}
    gid = _api(identity_cloud, "POST", f"{EP}/endpoint_groups", admin, good).json()[
        "endpoint_group"
    ]["id"]
    nowhere = uuid.uuid4().hex
    cases: list[tuple[str, str, str, Any, int]] = [
        ("POST", f"{EP}/endpoint_groups", admin, {"endpoint_group": {"name": "g"}}, 400),
        ("POST", f"{EP}/endpoint_groups", admin,
         {"endpoint_group": {"name": "g", "filters": {"colour": "red"}}}, 400),
        ("POST", f"{EP}/endpoint_groups", admin,
         {"endpoint_group": {"name": "g", "filters": {"interface": "side"}}}, 400),
        ("POST", f"{EP}/endpoint_groups", admin, {"endpoint_group": {"filters": {}}}, 400),
        ("PATCH", f"{EP}/endpoint_groups/{gid}", admin, {"endpoint_group": {}}, 400),
        ("POST", f"{EP}/endpoint_groups", member, good, 403),
        ("GET", f"{EP}/endpoint_groups", member, None, 403),
        ("PUT", f"{EP}/projects/{pid}/endpoints/{endpoint}", member, None, 403),
        ("PUT", f"{EP}/projects/{pid}/endpoints/{nowhere}", admin, None, 404),
        ("PUT", f"{EP}/projects/{nowhere}/endpoints/{endpoint}", admin, None, 404),
        ("GET", f"{EP}/projects/{pid}/endpoints/{endpoint}", admin, None, 404),
        ("DELETE", f"{EP}/projects/{pid}/endpoints/{endpoint}", admin, None, 404),
        ("PUT", f"{EP}/endpoint_groups/{nowhere}/projects/{pid}", admin, None, 404),
        ("PUT", f"{EP}/endpoint_groups/{gid}/projects/{nowhere}", admin, None, 404),
        ("DELETE", f"{EP}/endpoint_groups/{gid}/projects/{pid}", admin, None, 404),
        ("GET", f"{EP}/endpoint_groups/{nowhere}", admin, None, 404),
        ("DELETE", f"{EP}/endpoint_groups/{nowhere}", admin, None, 404),
    ]  # fmt: skip
    with nothing_made(identity_cloud):
        for method, path, token, body, status in cases:
            resp = _api(identity_cloud, method, path, token, body)
            assert resp.status_code == status, (method, path, body, resp.text)
            assert resp.json()["error"]["code"] == status
    assert _api(identity_cloud, "DELETE", f"{EP}/endpoint_groups/{gid}", admin).status_code == 204
