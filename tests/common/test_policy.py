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


def _system(roles: tuple[str, ...]) -> Auth:
    return Auth(
        user_id="s1",
        user_name="s1",
        user_domain_id="default",
        roles=roles,
        expires_at=dt.datetime(2100, 1, 1),
        system_scope="all",
    )


SYSTEM = {
    "system_admin": _system(("admin", "manager", "member", "reader")),
    "system_member": _system(("member", "reader")),
    "system_reader": _system(("reader",)),
}


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        # a system reader reads every project; only a system admin (an admin) writes
        ("admin | reader", set(SYSTEM)),
        ("admin | member", {"system_admin"}),
        ("admin | manager", {"system_admin"}),
        ("admin", {"system_admin"}),
        ("system_reader", set(SYSTEM)),
        ("system_member", {"system_admin", "system_member"}),
        ("system_admin", {"system_admin"}),
    ],
)
def test_system_personas(rule: str, allowed: set[str]) -> None:
    got = {name for name, auth in SYSTEM.items() if policy.check(auth, rule, {"project_id": "p1"})}
    assert got == allowed
    assert all(auth.reads_all for auth in SYSTEM.values())


def test_project_tokens_are_no_system_personas() -> None:
    for name, auth in PERSONAS.items():
        assert not policy.check(auth, "system_reader | system_member | system_admin"), name
        assert auth.reads_all == (name == "admin")


def test_domain_user_persona() -> None:
    member = PERSONAS["member"]
    assert policy.check(
        Auth(**{**member.__dict__, "project_domain_id": "d1"}), "domain_user", {"domain_id": "d1"}
    )
    assert not policy.check(member, "domain_user", {"domain_id": "d1"})


def test_domain_personas() -> None:
    reader = Auth(**{**PERSONAS["reader"].__dict__, "project_id": None, "domain_id": "d1"})
    target = {"domain_id": "d1"}
    assert policy.check(reader, "domain_reader", target)
    assert not policy.check(reader, "domain_member | domain_admin", target)
    assert not policy.check(reader, "domain_reader", {"domain_id": "d2"})
    # a project token in the domain is no domain persona
    member = Auth(**{**PERSONAS["member"].__dict__, "project_domain_id": "d1"})
    assert not policy.check(member, "domain_reader", target)
