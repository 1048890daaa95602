"""Identity's declared request schemas: names without control or format characters, typed
attributes, Keystone's 400 for a body that is not JSON, and nothing stored after a 4xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.rows import grown, row_counts
from tests.cloud import Cloud, admin_token


def _post(cloud: Cloud, path: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{cloud.auth_url}{path}",
        json=body,
        headers={"X-Auth-Token": admin_token(cloud.auth_url), **headers},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/projects", {"project": {"name": "new\nline"}}, "project.name"),
        ("/projects", {"project": {"name": "right\u202eleft"}}, "project.name"),
        ("/projects", {"project": {"name": "   "}}, "project.name"),
        ("/projects", {"project": {"name": "p", "enabled": "yes"}}, "project.enabled"),
        ("/projects", {"project": {"name": "p", "tags": [1]}}, "project.tags"),
        ("/roles", {"role": {"name": "nul\x00"}}, "role.name"),
        ("/users", {"user": {"name": "u", "enabled": "true"}}, "user.enabled"),
        ("/users", {"user": {"name": "u", "password": "p" * 4097}}, "user.password"),
        ("/users", {"user": {}}, "user.name"),
        ("/auth/tokens", {"auth": {"identity": {"methods": ["magic"]}}}, "methods"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    identity_cloud: Cloud, path: str, body: Any, field: str
) -> None:
    rows = row_counts(identity_cloud)
    resp = _post(identity_cloud, path, body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]["message"]
    assert grown(rows, row_counts(identity_cloud)) == {}


def test_text_plain_body_is_400_as_keystone_answers(identity_cloud: Cloud) -> None:
    rows = row_counts(identity_cloud)
    resp = httpx.post(
        f"{identity_cloud.auth_url}/projects",
        content=b'{"project": {"name": "plain"}}',
        headers={
            "X-Auth-Token": admin_token(identity_cloud.auth_url),
            "Content-Type": "text/plain",
        },
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert grown(rows, row_counts(identity_cloud)) == {}


def test_password_change_refuses_unknown_fields(identity_cloud: Cloud) -> None:
    resp = _post(
        identity_cloud,
        "/users/nobody/password",
        {"user": {"password": "a", "original_password": "b", "extra": 1}},
    )
    assert resp.status_code == 400, resp.text
    assert "extra" in resp.json()["error"]["message"]


def test_refused_passwords_are_not_echoed(identity_cloud: Cloud) -> None:
    secret = "s3cret-" + "p" * 4100
    resp = _post(identity_cloud, "/users", {"user": {"name": "echo", "password": secret}})
    assert resp.status_code == 400, resp.text
    assert "s3cret" not in resp.text
    assert "user.password" in resp.json()["error"]["message"]
