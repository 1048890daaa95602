"""Smaller Keystone behaviours clients rely on: project tags one by one, regions with a chosen
id, rescoping an unscoped token, a project member reading its own domain, and 404 for a user
in a domain that does not exist."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import openstack.connection
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud import Cloud, admin_token, password_body

PASSWORD = "details-pw-1"


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _member(cloud: Cloud, admin: str) -> tuple[str, str, str]:
    """(user name, project id, project-scoped member token) of a new user and project."""
    name = f"det-{uuid.uuid4().hex[:8]}"
    user = _api(cloud, "POST", "/users", admin, {"user": {"name": name, "password": PASSWORD}})
    project = _api(cloud, "POST", "/projects", admin, {"project": {"name": name}})
    uid, pid = user.json()["user"]["id"], project.json()["project"]["id"]
    role = _api(cloud, "GET", "/roles?name=member", admin).json()["roles"][0]["id"]
    assert _api(cloud, "PUT", f"/projects/{pid}/users/{uid}/roles/{role}", admin).status_code == 204
    resp = httpx.post(
        f"{cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, name), timeout=30
    )
    return name, pid, resp.headers["X-Subject-Token"]


def test_project_tags_one_by_one_through_the_sdk(admin: openstack.connection.Connection) -> None:
    project = admin.identity.create_project(name=f"tags-{uuid.uuid4().hex[:6]}", tags=["a"])
    project.add_tag(admin.identity, "blue")
    assert project.check_tag(admin.identity, "blue").tags == ["a", "blue"]
    assert admin.identity.get_project(project.id).tags == ["a", "blue"]
    project.remove_tag(admin.identity, "a")
    assert admin.identity.get_project(project.id).tags == ["blue"]
    project.set_tags(admin.identity, ["x", "y"])
    assert admin.identity.get_project(project.id).tags == ["x", "y"]
    project.remove_all_tags(admin.identity)
    assert admin.identity.get_project(project.id).tags == []


def test_project_tags_over_http(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    _name, pid, member = _member(identity_cloud, admin)
    path = f"/projects/{pid}/tags"
    added = _api(identity_cloud, "PUT", f"{path}/red", admin)
    assert added.status_code == 201 and added.headers["Location"].endswith(f"{path}/red")
    assert _api(identity_cloud, "PUT", f"{path}/red", admin).status_code == 201  # idempotent
    assert _api(identity_cloud, "GET", f"{path}/red", member).status_code == 204
    assert _api(identity_cloud, "GET", f"{path}/green", member).status_code == 404
    assert _api(identity_cloud, "GET", path, member).json()["tags"] == ["red"]
    # a member reads the tags and changes none
    assert _api(identity_cloud, "PUT", f"{path}/green", member).status_code == 403
    assert _api(identity_cloud, "DELETE", f"{path}/red", member).status_code == 403
    replaced = _api(identity_cloud, "PUT", path, admin, {"tags": ["b", "c"]})
    assert replaced.status_code == 200 and replaced.json()["tags"] == ["b", "c"]
    assert _api(identity_cloud, "PUT", path, admin, {"tags": ["a,b"]}).status_code == 400
    assert _api(identity_cloud, "PUT", path, admin, {"tags": ["t"] * 81}).status_code == 400
    assert _api(identity_cloud, "DELETE", f"{path}/nope", admin).status_code == 404
    assert _api(identity_cloud, "DELETE", f"{path}/b", admin).status_code == 204
    assert _api(identity_cloud, "GET", path, admin).json()["tags"] == ["c"]
    assert _api(identity_cloud, "DELETE", path, admin).status_code == 204
    assert _api(identity_cloud, "GET", path, admin).json()["tags"] == []
    assert _api(identity_cloud, "PUT", "/projects/nope/tags/x", admin).status_code == 404


def test_region_created_with_a_chosen_id(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    region_id = f"Region-{uuid.uuid4().hex[:6]}"
    body = {"region": {"description": "chosen"}}
    created = _api(identity_cloud, "PUT", f"/regions/{region_id}", admin, body)
    assert created.status_code == 201, created.text
    assert created.json()["region"]["id"] == region_id
    assert (
        _api(identity_cloud, "GET", f"/regions/{region_id}", admin).json()["region"]["description"]
        == "chosen"
    )
    assert _api(identity_cloud, "PUT", f"/regions/{region_id}", admin, body).status_code == 409
    child = {"region": {"parent_region_id": region_id}}
    assert _api(identity_cloud, "PUT", f"/regions/{region_id}-a", admin, child).status_code == 201
    orphan = {"region": {"parent_region_id": "nowhere"}}
    assert _api(identity_cloud, "PUT", f"/regions/{region_id}-b", admin, orphan).status_code == 404
    _name, _pid, member = _member(identity_cloud, admin)
    assert _api(identity_cloud, "PUT", f"/regions/{region_id}-c", member, body).status_code == 403


def test_unscoped_token_rescoped_to_a_project(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    name, pid, _member_token = _member(identity_cloud, admin)
    unscoped = httpx.post(
        f"{identity_cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, None)
    )
    token = unscoped.headers["X-Subject-Token"]
    assert "project" not in unscoped.json()["token"]
    # keystoneauth's token plugin exchanges it, as `openstack --os-token ... --os-project-id`
    plugin = v3.Token(auth_url=identity_cloud.auth_url, token=token, project_id=pid)
    sess = ks_session.Session(auth=plugin)
    access = plugin.get_access(sess)
    assert access.project_id == pid and access.project_scoped
    assert "member" in access.role_names
    shown = httpx.get(
        f"{identity_cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": admin, "X-Subject-Token": access.auth_token},
        timeout=30,
    ).json()["token"]
    assert shown["methods"] == ["password", "token"]
    assert shown["audit_ids"][0] == unscoped.json()["token"]["audit_ids"][0]
    # no role on the admin project: that rescope is refused
    refused = httpx.post(
        f"{identity_cloud.auth_url}/auth/tokens",
        json={
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": token}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        },
        timeout=30,
    )
    assert refused.status_code == 401


def test_project_member_reads_its_own_domain_only(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    _name, _pid, member = _member(identity_cloud, admin)
    shown = _api(identity_cloud, "GET", "/domains/default", member)
    assert shown.status_code == 200 and shown.json()["domain"]["name"] == "Default"
    other = _api(identity_cloud, "POST", "/domains", admin, {"domain": {"name": f"d-{_pid[:6]}"}})
    other_id = other.json()["domain"]["id"]
    assert _api(identity_cloud, "GET", f"/domains/{other_id}", member).status_code == 403
    assert _api(identity_cloud, "GET", "/domains", member).status_code == 403


def test_user_in_a_missing_domain_is_404(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    name = f"lost-{uuid.uuid4().hex[:6]}"
    body = {"user": {"name": name, "domain_id": "no-such-domain"}}
    resp = _api(identity_cloud, "POST", "/users", admin, body)
    assert resp.status_code == 404 and "no-such-domain" in resp.json()["error"]["message"]
    assert _api(identity_cloud, "GET", f"/users?name={name}", admin).json()["users"] == []


def test_domain_reader_reads_its_own_domain_and_changes_nothing(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)

    def create(kind: str, **fields: Any) -> str:
        fields.setdefault("name", f"dr-{uuid.uuid4().hex[:8]}")
        resp = _api(identity_cloud, "POST", f"/{kind}s", admin, {kind: fields})
        assert resp.status_code == 201, resp.text
        return str(resp.json()[kind]["id"])

    domain = create("domain")
    reader_name = f"dr-{uuid.uuid4().hex[:8]}"
    reader = create("user", name=reader_name, password=PASSWORD, domain_id=domain)
    colleague = create("user", domain_id=domain)
    project = create("project", domain_id=domain)
    group = create("group", domain_id=domain)
    elsewhere = create("project")
    role = _api(identity_cloud, "GET", "/roles?name=reader", admin).json()["roles"][0]["id"]
    grant = f"/domains/{domain}/users/{reader}/roles/{role}"
    assert _api(identity_cloud, "PUT", grant, admin).status_code == 204
    body = password_body(reader_name, PASSWORD, None)
    body["auth"]["identity"]["password"]["user"]["domain"] = {"id": domain}
    body["auth"]["scope"] = {"domain": {"id": domain}}
    token = httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json=body).headers[
        "X-Subject-Token"
    ]
    listed = {
        kind: {r["id"] for r in _api(identity_cloud, "GET", f"/{kind}", token).json()[kind]}
        for kind in ("users", "projects", "groups")
    }
    assert listed == {
        "users": {reader, colleague},
        "projects": {project},
        "groups": {group},
    }
    for path in (f"/users/{colleague}", f"/projects/{project}", f"/groups/{group}"):
        assert _api(identity_cloud, "GET", path, token).status_code == 200, path
    admin_id = _api(identity_cloud, "GET", "/users?name=admin", admin).json()["users"][0]["id"]
    for path in (f"/users/{admin_id}", f"/projects/{elsewhere}", "/users?domain_id=default"):
        assert _api(identity_cloud, "GET", path, token).status_code == 403, path
    create_body = {"project": {"name": "no", "domain_id": domain}}
    assert _api(identity_cloud, "POST", "/projects", token, create_body).status_code == 403


def test_token_times_are_written_as_keystone_writes_them(identity_cloud: Cloud) -> None:
    """Whole seconds with six zero digits and a Z (fernet tokens keep no more), read back by
    keystoneauth; a rescoped token keeps its parent's expiry."""
    admin = admin_token(identity_cloud.auth_url)
    name, pid, _member_token = _member(identity_cloud, admin)
    issued = httpx.post(
        f"{identity_cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, None)
    )
    body = issued.json()["token"]
    keystone_time = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$")
    assert keystone_time.match(body["expires_at"]) and keystone_time.match(body["issued_at"])
    plugin = v3.Token(
        auth_url=identity_cloud.auth_url, token=issued.headers["X-Subject-Token"], project_id=pid
    )
    access = plugin.get_access(ks_session.Session(auth=plugin))
    assert access.expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z") == body["expires_at"]
