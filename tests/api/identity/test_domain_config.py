"""Domain-specific configuration (``/v3/domains/{id}/config`` and the default views) over raw
HTTP: the clients have no command for it. ministack stores and returns the settings; it does
not use LDAP."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from typing import Any

import httpx

from tests.cloud import Cloud, admin_token
from tests.nothing_made import nothing_made

LDAP = {
    "identity": {"driver": "ldap"},
    "ldap": {"url": "ldap://ldap.example.org", "user_tree_dn": "ou=Users,dc=example,dc=org"},
}


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _domain(cloud: Cloud, admin: str) -> str:
    body = {"domain": {"name": f"dconf-{uuid.uuid4().hex[:8]}"}}
    return str(_api(cloud, "POST", "/domains", admin, body).json()["domain"]["id"])


def _stored(cloud: Cloud) -> str:
    sql = "SELECT config || sensitive FROM identity_domain_configs"
    if cloud.database_url:
        return subprocess.run(
            ["psql", cloud.database_url, "-At", "-c", sql], capture_output=True, text=True,
            check=True,
        ).stdout  # fmt: skip
    with sqlite3.connect(cloud.state_dir / "ministack.db") as db:
        return "\n".join(row[0] for row in db.execute(sql))


def test_domain_config_at_every_level(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    did = _domain(identity_cloud, admin)
    base = f"/domains/{did}/config"
    with_password = {**LDAP, "ldap": {**LDAP["ldap"], "password": "bind-secret-9"}}
    created = _api(identity_cloud, "PUT", base, admin, {"config": with_password})
    assert created.status_code == 201, created.text
    assert created.json()["config"] == LDAP  # the bind password is never shown
    assert "bind-secret-9" not in _stored(identity_cloud)  # nor stored in clear
    assert _api(identity_cloud, "GET", base, admin).json()["config"] == LDAP
    ldap = _api(identity_cloud, "GET", f"{base}/ldap", admin).json()["config"]
    assert ldap == {"ldap": LDAP["ldap"]}
    url = _api(identity_cloud, "GET", f"{base}/ldap/url", admin).json()["config"]
    assert url == {"url": "ldap://ldap.example.org"}
    changed = _api(
        identity_cloud, "PATCH", f"{base}/ldap", admin, {"config": {"ldap": {"page_size": 50}}}
    )
    assert changed.json()["config"]["ldap"]["page_size"] == 50
    one = _api(identity_cloud, "PATCH", f"{base}/ldap/url", admin,
               {"config": {"url": "ldaps://ldap.example.org"}})  # fmt: skip
    assert one.json()["config"] == {"url": "ldaps://ldap.example.org"}
    assert _api(identity_cloud, "DELETE", f"{base}/ldap/page_size", admin).status_code == 204
    assert "page_size" not in _api(identity_cloud, "GET", f"{base}/ldap", admin).json()["config"]
    # replacing the whole configuration answers 200
    again = _api(identity_cloud, "PUT", base, admin, {"config": {"identity": {"driver": "sql"}}})
    assert again.status_code == 200 and again.json()["config"] == {"identity": {"driver": "sql"}}
    assert _api(identity_cloud, "DELETE", f"{base}/identity", admin).status_code == 204
    assert _api(identity_cloud, "GET", base, admin).status_code == 404
    _api(identity_cloud, "PUT", base, admin, {"config": LDAP})
    assert _api(identity_cloud, "DELETE", base, admin).status_code == 204
    assert _api(identity_cloud, "GET", base, admin).status_code == 404


def test_default_views(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    whole = _api(identity_cloud, "GET", "/domains/config/default", admin).json()["config"]
    assert set(whole) == {"identity", "ldap"} and whole["identity"]["driver"] == "sql"
    assert "password" not in whole["ldap"]
    ldap = _api(identity_cloud, "GET", "/domains/config/ldap/default", admin).json()["config"]
    assert ldap["ldap"]["user_objectclass"] == "inetOrgPerson"
    one = _api(identity_cloud, "GET", "/domains/config/ldap/url/default", admin).json()
    assert one["config"] == {"url": "ldap://localhost"}


def test_any_user_reads_the_password_rules(identity_cloud: Cloud) -> None:
    """Keystone's security_compliance view: password_regex and its description, readable by
    any token (Horizon shows them on its password forms), never settable here."""
    admin = admin_token(identity_cloud.auth_url)
    name = f"dconf-{uuid.uuid4().hex[:6]}"
    _api(identity_cloud, "POST", "/users", admin, {"user": {"name": name, "password": "pw-9"}})
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": "pw-9"}}}}}  # fmt: skip
    unscoped = httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json=login, timeout=30)
    token = unscoped.headers["X-Subject-Token"]
    rules = _api(identity_cloud, "GET", "/domains/default/config/security_compliance", token)
    assert rules.status_code == 200, rules.text
    assert set(rules.json()["config"]["security_compliance"]) == {
        "password_regex",
        "password_regex_description",
    }
    one = _api(
        identity_cloud, "GET", "/domains/default/config/security_compliance/password_regex", token
    )
    assert one.json()["config"] == {"password_regex": None}  # none configured (the default)
    with nothing_made(identity_cloud):
        body = {"config": {"security_compliance": {"password_regex": ".*"}}}
        changed = _api(
            identity_cloud, "PATCH", "/domains/default/config/security_compliance", admin, body
        )
        assert changed.status_code == 403
        other = "/domains/default/config/security_compliance/lockout_duration"
        assert _api(identity_cloud, "GET", other, token).status_code == 403
        missing = f"/domains/{uuid.uuid4().hex}/config/security_compliance"
        assert _api(identity_cloud, "GET", missing, token).status_code == 404


def test_bad_domain_config_requests_change_nothing(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    did = _domain(identity_cloud, admin)
    other = _domain(identity_cloud, admin)
    assert (
        _api(identity_cloud, "PUT", f"/domains/{did}/config", admin, {"config": LDAP}).status_code
        == 201
    )
    user = {"user": {"name": f"dconf-{uuid.uuid4().hex[:6]}", "password": "pw-dconf-1"}}
    uid = _api(identity_cloud, "POST", "/users", admin, user).json()["user"]["id"]
    project = _api(identity_cloud, "POST", "/projects", admin, {"project": {"name": uid}})
    pid = project.json()["project"]["id"]
    role = _api(identity_cloud, "GET", "/roles?name=member", admin).json()["roles"][0]["id"]
    _api(identity_cloud, "PUT", f"/projects/{pid}/users/{uid}/roles/{role}", admin)
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": uid, "password": "pw-dconf-1"}}}, "scope": {"project": {"id": pid}}}}  # fmt: skip
    member = httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json=login, timeout=30).headers[
        "X-Subject-Token"
    ]
    base = f"/domains/{did}/config"
    cases: list[tuple[str, str, str, Any, int]] = [
        ("PUT", base, admin, {"config": {}}, 403),
        ("PUT", base, admin, {"config": {"assignment": {"driver": "sql"}}}, 403),
        ("PUT", base, admin, {"config": {"ldap": {"colour": "red"}}}, 403),
        ("PUT", base, admin, {"config": {"ldap": {}}}, 403),
        ("PUT", base, admin, {"setting": LDAP}, 400),
        ("PUT", base, admin, {"config": "ldap"}, 400),
        ("PUT", f"/domains/{uuid.uuid4().hex}/config", admin, {"config": LDAP}, 404),
        ("PUT", base, member, {"config": LDAP}, 403),
        ("GET", base, member, None, 403),
        ("PATCH", f"{base}/ldap", admin, {"config": {"identity": {"driver": "sql"}}}, 403),
        ("PATCH", f"{base}/ldap/url", admin, {"config": {"suffix": "dc=x"}}, 403),
        ("PATCH", f"{base}/ldap/suffix", admin, {"config": {"suffix": "dc=x"}}, 404),
        ("PATCH", f"/domains/{other}/config", admin, {"config": LDAP}, 404),
        ("GET", f"{base}/ldap/password", admin, None, 404),
        ("GET", f"{base}/resource", admin, None, 403),
        ("DELETE", f"{base}/ldap/suffix", admin, None, 404),
        ("DELETE", f"/domains/{other}/config", admin, None, 404),
        ("GET", "/domains/config/resource/default", admin, None, 403),
        ("GET", "/domains/config/ldap/password/default", admin, None, 403),
        ("GET", "/domains/config/default", member, None, 403),
    ]
    with nothing_made(identity_cloud):
        for method, path, token, body, status in cases:
            resp = _api(identity_cloud, method, path, token, body)
            assert resp.status_code == status, (method, path, body, resp.text)
            assert resp.json()["error"]["code"] == status
    assert _api(identity_cloud, "GET", base, admin).json()["config"] == LDAP
