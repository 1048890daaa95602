"""Trusts (OS-TRUST) through the `openstack` CLI, keystoneauth's trust-scoped password plugin
and raw HTTP: delegation of some roles, impersonation, use limits, expiry, redelegation, and
the end of a trust's tokens when it is deleted or its trustor loses the role."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud import Cloud, admin_token, password_body
from tests.nothing_made import nothing_made

PASSWORD = "trust-pw-1"
TRUSTS = "/OS-TRUST/trusts"


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


def _role_id(cloud: Cloud, admin: str, name: str) -> str:
    return str(_api(cloud, "GET", f"/roles?name={name}", admin).json()["roles"][0]["id"])


def _person(cloud: Cloud, admin: str, role: str = "member") -> Person:
    """A new user holding `role` on a new project of its own, with a token for it."""
    name = f"trust-{uuid.uuid4().hex[:8]}"
    user = _api(cloud, "POST", "/users", admin, {"user": {"name": name, "password": PASSWORD}})
    project = _api(cloud, "POST", "/projects", admin, {"project": {"name": name}})
    uid, pid = user.json()["user"]["id"], project.json()["project"]["id"]
    grant = f"/projects/{pid}/users/{uid}/roles/{_role_id(cloud, admin, role)}"
    assert _api(cloud, "PUT", grant, admin).status_code == 204
    resp = httpx.post(
        f"{cloud.auth_url}/auth/tokens", json=password_body(name, PASSWORD, name), timeout=30
    )
    return Person(uid, name, pid, resp.headers["X-Subject-Token"])


def _trust_body(trustor: Person, trustee: Person, **extra: Any) -> dict[str, Any]:
    body = {
        "trustor_user_id": trustor.id,
        "trustee_user_id": trustee.id,
        "project_id": trustor.project_id,
        "impersonation": False,
        "roles": [{"name": "member"}],
    }
    return {"trust": {**body, **extra}}


def _create(cloud: Cloud, trustor: Person, trustee: Person, **extra: Any) -> dict[str, Any]:
    resp = _api(cloud, "POST", TRUSTS, trustor.token, _trust_body(trustor, trustee, **extra))
    assert resp.status_code == 201, resp.text
    trust: dict[str, Any] = resp.json()["trust"]
    return trust


def _trust_login(cloud: Cloud, who: Person, trust_id: str) -> httpx.Response:
    body = password_body(who.name, PASSWORD, None)
    body["auth"]["scope"] = {"OS-TRUST:trust": {"id": trust_id}}
    return httpx.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=30)


def _validate(cloud: Cloud, token: str) -> httpx.Response:
    admin = admin_token(cloud.auth_url)
    return httpx.get(
        f"{cloud.auth_url}/auth/tokens",
        headers={"X-Auth-Token": admin, "X-Subject-Token": token},
        timeout=30,
    )


@pytest.fixture()
def pair(identity_cloud: Cloud) -> tuple[Person, Person]:
    admin = admin_token(identity_cloud.auth_url)
    return _person(identity_cloud, admin), _person(identity_cloud, admin)


def test_trust_through_the_cli_and_keystoneauth_with_impersonation(
    identity_cloud: Cloud, pair: tuple[Person, Person]
) -> None:
    alice, bob = pair
    as_alice = {"username": alice.name, "password": PASSWORD, "project": alice.name}
    as_bob = {"username": bob.name, "password": PASSWORD, "project": bob.name}
    member = _role_id(identity_cloud, admin_token(identity_cloud.auth_url), "member")
    created = json.loads(
        identity_cloud.cli(
            "trust", "create", "--project", alice.project_id, "--role", member,
            "--impersonate", alice.id, bob.id, "-f", "json", **as_alice,
        ).stdout
    )  # fmt: skip
    tid = created["id"]
    assert created["trustor_user_id"] == alice.id and created["trustee_user_id"] == bob.id
    assert created["is_impersonation"] is True and created["project_id"] == alice.project_id
    mine = json.loads(
        identity_cloud.cli("trust", "list", "--auth-user", "-f", "json", **as_bob).stdout
    )
    assert [t["ID"] for t in mine] == [tid]
    shown = json.loads(identity_cloud.cli("trust", "show", tid, "-f", "json", **as_bob).stdout)
    assert shown["id"] == tid
    # keystoneauth's trust-scoped password login, as orchestration uses it
    auth = v3.Password(
        auth_url=identity_cloud.auth_url,
        username=bob.name,
        password=PASSWORD,
        user_domain_id="default",
        trust_id=tid,
    )
    access = auth.get_access(ks_session.Session())
    assert access.trust_id == tid and access.trust_scoped
    assert access.trustor_user_id == alice.id and access.trustee_user_id == bob.id
    assert access.user_id == alice.id  # impersonation: the token speaks for the trustor
    assert access.project_id == alice.project_id
    assert sorted(access.role_names) == ["member", "reader"]
    body = _validate(identity_cloud, access.auth_token).json()["token"]
    assert body["OS-TRUST:trust"] == {
        "id": tid,
        "impersonation": True,
        "trustor_user": {"id": alice.id},
        "trustee_user": {"id": bob.id},
    }
    identity_cloud.cli("trust", "delete", tid, **as_alice)
    assert _validate(identity_cloud, access.auth_token).status_code == 404
    assert _trust_login(identity_cloud, bob, tid).status_code == 404


def test_a_trust_scoped_token_carries_only_the_trusts_roles(
    identity_cloud: Cloud, pair: tuple[Person, Person]
) -> None:
    alice, bob = pair
    trust = _create(identity_cloud, alice, bob, roles=[{"name": "reader"}])
    assert [r["name"] for r in trust["roles"]] == ["reader"]
    resp = _trust_login(identity_cloud, bob, trust["id"])
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert [r["name"] for r in token["roles"]] == ["reader"]
    assert token["user"]["id"] == bob.id and token["project"]["id"] == alice.project_id
    roles = _api(identity_cloud, "GET", f"{TRUSTS}/{trust['id']}/roles", bob.token).json()
    reader = roles["roles"][0]["id"]
    assert [r["name"] for r in roles["roles"]] == ["reader"]
    one = _api(identity_cloud, "GET", f"{TRUSTS}/{trust['id']}/roles/{reader}", alice.token)
    assert one.status_code == 200 and one.json()["role"]["name"] == "reader"
    member = _role_id(identity_cloud, admin_token(identity_cloud.auth_url), "member")
    assert (
        _api(
            identity_cloud, "GET", f"{TRUSTS}/{trust['id']}/roles/{member}", alice.token
        ).status_code
        == 404
    )


def test_the_trustor_losing_the_role_ends_the_trusts_tokens(
    identity_cloud: Cloud, pair: tuple[Person, Person]
) -> None:
    alice, bob = pair
    trust = _create(identity_cloud, alice, bob)
    token = _trust_login(identity_cloud, bob, trust["id"]).headers["X-Subject-Token"]
    assert _validate(identity_cloud, token).status_code == 200
    admin = admin_token(identity_cloud.auth_url)
    member = _role_id(identity_cloud, admin, "member")
    grant = f"/projects/{alice.project_id}/users/{alice.id}/roles/{member}"
    assert _api(identity_cloud, "DELETE", grant, admin).status_code == 204
    assert _validate(identity_cloud, token).status_code == 404
    assert _trust_login(identity_cloud, bob, trust["id"]).status_code == 401


def test_the_trustors_new_password_ends_the_trusts_tokens(
    identity_cloud: Cloud, pair: tuple[Person, Person]
) -> None:
    """As Keystone revokes by user for the trustor too: a trust token issued before the
    trustor's password change is invalid; a new one works."""
    alice, bob = pair
    trust = _create(identity_cloud, alice, bob, impersonation=True)
    token = _trust_login(identity_cloud, bob, trust["id"]).headers["X-Subject-Token"]
    assert _validate(identity_cloud, token).status_code == 200
    change = {"user": {"password": PASSWORD + "-new", "original_password": PASSWORD}}
    changed = httpx.post(
        f"{identity_cloud.auth_url}/users/{alice.id}/password", json=change, timeout=30
    )
    assert changed.status_code == 204, changed.text
    assert _validate(identity_cloud, token).status_code == 404
    fresh = _trust_login(identity_cloud, bob, trust["id"])
    assert fresh.status_code == 201
    assert _validate(identity_cloud, fresh.headers["X-Subject-Token"]).status_code == 200


