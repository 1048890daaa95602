"""System scope as Keystone has it: role grants on the system for users and groups,
system-scoped tokens, ``/v3/auth/system``, ``scope.system`` in role assignments, and system
personas in identity's policies."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest

from ministack.identity.client import HttpValidator
from tests.cloud import ADMIN_PASSWORD, VENV_BIN, Cloud, admin_token, running_cloud

PASSWORD = "system-pw-1"
SYSTEM_SCOPE = {"system": {"all": True}}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _login(cloud: Cloud, user: str, password: str, scope: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            },
        }
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    return httpx.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=30)


def _user(cloud: Cloud, token: str) -> dict[str, Any]:
    name = _name("sys")
    resp = _api(cloud, "POST", "/users", token, {"user": {"name": name, "password": PASSWORD}})
    assert resp.status_code == 201, resp.text
    user: dict[str, Any] = resp.json()["user"]
    return user


def _role_id(cloud: Cloud, token: str, name: str) -> str:
    roles = _api(cloud, "GET", f"/roles?name={name}", token).json()["roles"]
    return str(roles[0]["id"])


def test_bootstrap_gives_admin_the_admin_role_on_the_system(identity_cloud: Cloud) -> None:
    out = identity_cloud.cli(
        "role", "assignment", "list", "--system", "all", "--names", "-f", "json"
    ).stdout
    rows = json.loads(out)
    assert {"Role": "admin", "User": "admin@Default", "System": "all"}.items() <= next(
        r for r in rows if r["User"] == "admin@Default"
    ).items()


def test_system_token_through_the_cli_and_sdk(identity_cloud: Cloud) -> None:
    env = {k: v for k, v in identity_cloud.cli_env().items() if not k.startswith("OS_PROJECT_")}
    issued = subprocess.run(
        [str(VENV_BIN / "openstack"), "--os-system-scope", "all", "token", "issue", "-f", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(issued.stdout)["id"]
    conn = openstack.connect(
        auth={
            "auth_url": identity_cloud.auth_url,
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "user_domain_id": "default",
            "system_scope": "all",
        },
        region_name="RegionOne",
        load_yaml_config=False,
        load_envvars=False,
    )
    assert conn.session.auth.get_access(conn.session).system_scoped
    # a system admin administers identity like the admin does
    assert any(u.name == "admin" for u in conn.identity.users())


def test_system_token_body_is_keystones(identity_cloud: Cloud) -> None:
    resp = _login(identity_cloud, "admin", ADMIN_PASSWORD, SYSTEM_SCOPE)
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["system"] == {"all": True}
    assert "project" not in token and "domain" not in token
    assert {"admin", "member", "reader"} <= {r["name"] for r in token["roles"]}
    assert any(entry["type"] == "identity" for entry in token["catalog"])
    subject = resp.headers["X-Subject-Token"]
    got = httpx.get(
        f"{identity_cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": subject, "X-Subject-Token": subject},
        timeout=30,
    )
    assert got.status_code == 200 and got.json()["token"]["system"] == {"all": True}
    bad = _login(identity_cloud, "admin", ADMIN_PASSWORD, {"system": {"all": False}})
    assert bad.status_code == 400


def test_auth_system_lists_the_system_only_for_holders(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    resp = _api(identity_cloud, "GET", "/auth/system", admin)
    assert resp.status_code == 200 and resp.json()["system"] == [{"all": True}]
    user = _user(identity_cloud, admin)
    unscoped = _login(identity_cloud, user["name"], PASSWORD, None)
    token = unscoped.headers["X-Subject-Token"]
    assert _api(identity_cloud, "GET", "/auth/system", token).json()["system"] == []
    # no role on the system: a system-scoped token is refused
    assert _login(identity_cloud, user["name"], PASSWORD, SYSTEM_SCOPE).status_code == 401


def test_system_grants_for_users_through_cli_and_http(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    user = _user(identity_cloud, admin)
    reader = _role_id(identity_cloud, admin, "reader")
    identity_cloud.cli("role", "add", "--system", "all", "--user", user["id"], "reader")
    path = f"/system/users/{user['id']}/roles"
    assert _api(identity_cloud, "HEAD", f"{path}/{reader}", admin).status_code == 204
    assert _api(identity_cloud, "GET", f"{path}/{reader}", admin).status_code == 204
    listed = _api(identity_cloud, "GET", path, admin).json()["roles"]
    assert [r["id"] for r in listed] == [reader]
    report = _api(
        identity_cloud, "GET", f"/role_assignments?scope.system=all&user.id={user['id']}", admin
    ).json()["role_assignments"]
    assert report == [
        {
            "role": {"id": reader},
            "scope": {"system": {"all": True}},
            "user": {"id": user["id"]},
            "links": {
                "assignment": f"{identity_cloud.auth_url}/system/users/{user['id']}/roles/{reader}"
            },
        }
    ]
    # the CLI lists it in its System column, with names (include_names)
    rows = json.loads(
        identity_cloud.cli(
            "role", "assignment", "list", "--system", "all", "--user", user["id"], "--names",
            "-f", "json",
        ).stdout
    )  # fmt: skip
    assert [(r["Role"], r["User"], r["System"]) for r in rows] == [
        ("reader", f"{user['name']}@Default", "all")
    ]
    # a project filter never matches a system grant
    other = _api(
        identity_cloud, "GET", f"/role_assignments?scope.project.id=x&user.id={user['id']}", admin
    )
    assert other.json()["role_assignments"] == []
    token = _login(identity_cloud, user["name"], PASSWORD, SYSTEM_SCOPE)
    assert token.status_code == 201 and token.json()["token"]["roles"] == [
        {"id": reader, "name": "reader"}
    ]
    identity_cloud.cli("role", "remove", "--system", "all", "--user", user["id"], "reader")
    assert _api(identity_cloud, "HEAD", f"{path}/{reader}", admin).status_code == 404
    assert _api(identity_cloud, "DELETE", f"{path}/{reader}", admin).status_code == 404
    # the removal takes effect on the next validation of the token made before it
    subject = token.headers["X-Subject-Token"]
    assert _api(identity_cloud, "GET", "/auth/system", subject).status_code == 401


def test_system_grants_for_groups_reach_members(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    user = _user(identity_cloud, admin)
    group = _api(identity_cloud, "POST", "/groups", admin, {"group": {"name": _name("g")}})
    gid = group.json()["group"]["id"]
    assert (
        _api(identity_cloud, "PUT", f"/groups/{gid}/users/{user['id']}", admin).status_code == 204
    )
    member = _role_id(identity_cloud, admin, "member")
    path = f"/system/groups/{gid}/roles"
    assert _api(identity_cloud, "PUT", f"{path}/{member}", admin).status_code == 204
    assert [r["name"] for r in _api(identity_cloud, "GET", path, admin).json()["roles"]] == [
        "member"
    ]
    effective = _api(
        identity_cloud, "GET", f"/role_assignments?scope.system=all&effective&user.id={user['id']}",
        admin,
    ).json()["role_assignments"]  # fmt: skip
    assert [(a["role"]["id"], a["scope"]) for a in effective] == [
        (member, {"system": {"all": True}})
    ]
    token = _login(identity_cloud, user["name"], PASSWORD, SYSTEM_SCOPE)
    assert {r["name"] for r in token.json()["token"]["roles"]} == {"member", "reader"}
    assert _api(identity_cloud, "DELETE", f"{path}/{member}", admin).status_code == 204
    assert _api(identity_cloud, "GET", f"{path}/{member}", admin).status_code == 404
    missing = _api(identity_cloud, "PUT", f"/system/groups/nope/roles/{member}", admin)
    assert missing.status_code == 404


def test_system_reader_reads_identity_but_changes_nothing(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    user = _user(identity_cloud, admin)
    reader = _role_id(identity_cloud, admin, "reader")
    assert (
        _api(identity_cloud, "PUT", f"/system/users/{user['id']}/roles/{reader}", admin).status_code
        == 204
    )
    token = _login(identity_cloud, user["name"], PASSWORD, SYSTEM_SCOPE).headers["X-Subject-Token"]
    reads = ("/users", "/projects", "/domains", "/groups", "/role_assignments", "/OS-TRUST/trusts",
             "/OS-EP-FILTER/endpoint_groups", "/domains/config/default")  # fmt: skip
    for path in reads:
        assert _api(identity_cloud, "GET", path, token).status_code == 200, path
    assert _api(identity_cloud, "GET", f"/users/{user['id']}", token).status_code == 200
    writes = [
        ("POST", "/users", {"user": {"name": _name("no")}}),
        ("POST", "/projects", {"project": {"name": _name("no")}}),
        ("PUT", f"/system/users/{user['id']}/roles/{reader}", None),
        ("DELETE", f"/system/users/{user['id']}/roles/{reader}", None),
        (
            "POST",
            "/OS-EP-FILTER/endpoint_groups",
            {"endpoint_group": {"name": "no", "filters": {}}},
        ),
        ("PUT", "/domains/default/config", {"config": {"identity": {"driver": "sql"}}}),
    ]
    for method, path, body in writes:
        assert _api(identity_cloud, method, path, token, body).status_code == 403, path


def test_http_validator_carries_the_system_scope(identity_cloud: Cloud) -> None:
    token = _login(identity_cloud, "admin", ADMIN_PASSWORD, SYSTEM_SCOPE).headers["X-Subject-Token"]

    async def check() -> None:
        validator = HttpValidator(identity_cloud.auth_url, cache_seconds=30)
        try:
            auth = await validator.validate(token)
        finally:
            await validator.close()
        assert auth.system_scope == "all" and auth.project_id is None
        assert auth.is_system_reader and auth.is_admin

    asyncio.run(check())


@pytest.mark.parametrize("scope", [{"system": "all"}, {"system": {"everything": True}}])
def test_malformed_system_scope_is_400(identity_cloud: Cloud, scope: Any) -> None:
    assert _login(identity_cloud, "admin", ADMIN_PASSWORD, scope).status_code == 400


def test_restart_gives_an_older_install_the_system_grant(tmp_path: Path) -> None:
    """An install made before system scope existed has no system grant; bootstrap at the next
    start adds it (and only it), as `keystone-manage bootstrap` run again would."""
    with running_cloud(tmp_path) as cloud:
        admin = admin_token(cloud.auth_url)
        me = _api(cloud, "GET", "/users?name=admin", admin).json()["users"][0]["id"]
        role = _role_id(cloud, admin, "admin")
        grant = f"/system/users/{me}/roles/{role}"
        assert _api(cloud, "DELETE", grant, admin).status_code == 204
        assert _login(cloud, "admin", ADMIN_PASSWORD, SYSTEM_SCOPE).status_code == 401
        before = _api(cloud, "GET", "/role_assignments", admin).json()["role_assignments"]
        cloud.stop()
        cloud.start()
        admin = admin_token(cloud.auth_url)
        assert _api(cloud, "HEAD", grant, admin).status_code == 204
        after = _api(cloud, "GET", "/role_assignments", admin).json()["role_assignments"]
        assert len(after) == len(before) + 1
        assert _login(cloud, "admin", ADMIN_PASSWORD, SYSTEM_SCOPE).status_code == 201
