"""Credentials (``/v3/credentials``, blobs encrypted at rest), EC2 credentials
(``openstack ec2 credentials ...``) and ``/v3/ec2tokens`` checked with signatures that
botocore computes, as an S3 or EC2 client would."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import subprocess
import uuid
from typing import Any

import botocore.auth
import httpx
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV2Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.cloud import Cloud, admin_token, password_body

PASSWORD = "cred-pw-1"


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _member(cloud: Cloud, admin: str) -> tuple[dict[str, Any], str, str]:
    """A new user with the member role on a new project: (user, project id, its token)."""
    name = f"cred-{uuid.uuid4().hex[:8]}"
    user = _api(cloud, "POST", "/users", admin, {"user": {"name": name, "password": PASSWORD}})
    project = _api(cloud, "POST", "/projects", admin, {"project": {"name": name}})
    uid, pid = user.json()["user"]["id"], project.json()["project"]["id"]
    role = _api(cloud, "GET", "/roles?name=member", admin).json()["roles"][0]["id"]
    assert _api(cloud, "PUT", f"/projects/{pid}/users/{uid}/roles/{role}", admin).status_code == 204
    resp = httpx.post(
        f"{cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, name), timeout=30
    )
    return user.json()["user"], pid, resp.headers["X-Subject-Token"]


def _stored_blobs(cloud: Cloud) -> list[str]:
    """The credential rows' stored blob column, read from the database itself."""
    sql = "SELECT encrypted_blob FROM identity_credentials"
    if cloud.database_url:
        out = subprocess.run(
            ["psql", cloud.database_url, "-At", "-c", sql],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.splitlines()
    with sqlite3.connect(cloud.state_dir / "ministack.db") as db:
        return [row[0] for row in db.execute(sql)]


def test_credential_crud_through_the_cli_with_the_blob_encrypted_at_rest(
    identity_cloud: Cloud,
) -> None:
    secret = f"totp-seed-{uuid.uuid4().hex}"
    created = json.loads(
        identity_cloud.cli(
            "credential", "create", "--type", "totp", "admin", secret, "-f", "json"
        ).stdout
    )
    assert created["blob"] == secret and created["type"] == "totp"
    shown = json.loads(identity_cloud.cli("credential", "show", created["id"], "-f", "json").stdout)
    assert shown["blob"] == secret
    # the database holds ciphertext only; the key is private from its first byte
    stored = _stored_blobs(identity_cloud)
    assert stored and not any(secret in blob for blob in stored)
    key = identity_cloud.state_dir / "identity" / "credential.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    changed = f"{secret}-2"
    identity_cloud.cli("credential", "set", "--user", "admin", "--type", "totp", "--data", changed,
                       created["id"])  # fmt: skip
    listed = json.loads(identity_cloud.cli("credential", "list", "-f", "json").stdout)
    assert {"ID": created["id"], "Data": changed}.items() <= next(
        c for c in listed if c["ID"] == created["id"]
    ).items()
    identity_cloud.cli("credential", "delete", created["id"])
    admin = admin_token(identity_cloud.auth_url)
    assert _api(identity_cloud, "GET", f"/credentials/{created['id']}", admin).status_code == 404


def test_users_see_and_change_only_their_own_credentials(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    alice, _pid, alice_token = _member(identity_cloud, admin)
    bob, _qid, bob_token = _member(identity_cloud, admin)
    body = {"credential": {"user_id": alice["id"], "type": "cert", "blob": "alice-cert"}}
    mine = _api(identity_cloud, "POST", "/credentials", alice_token, body)
    assert mine.status_code == 201, mine.text
    cid = mine.json()["credential"]["id"]
    # bob can neither make one for alice nor see, change or delete hers
    assert _api(identity_cloud, "POST", "/credentials", bob_token, body).status_code == 403
    assert _api(identity_cloud, "GET", f"/credentials/{cid}", bob_token).status_code == 404
    patch = {"credential": {"blob": "stolen"}}
    assert _api(identity_cloud, "PATCH", f"/credentials/{cid}", bob_token, patch).status_code == 404
    assert _api(identity_cloud, "DELETE", f"/credentials/{cid}", bob_token).status_code == 404
    bobs = _api(identity_cloud, "GET", "/credentials", bob_token).json()["credentials"]
    assert all(c["user_id"] == bob["id"] for c in bobs)
    alices = _api(identity_cloud, "GET", "/credentials?type=cert", alice_token).json()
    assert [c["id"] for c in alices["credentials"]] == [cid]
    assert (
        _api(identity_cloud, "GET", f"/credentials/{cid}", admin).json()["credential"]["blob"]
        == "alice-cert"
    )
    bad = {"credential": {"user_id": alice["id"], "type": "ec2", "blob": "not json"}}
    assert _api(identity_cloud, "POST", "/credentials", alice_token, bad).status_code == 400


def test_ec2_credentials_through_the_cli(identity_cloud: Cloud) -> None:
    created = json.loads(identity_cloud.cli("ec2", "credentials", "create", "-f", "json").stdout)
    access, secret = created["access"], created["secret"]
    assert len(access) == 32 and len(secret) == 32
    listed = json.loads(identity_cloud.cli("ec2", "credentials", "list", "-f", "json").stdout)
    assert {"Access": access, "Secret": secret}.items() <= next(
        c for c in listed if c["Access"] == access
    ).items()
    shown = json.loads(
        identity_cloud.cli("ec2", "credentials", "show", access, "-f", "json").stdout
    )
    assert shown["secret"] == secret
    # an EC2 credential is also a credential of type ec2, its id the SHA-256 of the access key
    admin = admin_token(identity_cloud.auth_url)
    creds = _api(identity_cloud, "GET", "/credentials?type=ec2", admin).json()["credentials"]
    assert any(json.loads(c["blob"])["access"] == access for c in creds)
    identity_cloud.cli("ec2", "credentials", "delete", access)
    gone = identity_cloud.cli("ec2", "credentials", "show", access, check=False)
    assert gone.returncode != 0


def _ec2(cloud: Cloud, token: str, user_id: str, project_id: str) -> tuple[str, str]:
    resp = _api(
        cloud, "POST", f"/users/{user_id}/credentials/OS-EC2", token, {"tenant_id": project_id}
    )
    assert resp.status_code == 201, resp.text
    cred = resp.json()["credential"]
    return cred["access"], cred["secret"]


def _signed_v4(access: str, secret: str, url: str, when: dt.datetime | None = None) -> AWSRequest:
    request = AWSRequest(method="GET", url=url, headers={})
    auth = S3SigV4Auth(Credentials(access, secret), "s3", "RegionOne")
    clock = botocore.auth.get_current_datetime
    if when is not None:  # a client whose clock says `when` (botocore signs with its "now")
        botocore.auth.get_current_datetime = lambda: when.replace(tzinfo=None)
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = clock
    return request


def _ec2_body(access: str, request: AWSRequest, **override: Any) -> dict[str, Any]:
    """The ec2tokens body an S3 front end sends for `request`: what was signed, and how."""
    split = httpx.URL(request.url)
    authorization = request.headers["Authorization"]
    host = f"{split.host}:{split.port}"
    body = {
        "access": access,
        "signature": authorization.rsplit("Signature=", 1)[1],
        "host": host,
        "verb": request.method,
        "path": split.path,
        "params": dict(split.params),
        # the headers as the server received them: the client sent Host too
        "headers": {"Host": host, **dict(request.headers.items())},
        "body_hash": request.headers.get("X-Amz-Content-SHA256"),
    }
    body.update(override)
    return {"credentials": body}


def test_ec2tokens_checks_a_signature_v4(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    user, pid, token = _member(identity_cloud, admin)
    access, secret = _ec2(identity_cloud, token, user["id"], pid)
    url = "http://127.0.0.1:8080/bucket/object-1?versionId=3&acl"
    request = _signed_v4(access, secret, url)
    resp = httpx.post(
        f"{identity_cloud.auth_url}/ec2tokens", json=_ec2_body(access, request), timeout=30
    )
    assert resp.status_code == 200, resp.text
    issued = resp.json()["token"]
    assert issued["project"]["id"] == pid and issued["user"]["id"] == user["id"]
    assert issued["methods"] == ["ec2credential"]
    assert {"member", "reader"} <= {r["name"] for r in issued["roles"]}
    subject = resp.headers["X-Subject-Token"]
    check = httpx.head(
        f"{identity_cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": admin, "X-Subject-Token": subject},
        timeout=30,
    )
    assert check.status_code == 200
    refused = {
        "another path": _ec2_body(access, request, path="/bucket/object-2"),
        "another verb": _ec2_body(access, request, verb="DELETE"),
        "another secret": _ec2_body(access, _signed_v4(access, "x" * 32, url)),
        "unknown access": _ec2_body("nobody", request),
        "a stale date": _ec2_body(
            access,
            _signed_v4(access, secret, url, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)),
        ),
    }
    for why, body in refused.items():
        got = httpx.post(f"{identity_cloud.auth_url}/ec2tokens", json=body, timeout=30)
        assert got.status_code == 401, why
    # a deleted credential signs nothing any more
    gone = _api(identity_cloud, "DELETE", f"/users/{user['id']}/credentials/OS-EC2/{access}", token)
    assert gone.status_code == 204
    again = httpx.post(
        f"{identity_cloud.auth_url}/ec2tokens", json=_ec2_body(access, request), timeout=30
    )
    assert again.status_code == 401


def test_ec2tokens_checks_a_signature_v2(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    user, pid, token = _member(identity_cloud, admin)
    access, secret = _ec2(identity_cloud, token, user["id"], pid)
    request = AWSRequest(
        method="GET", url="http://127.0.0.1:8788/", params={"Action": "DescribeInstances"}
    )
    SigV2Auth(Credentials(access, secret)).add_auth(request)
    params = dict(request.params)
    body = {
        "credentials": {
            "access": access,
            "signature": params.pop("Signature"),
            "host": "127.0.0.1:8788",
            "verb": "GET",
            "path": "/",
            "params": params,
        }
    }
    resp = httpx.post(f"{identity_cloud.auth_url}/ec2tokens", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    body["credentials"]["params"] = {**params, "Action": "TerminateInstances"}
    resp = httpx.post(f"{identity_cloud.auth_url}/ec2tokens", json=body, timeout=30)
    assert resp.status_code == 401
    # a request signed an hour ago is refused even with a right signature
    stale_params = {**params, "Timestamp": "2026-01-01T00:00:00Z"}
    _qs, signature = SigV2Auth(Credentials(access, secret)).calc_signature(request, stale_params)
    body["credentials"]["signature"] = signature
    body["credentials"]["params"] = stale_params
    resp = httpx.post(f"{identity_cloud.auth_url}/ec2tokens", json=body, timeout=30)
    assert resp.status_code == 401 and "expired" in resp.json()["error"]["message"]


def test_other_users_ec2_credentials_are_out_of_reach(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    alice, pid, alice_token = _member(identity_cloud, admin)
    _bob, _qid, bob_token = _member(identity_cloud, admin)
    access, _secret = _ec2(identity_cloud, alice_token, alice["id"], pid)
    path = f"/users/{alice['id']}/credentials/OS-EC2"
    assert _api(identity_cloud, "GET", path, bob_token).status_code == 403
    assert _api(identity_cloud, "GET", f"{path}/{access}", bob_token).status_code == 403
    assert _api(identity_cloud, "DELETE", f"{path}/{access}", bob_token).status_code == 403
    created = _api(identity_cloud, "POST", path, bob_token, {"tenant_id": pid})
    assert created.status_code == 403
    assert _api(identity_cloud, "GET", f"{path}/{access}", alice_token).status_code == 200
    missing = _api(identity_cloud, "POST", path, alice_token, {"tenant_id": "nope"})
    assert missing.status_code == 404


def _presigned(access: str, secret: str, url: str, expires: int, age: dt.timedelta) -> str:
    """A presigned GET URL (botocore's S3 query signer), made `age` ago, valid `expires` s."""
    request = AWSRequest(method="GET", url=url, headers={})
    auth = S3SigV4QueryAuth(Credentials(access, secret), "s3", "RegionOne", expires=expires)
    clock = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: (dt.datetime.now(dt.UTC) - age).replace(
        tzinfo=None
    )
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = clock
    return str(request.url)


def _presigned_body(access: str, url: str) -> dict[str, Any]:
    split = httpx.URL(url)
    params = dict(split.params)
    host = f"{split.host}:{split.port}"
    return {
        "credentials": {
            "access": access,
            "signature": params["X-Amz-Signature"],
            "host": host,
            "verb": "GET",
            "path": split.path,
            "params": params,
            "headers": {"Host": host},
        }
    }


def test_ec2tokens_checks_presigned_urls_until_they_expire(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    user, pid, token = _member(identity_cloud, admin)
    access, secret = _ec2(identity_cloud, token, user["id"], pid)
    url = "http://127.0.0.1:8080/bucket/shared-object"
    cases = {
        "fresh": (_presigned(access, secret, url, 600, dt.timedelta(0)), 200),
        # a long-lived URL stays valid past the 15 minutes of a header signature
        "two hours old, valid for three": (
            _presigned(access, secret, url, 3 * 3600, dt.timedelta(hours=2)),
            200,
        ),
        "two hours old, valid for one": (
            _presigned(access, secret, url, 3600, dt.timedelta(hours=2)),
            401,
        ),
    }
    for why, (signed, status) in cases.items():
        resp = httpx.post(
            f"{identity_cloud.auth_url}/ec2tokens", json=_presigned_body(access, signed), timeout=30
        )
        assert resp.status_code == status, why
    # the URL names one object: another path is refused
    body = _presigned_body(access, cases["fresh"][0])
    body["credentials"]["path"] = "/bucket/other-object"
    resp = httpx.post(f"{identity_cloud.auth_url}/ec2tokens", json=body, timeout=30)
    assert resp.status_code == 401