def test_remaining_uses_and_expiry(identity_cloud: Cloud, pair: tuple[Person, Person]) -> None:
    alice, bob = pair
    ends = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).replace(microsecond=0)
    trust = _create(
        identity_cloud, alice, bob, remaining_uses=1, expires_at=ends.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert trust["remaining_uses"] == 1
    assert trust["expires_at"] == ends.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    first = _trust_login(identity_cloud, bob, trust["id"])
    assert first.status_code == 201
    assert first.json()["token"]["expires_at"] <= trust["expires_at"]
    # the one use is spent: no second token, and the trust is gone from view
    assert _trust_login(identity_cloud, bob, trust["id"]).status_code == 404
    assert _api(identity_cloud, "GET", f"{TRUSTS}/{trust['id']}", alice.token).status_code == 404
    # the token already issued stays valid until it expires
    assert _validate(identity_cloud, first.headers["X-Subject-Token"]).status_code == 200


def test_redelegation_within_its_limits(identity_cloud: Cloud) -> None:
    admin = admin_token(identity_cloud.auth_url)
    alice, bob, carol = (_person(identity_cloud, admin) for _ in range(3))
    trust = _create(identity_cloud, alice, bob, allow_redelegation=True, redelegation_count=1)
    assert trust["allow_redelegation"] is True and trust["redelegation_count"] == 1
    bob_trust = _trust_login(identity_cloud, bob, trust["id"]).headers["X-Subject-Token"]
    body = _trust_body(bob, carol, project_id=alice.project_id, allow_redelegation=True)
    again = _api(identity_cloud, "POST", TRUSTS, bob_trust, body)
    assert again.status_code == 201, again.text
    second = again.json()["trust"]
    assert second["redelegated_trust_id"] == trust["id"]
    assert second["redelegation_count"] == 0 and second["allow_redelegation"] is False
    carol_trust = _trust_login(identity_cloud, carol, second["id"])
    assert carol_trust.status_code == 201, carol_trust.text
    dave = _person(identity_cloud, admin)
    onward = _trust_body(carol, dave, project_id=alice.project_id)
    with nothing_made(identity_cloud):
        refused = _api(
            identity_cloud, "POST", TRUSTS, carol_trust.headers["X-Subject-Token"], onward
        )
        assert refused.status_code == 403, refused.text
    # deleting the first trust takes the redelegated one with it
    assert _api(identity_cloud, "DELETE", f"{TRUSTS}/{trust['id']}", alice.token).status_code == 204
    assert _api(identity_cloud, "GET", f"{TRUSTS}/{second['id']}", bob.token).status_code == 404


def test_listing_filters_and_who_may_see_trusts(
    identity_cloud: Cloud, pair: tuple[Person, Person]
) -> None:
    alice, bob = pair
    trust = _create(identity_cloud, alice, bob)
    as_admin = json.loads(
        identity_cloud.cli("trust", "list", "--trustor", alice.id, "-f", "json").stdout
    )
    assert [t["ID"] for t in as_admin] == [trust["id"]]
    by_trustee = _api(identity_cloud, "GET", f"{TRUSTS}?trustee_user_id={bob.id}", bob.token)
    assert [t["id"] for t in by_trustee.json()["trusts"]] == [trust["id"]]
    everything = _api(identity_cloud, "GET", TRUSTS, admin_token(identity_cloud.auth_url))
    assert trust["id"] in {t["id"] for t in everything.json()["trusts"]}


def test_bad_trust_requests_change_nothing(
    identity_cloud: Cloud, pair: tuple[Person, Person]
) -> None:
    alice, bob = pair
    admin = admin_token(identity_cloud.auth_url)
    carol = _person(identity_cloud, admin)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    trust = _create(identity_cloud, alice, bob)
    bob_trust = _trust_login(identity_cloud, bob, trust["id"]).headers["X-Subject-Token"]
    cases: list[tuple[str, str, str, Any, int]] = [
        # only the trustor may create; users, projects and roles must exist and be held
        ("POST", TRUSTS, bob.token, _trust_body(alice, bob), 403),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, trustee_user_id="nobody"), 404),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, project_id="nowhere"), 404),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, roles=[{"name": "nope"}]), 404),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, roles=[{"name": "admin"}]), 403),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, project_id=bob.project_id), 403),
        ("POST", TRUSTS, alice.token, {"trust": {"trustor_user_id": alice.id}}, 400),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, remaining_uses=0), 400),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, impersonation="yes"), 400),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, expires_at="soon"), 400),
        ("POST", TRUSTS, alice.token, _trust_body(alice, bob, expires_at=past), 400),
        (
            "POST",
            TRUSTS,
            alice.token,
            _trust_body(alice, bob, allow_redelegation=True, remaining_uses=2),
            400,
        ),
        (
            "POST",
            TRUSTS,
            alice.token,
            _trust_body(alice, bob, allow_redelegation=True, redelegation_count=9),
            403,
        ),
        # a trust that does not allow redelegation cannot be redelegated
        ("POST", TRUSTS, bob_trust, _trust_body(bob, carol, project_id=alice.project_id), 403),
        # a delegated token makes no application credential
        (
            "POST",
            f"/users/{bob.id}/application_credentials",
            bob_trust,
            {"application_credential": {"name": "from-trust"}},
            403,
        ),
        # only parties read; only the trustor (or an admin) deletes; lists need a right
        ("GET", f"{TRUSTS}/{trust['id']}", carol.token, None, 403),
        ("GET", f"{TRUSTS}/{trust['id']}/roles", carol.token, None, 403),
        ("DELETE", f"{TRUSTS}/{trust['id']}", bob.token, None, 403),
        ("DELETE", f"{TRUSTS}/{uuid.uuid4().hex}", alice.token, None, 404),
        ("GET", f"{TRUSTS}/{uuid.uuid4().hex}", alice.token, None, 404),
        ("GET", TRUSTS, bob.token, None, 403),
        ("GET", f"{TRUSTS}?trustor_user_id={alice.id}", bob.token, None, 403),
    ]
    with nothing_made(identity_cloud):
        for method, path, token, body, status in cases:
            resp = _api(identity_cloud, method, path, token, body)
            assert resp.status_code == status, (method, path, body, resp.text)
            assert resp.json()["error"]["code"] == status
        # the trust is the trustee's alone; a trust-scoped token cannot be rescoped
        assert _trust_login(identity_cloud, carol, trust["id"]).status_code == 403
        rescope = {
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": bob_trust}},
                "scope": {"project": {"id": alice.project_id}},
            }
        }
        resp = httpx.post(f"{identity_cloud.auth_url}/auth/tokens", json=rescope, timeout=30)
        assert resp.status_code == 403
