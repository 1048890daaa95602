"""OS-OAUTH1 with the real clients: python-keystoneclient's oauth1 managers (consumers, request
token, authorize, access token), keystoneauth1's OAuth1 plugin (a token from an access token),
and raw HTTP signed with oauthlib for what must be refused (wrong secret, wrong verifier, a
role the user does not hold, a deleted access token or consumer)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.extras import oauth1 as ks_oauth1
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from oauthlib import oauth1

from tests.cloud import ADMIN_PASSWORD, Cloud, admin_token, password_body

PASSWORD = "oauth-pw-1"


@dataclass
class Person:
    id: str
    name: str
    project_id: str
    token: str


def _api(cloud: Cloud, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, f"{cloud.auth_url}{path}", headers={"X-Auth-Token": token}, json=body, timeout=30
    )


def _person(cloud: Cloud, admin: str, role: str = "admin") -> Person:
    """A user with `role` on a project of its own (Keystone's defaults let only an admin
    authorize request tokens and manage access tokens)."""
    name = f"oauth-{uuid.uuid4().hex[:8]}"
    uid = _api(cloud, "POST", "/users", admin, {"user": {"name": name, "password": PASSWORD}})
    pid = _api(cloud, "POST", "/projects", admin, {"project": {"name": name}})
    user, project = uid.json()["user"]["id"], pid.json()["project"]["id"]
    role_id = _api(cloud, "GET", f"/roles?name={role}", admin).json()["roles"][0]["id"]
    assert _api(cloud, "PUT", f"/projects/{project}/users/{user}/roles/{role_id}", admin).is_success
    got = httpx.post(f"{cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, name))
    return Person(user, name, project, got.headers["X-Subject-Token"])


def _keystone(cloud: Cloud, username: str, password: str, project: str) -> Any:
    auth = v3.Password(
        auth_url=cloud.auth_url,
        username=username,
        password=password,
        project_name=project,
        user_domain_id="default",
        project_domain_id="default",
    )
    return ks_client.Client(session=ks_session.Session(auth=auth))


def _signed_post(url: str, client: oauth1.Client, headers: dict[str, str]) -> httpx.Response:
    uri, signed, _body = client.sign(url, http_method="POST", headers=headers)
    return httpx.post(uri, headers=signed, timeout=30)


def test_the_whole_flow_with_keystoneclient_and_keystoneauth(identity_cloud: Cloud) -> None:
    cloud = identity_cloud
    admin = _keystone(cloud, "admin", ADMIN_PASSWORD, "admin")
    person = _person(cloud, admin_token(cloud.auth_url))
    consumer = admin.oauth1.consumers.create(description="an app")
    assert consumer.secret and consumer.description == "an app"
    assert consumer.id in {c.id for c in admin.oauth1.consumers.list()}
    assert "secret" not in admin.oauth1.consumers.get(consumer.id).to_dict()
    admin.oauth1.consumers.update(consumer.id, description="renamed")
    assert admin.oauth1.consumers.get(consumer.id).description == "renamed"

    request = admin.oauth1.request_tokens.create(consumer.id, consumer.secret, person.project_id)
    user = _keystone(cloud, person.name, PASSWORD, person.name)
    member = admin.roles.list(name="member")[0]
    verifier = user.oauth1.request_tokens.authorize(request.key, [member.id]).oauth_verifier
    access = admin.oauth1.access_tokens.create(
        consumer.id, consumer.secret, request.key, request.secret, verifier
    )
    plugin = ks_oauth1.V3OAuth1(
        cloud.auth_url,
        consumer_key=consumer.id,
        consumer_secret=consumer.secret,
        access_key=access.key,
        access_secret=access.secret,
    )
    sess = ks_session.Session(auth=plugin)
    token = sess.get_token()
    shown = httpx.get(
        f"{cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
        timeout=30,
    )
    assert shown.status_code == 200, shown.text
    body = shown.json()["token"]
    assert body["methods"] == ["oauth1"] and body["user"]["id"] == person.id
    assert body["project"]["id"] == person.project_id
    assert "member" in {r["name"] for r in body["roles"]}
    assert body["OS-OAUTH1"] == {"access_token_id": access.key, "consumer_id": consumer.id}

    # keystoneclient has no manager for a user's access tokens: raw HTTP as the user
    tokens = f"/users/{person.id}/OS-OAUTH1/access_tokens"
    mine = _api(cloud, "GET", tokens, person.token).json()["access_tokens"]
    assert [(t["id"], t["consumer_id"], t["project_id"]) for t in mine] == [
        (access.key, consumer.id, person.project_id)
    ]
    roles = _api(cloud, "GET", f"/users/{person.id}/OS-OAUTH1/access_tokens/{access.key}/roles",
                 person.token).json()["roles"]  # fmt: skip
    assert [r["name"] for r in roles] == ["member"]
    # the request token is used up
    again = admin.oauth1.access_tokens.create
    with pytest.raises(ks_exceptions.Unauthorized):
        again(consumer.id, consumer.secret, request.key, request.secret, verifier)

    # deleting the access token ends the tokens made from it
    assert _api(cloud, "DELETE", f"{tokens}/{access.key}", person.token).status_code == 204
    check = httpx.get(
        f"{cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": person.token, "X-Subject-Token": token},
        timeout=30,
    )
    assert check.status_code == 404, check.text
    admin.oauth1.consumers.delete(consumer.id)
    assert consumer.id not in {c.id for c in admin.oauth1.consumers.list()}


def test_bad_signatures_verifiers_and_roles_are_refused(identity_cloud: Cloud) -> None:
    cloud = identity_cloud
    admin = admin_token(cloud.auth_url)
    person = _person(cloud, admin)
    made = _api(cloud, "POST", "/OS-OAUTH1/consumers", admin, {"consumer": {"description": "x"}})
    assert made.status_code == 201, made.text
    key, secret = made.json()["consumer"]["id"], made.json()["consumer"]["secret"]
    url = f"{cloud.auth_url}/OS-OAUTH1/request_token"
    project = {"Requested-Project-Id": person.project_id}
    wrong = oauth1.Client(key, client_secret="not-the-secret", callback_uri="oob")
    assert _signed_post(url, wrong, project).status_code == 401
    unsigned = httpx.post(url, headers=project, timeout=30)
    assert unsigned.status_code == 401
    right = oauth1.Client(key, client_secret=secret, callback_uri="oob")
    assert _signed_post(url, right, {}).status_code == 400  # no Requested-Project-Id
    got = _signed_post(url, right, project)
    assert got.status_code == 201, got.text
    assert got.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = {k: v[0] for k, v in parse_qs(got.text).items()}
    rkey, rsecret = fields["oauth_token"], fields["oauth_token_secret"]

    # the user cannot grant a role it does not hold there
    extra = _api(cloud, "POST", "/roles", admin, {"role": {"name": f"x-{uuid.uuid4().hex[:6]}"}})
    refused = _api(cloud, "PUT", f"/OS-OAUTH1/authorize/{rkey}", person.token,
                   {"roles": [{"id": extra.json()["role"]["id"]}]})  # fmt: skip
    assert refused.status_code == 401, refused.text
    ok = _api(cloud, "PUT", f"/OS-OAUTH1/authorize/{rkey}", person.token,
              {"roles": [{"name": "reader"}]})  # fmt: skip
    assert ok.status_code == 200, ok.text
    verifier = ok.json()["token"]["oauth_verifier"]

    access_url = f"{cloud.auth_url}/OS-OAUTH1/access_token"
    bad_verifier = oauth1.Client(
        key, client_secret=secret, resource_owner_key=rkey, resource_owner_secret=rsecret,
        verifier="wrong",
    )  # fmt: skip
    assert _signed_post(access_url, bad_verifier, {}).status_code == 401
    bad_secret = oauth1.Client(
        key, client_secret=secret, resource_owner_key=rkey, resource_owner_secret="nope",
        verifier=verifier,
    )  # fmt: skip
    assert _signed_post(access_url, bad_secret, {}).status_code == 401
    good = oauth1.Client(
        key, client_secret=secret, resource_owner_key=rkey, resource_owner_secret=rsecret,
        verifier=verifier,
    )  # fmt: skip
    exchanged = _signed_post(access_url, good, {})
    assert exchanged.status_code == 201, exchanged.text
    fields = {k: v[0] for k, v in parse_qs(exchanged.text).items()}
    akey, asecret = fields["oauth_token"], fields["oauth_token_secret"]

    token_url = f"{cloud.auth_url}/auth/tokens"
    body = json.dumps({"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}})
    signer = oauth1.Client(key, client_secret=secret, resource_owner_key=akey,
                           resource_owner_secret=asecret)  # fmt: skip
    uri, headers, _ = signer.sign(token_url, http_method="POST")
    issued = httpx.post(uri, content=body, headers={**headers, "Content-Type": "application/json"})
    assert issued.status_code == 201, issued.text
    roles = {r["name"] for r in issued.json()["token"]["roles"]}
    assert roles == {"reader"}  # only what was authorized, not the admin role the user holds
    forged = oauth1.Client(key, client_secret=secret, resource_owner_key=akey,
                           resource_owner_secret="forged")  # fmt: skip
    uri, headers, _ = forged.sign(token_url, http_method="POST")
    refused = httpx.post(uri, content=body, headers={**headers, "Content-Type": "application/json"})
    assert refused.status_code == 401

    # a non-admin may not see or delete the access tokens, nor authorize
    other = _person(cloud, admin, "member")
    path = f"/users/{person.id}/OS-OAUTH1/access_tokens"
    assert _api(cloud, "GET", path, other.token).status_code == 403
    assert _api(cloud, "DELETE", f"{path}/{akey}", other.token).status_code == 403
    # a non-admin may not manage consumers
    made_by_member = _api(cloud, "POST", "/OS-OAUTH1/consumers", other.token, {"consumer": {}})
    assert made_by_member.status_code == 403
    by_member = _api(cloud, "PUT", f"/OS-OAUTH1/authorize/{rkey}", other.token,
                     {"roles": [{"name": "reader"}]})  # fmt: skip
    assert by_member.status_code == 403
    # deleting the consumer ends its access tokens and their Keystone tokens
    token = issued.headers["X-Subject-Token"]
    assert _api(cloud, "DELETE", f"/OS-OAUTH1/consumers/{key}", admin).status_code == 204
    check = httpx.get(token_url, headers={"X-Auth-Token": admin, "X-Subject-Token": token})
    assert check.status_code == 404
    assert _api(cloud, "GET", path, person.token).json()["access_tokens"] == []
