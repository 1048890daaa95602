"""Keystone's [security_compliance] through the API: lockout and unlock, password rules,
history, expiry and change on first use, each with Keystone's status and message."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack import exceptions

from tests.cloud import Cloud, admin_token, password_body, running_cloud

GOOD = "long-enough-password-1"
RULES = {
    "MINISTACK_SECURITY_COMPLIANCE_LOCKOUT_FAILURE_ATTEMPTS": "3",
    "MINISTACK_SECURITY_COMPLIANCE_LOCKOUT_DURATION": "2",
    "MINISTACK_SECURITY_COMPLIANCE_PASSWORD_REGEX": "^.{12,}$",
    "MINISTACK_SECURITY_COMPLIANCE_PASSWORD_REGEX_DESCRIPTION": "at least 12 characters",
    "MINISTACK_SECURITY_COMPLIANCE_UNIQUE_LAST_PASSWORD_COUNT": "3",
    "MINISTACK_SECURITY_COMPLIANCE_PASSWORD_EXPIRES_DAYS": "30",
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("compliance"), extra_env=RULES) as c:
        yield c


@pytest.fixture(scope="module")
def first_use_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    env = {"MINISTACK_SECURITY_COMPLIANCE_CHANGE_PASSWORD_UPON_FIRST_USE": "true"}
    with running_cloud(tmp_path_factory.mktemp("first-use"), extra_env=env) as c:
        yield c


def _admin(cloud: Cloud) -> dict[str, str]:
    return {"X-Auth-Token": admin_token(cloud.auth_url)}


def _create_user(cloud: Cloud, password: str = GOOD) -> dict[str, Any]:
    name = f"u-{uuid.uuid4().hex[:8]}"
    resp = httpx.post(
        f"{cloud.auth_url}/users",
        json={"user": {"name": name, "password": password}},
        headers=_admin(cloud),
    )
    assert resp.status_code == 201, resp.text
    user: dict[str, Any] = resp.json()["user"]
    return user


def _login(cloud: Cloud, name: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{cloud.auth_url}/auth/tokens", json=password_body(name, password, None), timeout=30
    )


def _change(cloud: Cloud, user_id: str, old: str, new: str) -> httpx.Response:
    return httpx.post(
        f"{cloud.auth_url}/users/{user_id}/password",
        json={"user": {"original_password": old, "password": new}},
    )


def test_lockout_after_failures_then_unlock_after_the_duration(cloud: Cloud) -> None:
    user = _create_user(cloud)
    assert _login(cloud, user["name"], GOOD).status_code == 201  # the HMAC cache now knows it
    for _ in range(3):
        wrong = _login(cloud, user["name"], "wrong-password-xx")
        assert wrong.status_code == 401
        assert "locked" not in wrong.text
    locked = _login(cloud, user["name"], GOOD)  # right password, cached: still refused
    assert locked.status_code == 401
    assert locked.json()["error"] == {
        "code": 401,
        "title": "Unauthorized",
        "message": f"The account is locked for user: {user['id']}.",
    }
    deadline = time.monotonic() + 60
    while _login(cloud, user["name"], GOOD).status_code != 201:
        assert time.monotonic() < deadline, "the lock was never lifted"
        time.sleep(0.5)
    # a success resets the counter: two failures do not lock, three again do
    for _ in range(2):
        assert _login(cloud, user["name"], "wrong-password-xx").status_code == 401
    assert _login(cloud, user["name"], GOOD).status_code == 201
    for _ in range(3):
        _login(cloud, user["name"], "wrong-password-xx")
    assert "is locked" in _login(cloud, user["name"], GOOD).text
    # an administrator enabling the user unlocks the account at once (Keystone)
    resp = httpx.patch(
        f"{cloud.auth_url}/users/{user['id']}",
        json={"user": {"enabled": True}},
        headers=_admin(cloud),
    )
    assert resp.status_code == 200
    assert _login(cloud, user["name"], GOOD).status_code == 201


def test_password_regex_is_400_and_creates_nothing(cloud: Cloud) -> None:
    name = f"short-{uuid.uuid4().hex[:8]}"
    resp = httpx.post(
        f"{cloud.auth_url}/users",
        json={"user": {"name": name, "password": "short"}},
        headers=_admin(cloud),
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "The password does not match the requirements: at least 12 characters."
    )
    listed = httpx.get(f"{cloud.auth_url}/users?name={name}", headers=_admin(cloud))
    assert listed.json()["users"] == []
    user = _create_user(cloud)
    conn = cloud.connect()
    with pytest.raises(exceptions.BadRequestException, match="at least 12 characters"):
        conn.identity.update_user(user["id"], password="short")
    assert _change(cloud, user["id"], GOOD, "short").status_code == 400
    assert _login(cloud, user["name"], GOOD).status_code == 201


def test_last_passwords_cannot_be_reused(cloud: Cloud) -> None:
    user = _create_user(cloud, "first-password-01")
    assert _change(cloud, user["id"], "first-password-01", "second-password-2").status_code == 204
    assert _change(cloud, user["id"], "second-password-2", "third-password-03").status_code == 204
    for old in ("first-password-01", "second-password-2", "third-password-03"):
        resp = _change(cloud, user["id"], "third-password-03", old)
        assert resp.status_code == 400
        assert resp.json()["error"]["message"].startswith(
            "The new password cannot be identical to a previous password."
        )
    assert _change(cloud, user["id"], "third-password-03", "fourth-password-4").status_code == 204
    # three passwords later the first one may come back
    assert _change(cloud, user["id"], "fourth-password-4", "first-password-01").status_code == 204
    assert _login(cloud, user["name"], "first-password-01").status_code == 201


def _expire_now(cloud: Cloud, user_id: str) -> None:
    """Fake the passing of password_expires_days: move the expiry into the past (and bump the
    identity revision, as every identity write does, so no cached login row hides it)."""
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(tzinfo=None)
    with sqlite3.connect(Path(cloud.state_dir) / "ministack.db") as db:
        db.execute(
            "UPDATE identity_users SET password_expires_at = ? WHERE id = ?",
            (past.isoformat(sep=" "), user_id),
        )
        db.execute("UPDATE identity_revision SET value = value + 1 WHERE id = 1")


def test_password_expires_after_the_configured_days(cloud: Cloud) -> None:
    user = _create_user(cloud)
    expires = dt.datetime.strptime(user["password_expires_at"], "%Y-%m-%dT%H:%M:%S.%f")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert dt.timedelta(days=29) < expires - now <= dt.timedelta(days=30)
    assert _login(cloud, user["name"], GOOD).status_code == 201
    _expire_now(cloud, user["id"])
    expired = _login(cloud, user["name"], GOOD)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == (
        f"The password is expired and needs to be changed for user: {user['id']}."
    )
    assert _change(cloud, user["id"], GOOD, "a-brand-new-password").status_code == 204
    assert _login(cloud, user["name"], "a-brand-new-password").status_code == 201


def test_password_set_by_an_admin_must_be_changed_on_first_use(first_use_cloud: Cloud) -> None:
    cloud = first_use_cloud
    user = _create_user(cloud, "set-by-admin")
    assert user["password_expires_at"] is not None
    first = _login(cloud, user["name"], "set-by-admin")
    assert first.status_code == 401
    assert "password is expired and needs to be changed" in first.json()["error"]["message"]
    assert _change(cloud, user["id"], "set-by-admin", "chosen-by-me").status_code == 204
    assert _login(cloud, user["name"], "chosen-by-me").status_code == 201
    shown = httpx.get(f"{cloud.auth_url}/users/{user['id']}", headers=_admin(cloud))
    assert shown.json()["user"]["password_expires_at"] is None
    # an administrator's reset must be changed again
    resp = httpx.patch(
        f"{cloud.auth_url}/users/{user['id']}",
        json={"user": {"password": "reset-by-admin"}},
        headers=_admin(cloud),
    )
    assert resp.status_code == 200
    assert _login(cloud, user["name"], "reset-by-admin").status_code == 401
    # the bootstrap admin is not affected
    assert _login(cloud, "admin", cloud.env["MINISTACK_IDENTITY_ADMIN_PASSWORD"]).status_code == 201


def test_every_rule_is_off_by_default(identity_cloud: Cloud) -> None:
    cloud = identity_cloud
    user = _create_user(cloud, "x")  # no regex
    assert user["password_expires_at"] is None
    for _ in range(8):
        assert _login(cloud, user["name"], "wrong").status_code == 401
    assert _login(cloud, user["name"], "x").status_code == 201  # never locked
    assert _change(cloud, user["id"], "x", "x").status_code == 204  # no history
