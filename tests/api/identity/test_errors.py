"""Bad input and failure: each case gets the right 4xx in Keystone's error format."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest
from openstack import exceptions

from tests.cloud import Cloud, admin_token, make_cloud, password_body
from tests.nothing_made import nothing_made


def _password_body(user: str, password: str) -> dict[str, Any]:
    return password_body(user, password)


def _token(cloud: Cloud) -> str:
    return admin_token(cloud.auth_url)


def test_wrong_password_and_unknown_user_are_the_same_401(identity_cloud: Cloud) -> None:
    wrong = httpx.post(
        f"{identity_cloud.auth_url}/auth/tokens", json=_password_body("admin", "nope")
    )
    unknown = httpx.post(
        f"{identity_cloud.auth_url}/auth/tokens",
        json=_password_body(f"ghost-{uuid.uuid4().hex}", "nope"),
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert set(wrong.json()["error"]) == {"code", "title", "message"}


def test_malformed_json_is_400(identity_cloud: Cloud) -> None:
    token = _token(identity_cloud)
    with nothing_made(identity_cloud):
        resp = httpx.post(
            f"{identity_cloud.auth_url}/auth/tokens",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert resp.status_code == 400
        assert "JSON" in resp.json()["error"]["message"]
        resp = httpx.post(
            f"{identity_cloud.auth_url}/projects",
            content=b'{"project": {"name": "half',
            headers={"Content-Type": "application/json", "X-Auth-Token": token},
        )
        assert resp.status_code == 400


def test_missing_field_is_400_naming_it(identity_cloud: Cloud) -> None:
    token = _token(identity_cloud)
    with nothing_made(identity_cloud):
        resp = httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json={"auth": {"identity": {}}})
        assert resp.status_code == 400
        assert "auth.identity.methods" in resp.json()["error"]["message"]
        resp = httpx.post(
            f"{identity_cloud.auth_url}/projects",
            json={"project": {}},
            headers={"X-Auth-Token": token},
        )
        assert resp.status_code == 400
        assert "project.name" in resp.json()["error"]["message"]


def test_overlong_names_are_400_and_create_nothing(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    long_name = "x" * 65
    before = len(list(admin.identity.projects()))
    with nothing_made(identity_cloud):
        with pytest.raises(exceptions.BadRequestException, match=r"project\.name"):
            admin.identity.create_project(name=long_name)
        with pytest.raises(exceptions.BadRequestException, match=r"user\.name"):
            admin.identity.create_user(name="u" * 256)
    assert len(list(admin.identity.projects())) == before


def test_password_over_4096_chars_is_400(identity_cloud: Cloud) -> None:
    with nothing_made(identity_cloud):
        resp = httpx.post(
            f"{identity_cloud.auth_url}/auth/tokens", json=_password_body("admin", "p" * 4097)
        )
        assert resp.status_code == 400


def test_body_over_limit_is_413(identity_cloud: Cloud) -> None:
    token = _token(identity_cloud)
    big = {"project": {"name": "big", "description": "d" * 120_000}}
    with nothing_made(identity_cloud):
        resp = httpx.post(
            f"{identity_cloud.auth_url}/projects", json=big, headers={"X-Auth-Token": token}
        )
        assert resp.status_code == 413
    assert resp.json()["error"]["code"] == 413


def test_missing_and_garbage_tokens_are_401(identity_cloud: Cloud) -> None:
    assert httpx.get(f"{identity_cloud.auth_url}/projects").status_code == 401
    resp = httpx.get(f"{identity_cloud.auth_url}/projects", headers={"X-Auth-Token": "garbage"})
    assert resp.status_code == 401


def test_revoked_token_is_401(identity_cloud: Cloud) -> None:
    token = _token(identity_cloud)
    other = _token(identity_cloud)
    headers = {"X-Auth-Token": other, "X-Subject-Token": token}
    assert httpx.head(f"{identity_cloud.auth_url}/auth/tokens", headers=headers).status_code == 200
    assert (
        httpx.delete(f"{identity_cloud.auth_url}/auth/tokens", headers=headers).status_code == 204
    )
    assert httpx.head(f"{identity_cloud.auth_url}/auth/tokens", headers=headers).status_code == 404
    resp = httpx.get(f"{identity_cloud.auth_url}/projects", headers={"X-Auth-Token": token})
    assert resp.status_code == 401


def test_role_removal_takes_effect_on_next_validation(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=f"rr-{uuid.uuid4().hex[:6]}")
    user = admin.identity.create_user(name=f"rr-{uuid.uuid4().hex[:6]}", password="pw")
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, member)
    conn = identity_cloud.connect(user.name, "pw", project.name)
    token = conn.session.get_token()
    url = f"{identity_cloud.auth_url}/projects/{project.id}"
    assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
    admin.identity.unassign_project_role_from_user(project, user, member)
    assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 401


def test_disabled_user_token_is_401(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=f"du-{uuid.uuid4().hex[:6]}")
    user = admin.identity.create_user(name=f"du-{uuid.uuid4().hex[:6]}", password="pw")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    token = identity_cloud.connect(user.name, "pw", project.name).session.get_token()
    admin.identity.update_user(user, is_enabled=False)
    url = f"{identity_cloud.auth_url}/projects/{project.id}"
    assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 401
    with pytest.raises(exceptions.SDKException, match="401"):
        identity_cloud.connect(user.name, "pw", project.name).authorize()


def test_member_of_a_cannot_act_on_b(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    a = admin.identity.create_project(name=f"pa-{uuid.uuid4().hex[:6]}")
    b = admin.identity.create_project(name=f"pb-{uuid.uuid4().hex[:6]}")
    user = admin.identity.create_user(name=f"ma-{uuid.uuid4().hex[:6]}", password="pw")
    admin.identity.assign_project_role_to_user(a, user, admin.identity.find_role("member"))
    conn = identity_cloud.connect(user.name, "pw", a.name)
    assert conn.identity.get_project(a.id).id == a.id
    with pytest.raises(exceptions.ForbiddenException):
        conn.identity.get_project(b.id)
    with pytest.raises(exceptions.ForbiddenException):
        conn.identity.create_project(name="nope")
    with pytest.raises(exceptions.ForbiddenException):
        conn.identity.update_project(b, description="x")
    admin_role = admin.identity.find_role("admin")
    grant = f"{identity_cloud.auth_url}/projects/{b.id}/users/{user.id}/roles/{admin_role.id}"
    resp = httpx.put(grant, headers={"X-Auth-Token": conn.session.get_token()})
    assert resp.status_code == 403
    assert not list(admin.identity.role_assignments(user_id=user.id, scope_project_id=b.id))


def test_scope_to_a_project_without_role_is_401(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=f"nr-{uuid.uuid4().hex[:6]}")
    user = admin.identity.create_user(name=f"nr-{uuid.uuid4().hex[:6]}", password="pw")
    with pytest.raises(exceptions.SDKException, match="401"):
        identity_cloud.connect(user.name, "pw", project.name).authorize()


def test_unknown_path_is_404_in_keystone_format(identity_cloud: Cloud) -> None:
    resp = httpx.get(f"{identity_cloud.auth_url}/no-such-thing")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == 404


def test_every_response_has_a_request_id(identity_cloud: Cloud) -> None:
    for resp in (
        httpx.get(identity_cloud.auth_url),
        httpx.get(f"{identity_cloud.auth_url}/projects"),
    ):
        assert resp.headers["X-OpenStack-Request-Id"].startswith("req-")


def test_limit_is_capped(tmp_path: Path) -> None:
    """`limit=5000` answers at most 1000 items (PROMISES 12), asked of a cloud that holds
    more than 1000 projects (seeded straight into its fresh database: 1001 API creates would
    be slow)."""
    cloud = make_cloud(tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / "ministack.db")) as db:
        db.executemany(
            "INSERT INTO identity_projects (id, name, domain_id, description, enabled, tags, "
            "created_at) VALUES (?, ?, 'default', '', 1, '[]', '2026-01-01 00:00:00')",
            [(f"{i:032x}", f"bulk-{i}") for i in range(1001)],
        )
        db.commit()
    try:
        cloud.start()
        headers = {"X-Auth-Token": _token(cloud)}
        url = f"{cloud.auth_url}/projects"
        assert len(httpx.get(url, headers=headers).json()["projects"]) > 1001  # all, uncapped
        capped = httpx.get(url, params={"limit": "5000"}, headers=headers)
        assert capped.status_code == 200
        assert len(capped.json()["projects"]) == 1000
    finally:
        cloud.stop()
