"""Unscoped tokens are treated as upstream treats them, the same way in every service.

An unscoped token carries no project and no role, even for a user who is admin somewhere
(Keystone). Under upstream's policy defaults it passes the rules open to any token and the
rules about its own user, and is refused (403) by every rule that needs a role on a project.
One test per service, each against a rule of both kinds.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.compute.conftest import Compute
from tests.cloud import password_body

PASSWORD = "unscoped-pw-1"


@pytest.fixture(scope="module")
def unscoped(compute: Compute) -> tuple[str, str]:
    """(user id, unscoped token) of a user who holds the admin role on a project."""
    conn = compute.conn
    name = f"unscoped-{uuid.uuid4().hex[:8]}"
    project = conn.identity.create_project(name=f"up-{uuid.uuid4().hex[:6]}", domain_id="default")
    user = conn.identity.create_user(name=name, password=PASSWORD, domain_id="default")
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("admin"))
    resp = httpx.post(
        f"{compute.cloud.auth_url}/auth/tokens",
        json=password_body(name, PASSWORD, None),
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    assert "project" not in resp.json()["token"]
    return user.id, resp.headers["X-Subject-Token"]


def _get(compute: Compute, service: str, path: str, token: str) -> int:
    headers = {"X-Auth-Token": token}
    if service == "placement":
        headers["OpenStack-API-Version"] = "placement 1.10"
    resp = httpx.get(f"{compute.cloud.url(service)}{path}", headers=headers, timeout=30)
    return resp.status_code


def test_identity(compute: Compute, unscoped: tuple[str, str]) -> None:
    user_id, token = unscoped
    assert _get(compute, "identity", f"/v3/users/{user_id}", token) == 200  # its own user
    assert _get(compute, "identity", "/v3/regions", token) == 200  # open to any token
    assert _get(compute, "identity", "/v3/auth/projects", token) == 200
    assert _get(compute, "identity", "/v3/projects", token) == 403
    assert _get(compute, "identity", "/v3/users", token) == 403
    assert _get(compute, "identity", "/v3/roles", token) == 403


def test_image(compute: Compute, unscoped: tuple[str, str]) -> None:
    _, token = unscoped
    assert _get(compute, "image", "/v2/images", token) == 403  # get_images: reader
    assert _get(compute, "image", f"/v2/images/{compute.image_id}", token) == 403
    assert _get(compute, "image", f"/v2/images/{compute.image_id}/file", token) == 403


def test_compute(compute: Compute, unscoped: tuple[str, str]) -> None:
    _, token = unscoped
    assert _get(compute, "compute", "/v2.1/flavors", token) == 200  # any token
    assert _get(compute, "compute", "/v2.1/os-keypairs", token) == 200  # its own key pairs
    assert _get(compute, "compute", "/v2.1/servers", token) == 403
    assert _get(compute, "compute", "/v2.1/os-hypervisors", token) == 403


def test_placement(compute: Compute, unscoped: tuple[str, str]) -> None:
    _, token = unscoped
    assert _get(compute, "placement", "/resource_providers", token) == 403
    assert _get(compute, "placement", "/usages?project_id=x", token) == 403
