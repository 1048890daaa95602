from __future__ import annotations

import datetime as dt

import pytest

from ministack.common import errors, policy
from ministack.common.auth import Auth


def _auth(roles: tuple[str, ...], project: str | None = "p1", user: str = "u1") -> Auth:
    return Auth(
        user_id=user,
        user_name=user,
        user_domain_id="default",
        roles=roles,
        expires_at=dt.datetime(2100, 1, 1),
        project_id=project,
    )


PERSONAS = {
    "admin": _auth(("admin", "manager", "member", "reader")),
    "manager": _auth(("manager", "member", "reader")),
    "member": _auth(("member", "reader")),
    "reader": _auth(("reader",)),
    "other_member": _auth(("member", "reader"), project="p2"),
    "other_reader": _auth(("reader",), project="p2"),
    "no_role": _auth(()),
}


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        ("admin", {"admin"}),
        ("admin | member", {"admin", "manager", "member"}),
        ("admin | reader", {"admin", "manager", "member", "reader"}),
        ("admin | manager", {"admin", "manager"}),
        ("any", set(PERSONAS)),
    ],
)
def test_persona_matrix(rule: str, allowed: set[str]) -> None:
    target = {"project_id": "p1"}
    got = {name for name, auth in PERSONAS.items() if policy.check(auth, rule, target)}
    assert got == allowed


def test_owner_persona() -> None:
    assert policy.check(PERSONAS["no_role"], "owner", {"user_id": "u1"})
    assert not policy.check(PERSONAS["no_role"], "owner", {"user_id": "u2"})


def test_enforce_raises_403_naming_the_action() -> None:
    with pytest.raises(errors.Forbidden, match="identity:create_project"):
        policy.enforce(PERSONAS["reader"], "identity:create_project", "admin")


def test_unknown_persona_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        policy.check(PERSONAS["reader"], "wizard", {})
