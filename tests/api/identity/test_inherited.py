"""OS-INHERIT: roles granted on a domain or a project with ``inherited_to_projects`` apply to
every project below it, for users and groups; ``/v3/role_assignments`` shows them as Keystone
does, expanded by ``effective``, and ``include_subtree`` reaches a project's descendants.
Project hierarchies read back with ``parents_as_list``/``subtree_as_list`` and the ids forms."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

from tests.cloud import ADMIN_PASSWORD, Cloud, admin_token, password_body

PASSWORD = "inherit-pw-1"


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _create(cloud: Cloud, token: str, kind: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", f"inh-{uuid.uuid4().hex[:8]}")
    resp = _api(cloud, "POST", f"/{kind}s", token, {kind: fields})
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()[kind]
    return created


def _scoped(cloud: Cloud, user: str, project_id: str) -> httpx.Response:
    body = password_body(user, PASSWORD, None)
    body["auth"]["scope"] = {"project": {"id": project_id}}
    return httpx.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=30)


def _role(cloud: Cloud, token: str, name: str) -> str:
    return str(_api(cloud, "GET", f"/roles?name={name}", token).json()["roles"][0]["id"])


def test_inherited_domain_grant_through_the_cli(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    domain = _create(identity_cloud, admin, "domain")
    user = _create(identity_cloud, admin, "user", password=PASSWORD, domain_id=domain["id"])
    project = _create(identity_cloud, admin, "project", domain_id=domain["id"])
    identity_cloud.cli(
        "role", "add", "--domain", domain["id"], "--user", user["id"], "--inherited", "member"
    )
    body = password_body(user["name"], PASSWORD, None)
    body["auth"]["identity"]["password"]["user"]["domain"] = {"id": domain["id"]}
    body["auth"]["scope"] = {"project": {"id": project["id"]}}
    resp = httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    assert {"member", "reader"} <= {r["name"] for r in resp.json()["token"]["roles"]}
    # inherited to the projects only: the domain itself grants nothing
    body["auth"]["scope"] = {"domain": {"id": domain["id"]}}
    assert httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json=body).status_code == 401
    listed = json.loads(
        identity_cloud.cli(
            "role", "assignment", "list", "--user", user["id"], "--inherited", "-f", "json"
        ).stdout
    )
    assert [(r["Domain"], r["Inherited"]) for r in listed] == [(domain["id"], True)]
    effective = json.loads(
        identity_cloud.cli(
            "role", "assignment", "list", "--user", user["id"], "--effective", "-f", "json"
        ).stdout
    )
    assert [r["Project"] for r in effective] == [project["id"]]
    identity_cloud.cli(
        "role", "remove", "--domain", domain["id"], "--user", user["id"], "--inherited", "member"
    )
    token = resp.headers["X-Subject-Token"]
    assert _api(identity_cloud, "GET", "/auth/catalog", token).status_code == 401


def test_inherited_project_grant_reaches_the_subtree_for_groups(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    top = _create(identity_cloud, admin, "project")
    child = _create(identity_cloud, admin, "project", parent_id=top["id"])
    grandchild = _create(identity_cloud, admin, "project", parent_id=child["id"])
    user = _create(identity_cloud, admin, "user", password=PASSWORD)
    group = _create(identity_cloud, admin, "group")
    member = _role(identity_cloud, admin, "member")
    reader = _role(identity_cloud, admin, "reader")
    assert (
        _api(identity_cloud, "PUT", f"/groups/{group['id']}/users/{user['id']}", admin).status_code
        == 204
    )
    path = f"/OS-INHERIT/projects/{top['id']}/groups/{group['id']}/roles"
    assert (
        _api(identity_cloud, "PUT", f"{path}/{member}/inherited_to_projects", admin).status_code
        == 204
    )
    assert (
        _api(identity_cloud, "HEAD", f"{path}/{member}/inherited_to_projects", admin).status_code
        == 204
    )
    assert (
        _api(identity_cloud, "GET", f"{path}/{reader}/inherited_to_projects", admin).status_code
        == 404
    )
    listed = _api(identity_cloud, "GET", f"{path}/inherited_to_projects", admin).json()["roles"]
    assert [r["id"] for r in listed] == [member]
    # the grant reaches the child and the grandchild, not the project it was made on
    assert _scoped(identity_cloud, user["name"], child["id"]).status_code == 201
    assert _scoped(identity_cloud, user["name"], grandchild["id"]).status_code == 201
    assert _scoped(identity_cloud, user["name"], top["id"]).status_code == 401
    # and the projects it reaches are the user's projects, as clients list them
    token = _scoped(identity_cloud, user["name"], child["id"]).headers["X-Subject-Token"]
    mine = _api(identity_cloud, "GET", "/auth/projects", token).json()["projects"]
    assert {p["id"] for p in mine} == {child["id"], grandchild["id"]}
    theirs = _api(identity_cloud, "GET", f"/users/{user['id']}/projects", admin).json()
    assert {p["id"] for p in theirs["projects"]} == {child["id"], grandchild["id"]}
    # a direct grant on the grandchild shows under the top project with include_subtree
    direct = f"/projects/{grandchild['id']}/users/{user['id']}/roles/{reader}"
    assert _api(identity_cloud, "PUT", direct, admin).status_code == 204
    report = _api(
        identity_cloud, "GET",
        f"/role_assignments?scope.project.id={top['id']}&include_subtree=true", admin,
    ).json()["role_assignments"]  # fmt: skip
    assert {(a["role"]["id"], a["scope"]["project"]["id"]) for a in report} == {
        (member, top["id"]),
        (reader, grandchild["id"]),
    }
    inherited = next(a for a in report if a["role"]["id"] == member)
    assert inherited["scope"]["OS-INHERIT:inherited_to"] == "projects"
    assert inherited["links"]["assignment"].endswith(
        f"/v3/OS-INHERIT/projects/{top['id']}/groups/{group['id']}/roles/{member}"
        "/inherited_to_projects"
    )
    effective = _api(
        identity_cloud, "GET", f"/role_assignments?user.id={user['id']}&effective", admin
    ).json()["role_assignments"]
    assert {(a["role"]["id"], a["scope"]["project"]["id"]) for a in effective} == {
        (member, child["id"]),
        (member, grandchild["id"]),
        (reader, grandchild["id"]),
    }
    assert all("OS-INHERIT:inherited_to" not in a["scope"] for a in effective)
    assert (
        _api(identity_cloud, "DELETE", f"{path}/{member}/inherited_to_projects", admin).status_code
        == 204
    )
    assert _scoped(identity_cloud, user["name"], child["id"]).status_code == 401
    # a non-inherited grant on the same triple is a different grant
    plain = f"/projects/{top['id']}/groups/{group['id']}/roles/{member}"
    assert _api(identity_cloud, "HEAD", plain, admin).status_code == 404


def _client(cloud: Cloud, user: str, password: str, **scope: str) -> Any:
    auth = v3.Password(
        auth_url=cloud.auth_url,
        username=user,
        password=password,
        user_domain_id="default",
        **scope,
    )
    return ks_client.Client(session=ks_session.Session(auth=auth))


def test_project_hierarchy_as_lists_and_ids_with_keystoneclient(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    top = _create(identity_cloud, admin, "project")
    child = _create(identity_cloud, admin, "project", parent_id=top["id"])
    leaf = json.loads(
        identity_cloud.cli(
            "project", "create", "--parent", top["id"], f"inh-{uuid.uuid4().hex[:8]}", "-f", "json"
        ).stdout
    )
    assert leaf["parent_id"] == top["id"]
    grandchild = _create(identity_cloud, admin, "project", parent_id=child["id"])
    assert child["parent_id"] == top["id"] and top["parent_id"] == "default"
    system = _client(identity_cloud, "admin", ADMIN_PASSWORD, system_scope="all")
    got = system.projects.get(top["id"], subtree_as_list=True)
    assert sorted(p["project"]["id"] for p in got.subtree) == sorted(
        [child["id"], leaf["id"], grandchild["id"]]
    )
    assert {p["project"]["parent_id"] for p in got.subtree} == {top["id"], child["id"]}
    got = system.projects.get(grandchild["id"], parents_as_list=True)
    assert [p["project"]["id"] for p in got.parents] == [child["id"], top["id"]]
    got = system.projects.get(top["id"], subtree_as_ids=True)
    assert got.subtree == {child["id"]: {grandchild["id"]: None}, leaf["id"]: None}
    got = system.projects.get(grandchild["id"], parents_as_ids=True)
    assert got.parents == {child["id"]: {top["id"]: {"default": None}}}
    # the CLI asks for the ids forms
    shown = json.loads(
        identity_cloud.cli(
            "project", "show", "--parents", "--children", child["id"], "-f", "json"
        ).stdout
    )
    assert shown["parents"] == {top["id"]: {"default": None}}, shown
    assert shown["subtree"] == {grandchild["id"]: None}, shown
    plain = system.projects.get(top["id"])
    assert not hasattr(plain, "subtree") and not hasattr(plain, "parents")
    # a member of the child sees only the projects it holds a role on
    user = _create(identity_cloud, admin, "user", password=PASSWORD)
    member = _role(identity_cloud, admin, "member")
    for project in (child, grandchild):
        path = f"/projects/{project['id']}/users/{user['id']}/roles/{member}"
        assert _api(identity_cloud, "PUT", path, admin).status_code == 204
    mine = _client(identity_cloud, user["name"], PASSWORD, project_id=child["id"])
    got = mine.projects.get(child["id"], subtree_as_list=True, parents_as_list=True)
    assert got.parents == []
    assert [p["project"]["id"] for p in got.subtree] == [grandchild["id"]]
    # the list and the ids form of one side together are refused, as Keystone refuses them
    both = _api(
        identity_cloud, "GET", f"/projects/{top['id']}?subtree_as_list&subtree_as_ids", admin
    )
    assert both.status_code == 400 and "subtree_as_ids" in both.json()["error"]["message"]


def test_inherited_grants_for_groups_on_domains_and_users_on_projects(
    identity_cloud: Cloud,
) -> None:
    admin = admin_token(identity_cloud.auth_url)
    domain = _create(identity_cloud, admin, "domain")
    top = _create(identity_cloud, admin, "project", domain_id=domain["id"])
    below = _create(identity_cloud, admin, "project", parent_id=top["id"])
    user = _create(identity_cloud, admin, "user", password=PASSWORD)
    group = _create(identity_cloud, admin, "group")
    path = f"/groups/{group['id']}/users/{user['id']}"
    assert _api(identity_cloud, "PUT", path, admin).status_code == 204
    custom = _create(identity_cloud, admin, "role")
    member = _role(identity_cloud, admin, "member")
    ks = _client(identity_cloud, "admin", ADMIN_PASSWORD, system_scope="all")
    ks.roles.grant(member, group=group["id"], domain=domain["id"],
                   os_inherit_extension_inherited=True)  # fmt: skip
    ks.roles.grant(custom["id"], user=user["id"], project=top["id"],
                   os_inherit_extension_inherited=True)  # fmt: skip
    listed = ks.roles.list(user=user["id"], project=top["id"], os_inherit_extension_inherited=True)
    assert [r.id for r in listed] == [custom["id"]]
    listed = ks.roles.list(group=group["id"], domain=domain["id"],
                           os_inherit_extension_inherited=True)  # fmt: skip
    assert [r.id for r in listed] == [member]

    def roles_on(project: dict[str, Any]) -> set[str]:
        got = _scoped(identity_cloud, user["name"], project["id"])
        assert got.status_code == 201, got.text
        return {r["name"] for r in got.json()["token"]["roles"]}

    # the domain's inherited grant reaches both projects; the project's only the one below
    assert roles_on(top) == {"member", "reader"}
    assert roles_on(below) == {"member", "reader", custom["name"]}
    ks.roles.revoke(member, group=group["id"], domain=domain["id"],
                    os_inherit_extension_inherited=True)  # fmt: skip
    assert _scoped(identity_cloud, user["name"], top["id"]).status_code == 401
    assert roles_on(below) == {custom["name"]}
    ks.roles.revoke(custom["id"], user=user["id"], project=top["id"],
                    os_inherit_extension_inherited=True)  # fmt: skip
    left = _api(identity_cloud, "GET", f"/role_assignments?user.id={user['id']}&effective", admin)
    assert left.json()["role_assignments"] == []
