"""Access rules on application credentials through the `openstack` CLI, keystoneauth and raw
HTTP: the rules are kept per user (``/v3/users/{id}/access_rules``), shown in the token, and a
token of such a credential may call only what they allow, on identity and on the image
service (which learns them from the token's validation)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud import VENV_BIN, Cloud, admin_token, password_body, running_cloud
from tests.nothing_made import nothing_made

PASSWORD = "rules-pw-1"


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _member(cloud: Cloud) -> tuple[str, str, str]:
    """(user name, user id, its project-scoped token) of a new member of a new project."""
    admin = admin_token(cloud.auth_url)
    name = f"rules-{uuid.uuid4().hex[:8]}"
    uid = _api(cloud, "POST", "/users", admin, {"user": {"name": name, "password": PASSWORD}})
    pid = _api(cloud, "POST", "/projects", admin, {"project": {"name": name}})
    user_id, project_id = uid.json()["user"]["id"], pid.json()["project"]["id"]
    role = _api(cloud, "GET", "/roles?name=member", admin).json()["roles"][0]["id"]
    assert _api(cloud, "PUT", f"/projects/{project_id}/users/{user_id}/roles/{role}", admin)
    token = httpx.post(
        f"{cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, name), timeout=30
    ).headers["X-Subject-Token"]
    return name, user_id, token


def _app_cred_cli(
    cloud: Cloud, cred: dict[str, Any], *args: str
) -> subprocess.CompletedProcess[str]:
    """The `openstack` CLI logged in with the application credential."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=cloud.auth_url,
        OS_AUTH_TYPE="v3applicationcredential",
        OS_APPLICATION_CREDENTIAL_ID=cred["id"],
        OS_APPLICATION_CREDENTIAL_SECRET=cred["secret"],
        OS_IDENTITY_API_VERSION="3",
        OS_REGION_NAME="RegionOne",
    )
    return subprocess.run(
        [str(VENV_BIN / "openstack"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def _app_token(cloud: Cloud, cred: dict[str, Any]) -> str:
    auth = v3.ApplicationCredential(
        auth_url=cloud.auth_url, application_credential_id=cred["id"],
        application_credential_secret=cred["secret"],
    )  # fmt: skip
    return str(auth.get_token(ks_session.Session()))


def test_access_rules_limit_an_app_credential_on_identity(identity_cloud: Cloud) -> None:
    name, uid, _token = _member(identity_cloud)
    rules = [
        {"service": "identity", "method": "GET", "path": "/v3/auth/projects"},
        {"service": "identity", "method": "GET", "path": "/v3/users/*/application_credentials"},
    ]
    cred = json.loads(
        identity_cloud.cli(
            "application", "credential", "create", "--access-rules", json.dumps(rules),
            "limited", "-f", "json", username=name, password=PASSWORD, project=name,
        ).stdout
    )  # fmt: skip
    cred = {"id": cred["ID"], "secret": cred["Secret"], "access_rules": cred["Access Rules"]}
    shown = sorted((r["method"], r["path"]) for r in cred["access_rules"])
    assert shown == [(r["method"], r["path"]) for r in sorted(rules, key=lambda r: r["path"])]
    as_user = {"username": name, "password": PASSWORD, "project": name}
    listed = json.loads(
        identity_cloud.cli("access", "rule", "list", "-f", "json", **as_user).stdout
    )
    assert len(listed) == 2
    one = json.loads(
        identity_cloud.cli(
            "access", "rule", "show", listed[0]["ID"], "-f", "json", **as_user
        ).stdout
    )
    assert one["Service"] == "identity"
    token = _app_token(identity_cloud, cred)
    body = httpx.get(
        f"{identity_cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": admin_token(identity_cloud.auth_url), "X-Subject-Token": token},
        timeout=30,
    ).json()["token"]
    assert len(body["application_credential"]["access_rules"]) == 2
    assert _api(identity_cloud, "GET", "/auth/projects", token).status_code == 200
    assert (
        _api(identity_cloud, "GET", f"/users/{uid}/application_credentials", token).status_code
        == 200
    )
    # anything else: refused as keystonemiddleware refuses it
    assert _api(identity_cloud, "GET", f"/users/{uid}", token).status_code == 401
    assert _api(identity_cloud, "HEAD", "/auth/projects", token).status_code == 401
    made = {"application_credential": {"name": "more"}}
    assert (
        _api(
            identity_cloud, "POST", f"/users/{uid}/application_credentials", token, made
        ).status_code
        == 401
    )
    # a rule in use cannot be deleted; once its credential is gone it can
    rule_id = listed[0]["ID"]
    with nothing_made(identity_cloud):
        refused = identity_cloud.cli("access", "rule", "delete", rule_id, check=False, **as_user)
        assert refused.returncode != 0
    identity_cloud.cli("application", "credential", "delete", cred["id"], **as_user)
    identity_cloud.cli("access", "rule", "delete", rule_id, **as_user)
    assert (
        len(
            json.loads(identity_cloud.cli("access", "rule", "list", "-f", "json", **as_user).stdout)
        )
        == 1
    )


def test_bad_access_rule_requests_change_nothing(identity_cloud: Cloud) -> None:
    _name, uid, token = _member(identity_cloud)
    _other, other_uid, other_token = _member(identity_cloud)
    rule = {"service": "identity", "method": "GET", "path": "/v3/auth/projects"}
    theirs_body = {"application_credential": {"name": "x", "access_rules": [rule]}}
    made = _api(
        identity_cloud, "POST", f"/users/{other_uid}/application_credentials", other_token,
        theirs_body,
    )  # fmt: skip
    theirs = made.json()["application_credential"]["access_rules"][0]["id"]
    creds = f"/users/{uid}/application_credentials"

    def cred(*rules: Any) -> dict[str, Any]:
        return {
            "application_credential": {"name": uuid.uuid4().hex[:8], "access_rules": list(rules)}
        }

    cases: list[tuple[str, str, Any, int]] = [
        ("POST", creds, cred({**rule, "method": "FETCH"}), 400),
        ("POST", creds, cred({**rule, "path": "v3/no-slash"}), 400),
        ("POST", creds, cred({"service": "identity", "method": "GET"}), 400),
        ("POST", creds, cred({**rule, "colour": "red"}), 400),
        ("POST", creds, cred({"id": uuid.uuid4().hex}), 404),
        ("POST", creds, cred({"id": theirs}), 404),  # another user's rule
        ("GET", f"/users/{uid}/access_rules/{theirs}", None, 404),
        ("DELETE", f"/users/{uid}/access_rules/{theirs}", None, 404),
        ("GET", f"/users/{other_uid}/access_rules", None, 403),
        ("DELETE", f"/users/{other_uid}/access_rules/{theirs}", None, 403),
    ]
    with nothing_made(identity_cloud):
        for method, path, body, status in cases:
            resp = _api(identity_cloud, method, path, token, body)
            assert resp.status_code == status, (method, path, body, resp.text)
            assert resp.json()["error"]["code"] == status


@pytest.fixture(scope="module")
def image_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    tmp: Path = tmp_path_factory.mktemp("rules-image")
    with running_cloud(tmp, services=("identity", "image")) as cloud:
        yield cloud


def test_access_rules_are_enforced_by_another_service(image_cloud: Cloud) -> None:
    _name, uid, token = _member(image_cloud)
    body = {
        "application_credential": {
            "name": "images-read-only",
            "access_rules": [{"service": "image", "method": "GET", "path": "/v2/images"}],
        }
    }
    cred = _api(image_cloud, "POST", f"/users/{uid}/application_credentials", token, body)
    assert cred.status_code == 201, cred.text
    listed = _app_cred_cli(image_cloud, cred.json()["application_credential"], "image", "list")
    assert listed.returncode == 0, listed.stderr
    created = _app_cred_cli(
        image_cloud, cred.json()["application_credential"], "image", "create", "refused"
    )
    assert created.returncode != 0 and "401" in created.stderr
    app_token = _app_token(image_cloud, cred.json()["application_credential"])
    images = image_cloud.url("image")
    headers = {"X-Auth-Token": app_token}
    assert httpx.get(f"{images}/v2/images", headers=headers, timeout=30).status_code == 200
    # one image is another path than the list: refused before it is looked for
    one = f"{images}/v2/images/{uuid.uuid4()}"
    assert httpx.get(one, headers=headers, timeout=30).status_code == 401
    assert httpx.get(one, headers={"X-Auth-Token": token}, timeout=30).status_code == 404
