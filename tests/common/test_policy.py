from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ministack.common import errors, policy
from ministack.common.auth import Auth
from ministack.compute import policies as compute_policies
from ministack.identity import policies as identity_policies
from ministack.identity.api import resources
from ministack.image import policies as image_policies
from ministack.placement import policies as placement_policies
from ministack.volume import policies as volume_policies


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
UNSCOPED = _auth((), project=None)
SERVICE = _auth(("service",), project="svc", user="nova")
TABLES = {
    "identity": identity_policies.RULES,
    "image": image_policies.RULES,
    "compute": compute_policies.RULES,
    "placement": placement_policies.RULES,
    "volume": volume_policies.RULES,
}
ROWS = [(service, name) for service, table in TABLES.items() for name in table]
READ_VERBS = re.compile(
    r"(^|[:_-])(index|show|list|get|detail|defaults|search|statistics|uptime|limits|usages|extensions)"
)
SRC = Path(__file__).resolve().parents[2] / "src" / "ministack"


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


@pytest.mark.parametrize(("service", "name"), ROWS)
def test_every_default_is_a_valid_persona_rule(service: str, name: str) -> None:
    """Each row parses, and an admin passes every rule but the owner-only ones."""
    rule = TABLES[service][name]
    target = {"project_id": "p1", "user_id": "someone-else"}
    allowed = {p for p, auth in PERSONAS.items() if policy.check(auth, rule, target)}
    assert "admin" in allowed or rule == policy.OWNER


@pytest.mark.parametrize(("service", "name"), ROWS)
def test_a_reader_never_writes(service: str, name: str) -> None:
    """PROMISES 15: reader is GET only. A rule that is not a read refuses a reader of the
    target project (and anyone but an admin, a member or the target user's owner)."""
    rule = TABLES[service][name]
    target = {"project_id": "p1", "user_id": "someone-else"}
    if READ_VERBS.search(name.rsplit(":", 1)[-1] if ":" in name else name):
        return
    if ":show:" in name:  # a part of a read (Nova's servers:show:flavor-extra-specs)
        return
    assert not policy.check(PERSONAS["reader"], rule, target), name
    assert not policy.check(PERSONAS["other_member"], rule, target), name


@pytest.mark.parametrize(("service", "name"), ROWS)
def test_unscoped_tokens_pass_only_open_and_own_user_rules(service: str, name: str) -> None:
    """An unscoped token (no project, no role) is treated the same in every service, as
    oslo.policy treats one under upstream's defaults: only `any` and its own `owner`."""
    rule = TABLES[service][name]
    personas = {p.strip() for p in rule.split("|")}
    own = {"project_id": None, "user_id": UNSCOPED.user_id}
    assert policy.check(UNSCOPED, rule, own) == bool(personas & {"any", "owner"})
    other = {"project_id": "p1", "user_id": "someone-else"}
    assert policy.check(UNSCOPED, rule, other) == ("any" in personas)


@pytest.mark.parametrize(
    ("service", "name", "allowed"),
    [
        # upstream's defaults, persona by persona, for rules whose default people rely on
        ("compute", "os_compute_api:os-console-output", {"admin", "manager", "member"}),
        ("compute", "os_compute_api:servers:show", {"admin", "manager", "member", "reader"}),
        ("compute", "os_compute_api:servers:create", {"admin", "manager", "member"}),
        ("compute", "os_compute_api:os-lock-server:lock", {"admin", "manager", "member"}),
        ("compute", "os_compute_api:os-quota-class-sets:show", {"admin"}),
        (
            "compute",
            "os_compute_api:os-flavor-extra-specs:index",
            {"admin", "manager", "member", "reader"},
        ),
        ("compute", "os_compute_api:flavors:index", set(PERSONAS)),
        ("image", "get_images", {"admin", "manager", "member", "reader"}),
        ("image", "download_image", {"admin", "manager", "member"}),
        ("image", "publicize_image", {"admin"}),
        ("identity", "identity:list_roles", {"admin"}),
        ("identity", "identity:list_regions", set(PERSONAS)),
        ("identity", "identity:get_project", {"admin", "manager", "member", "reader"}),
        ("placement", "placement:resource_providers:list", {"admin"}),
        ("placement", "placement:usages", {"admin", "manager", "member", "reader"}),
    ],
)
def test_defaults_match_upstream(service: str, name: str, allowed: set[str]) -> None:
    target = {"project_id": "p1", "user_id": "someone-else"}
    rule = TABLES[service][name]
    got = {p for p, auth in PERSONAS.items() if policy.check(auth, rule, target)}
    assert got == allowed
    assert policy.check(SERVICE, rule, target) == ("service" in rule or rule == policy.ANY)


def _used_names(folder: str, pattern: str) -> set[str]:
    names: set[str] = set()
    for path in (SRC / folder).rglob("*.py"):
        if path.name != "policies.py":
            names.update(re.findall(pattern, path.read_text()))
    return names


def test_every_rule_a_handler_names_is_in_its_table() -> None:
    """The tables are the single source: no handler names a rule they do not declare."""
    compute = _used_names("compute", r'"((?:os_compute_api|ministack):[^"{]+)"')
    assert compute and compute <= set(compute_policies.RULES), compute - set(compute_policies.RULES)
    placement = _used_names("placement", r'"(placement:[\w:]+)"')
    assert placement and placement <= set(placement_policies.RULES)
    image = _used_names("image", r'authorize\(\s*auth,\s*"(\w+)"')
    image |= _used_names("image", r'enforce_write\(\s*auth,\s*img,\s*"(\w+)"')
    assert image and image <= set(image_policies.RULES), image - set(image_policies.RULES)
    volume = _used_names("volume", r'caller\(\s*request,\s*"([^"]+)"')
    assert volume and volume <= set(volume_policies.RULES), volume - set(volume_policies.RULES)
    identity = _used_names("identity", r'"(identity:\w+)"')
    for coll in (
        resources.DOMAINS,
        resources.PROJECTS,
        resources.GROUPS,
        resources.ROLES,
        resources.REGIONS,
        resources.SERVICES,
        resources.ENDPOINTS,
    ):
        identity |= {f"identity:list_{coll.plural}"}
        identity |= {f"identity:{v}_{coll.singular}" for v in ("get", "create", "update", "delete")}
    assert identity <= set(identity_policies.RULES), identity - set(identity_policies.RULES)


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
