"""The policy engine: each API action names a rule; each service declares its rules' defaults
as data (`<service>/policies.py`, one table of rule name → check string, matching upstream's
defaults); handlers call `authorize` with the rule name and never spell a check themselves.

Default roles: ``admin`` (everything, everywhere), ``manager`` ⊃ ``member`` ⊃ ``reader``
within their own project. Roles in a token already include implied ones, so a member's token
also carries ``reader``. A check string is personas joined by ``|``:

- ``admin``: the caller has the admin role.
- ``reader`` / ``member`` / ``manager``: the caller has that role on the target's project.
- ``owner``: the caller is the target's user (``user_id`` in the target).
- ``any``: any valid token.
- ``service``: the caller has the ``service`` role (other services acting on a user's behalf).
- ``system_reader`` / ``system_member`` / ``system_admin``: the caller's token is scoped to
  the system and carries that role (Keystone's ``role:X and system_scope:all``).
- ``domain_reader`` / ``domain_member`` / ``domain_admin``: the caller's token is scoped to the
  target's domain (``domain_id``) and carries that role (Keystone's ``role:X and
  domain_id:%(target.domain_id)s``).
- ``domain_user``: the caller's token is scoped to the target's domain (``domain_id``), or to
  a project in it (Keystone's ``token.project.domain.id:%(target.domain.id)s``).

Scope: a system reader (a token scoped to the system with ``reader``, which ``member`` and
``admin`` imply) also matches ``reader`` for every project, so every service's read rules let
it see all projects' resources, and it matches no write persona; a system admin has the admin
role, so ``admin`` matches it. Project and domain tokens keep their meaning.

Upstream's base rules map onto these personas (the names below are Nova's and Glance's):
``rule:context_is_admin`` → ADMIN, ``@``/``""`` → ANY, ``project_reader_or_admin`` →
PROJECT_READER_OR_ADMIN, ``project_member_or_admin`` → PROJECT_MEMBER_OR_ADMIN,
``(admin) or user_id:%(user_id)s`` → ADMIN_OR_OWNER, ``service_or_admin`` → SERVICE_OR_ADMIN.
Upstream's ``system_reader`` alternatives are the ``system_reader`` persona (in project
rules ``reader`` already admits a system reader, as said above).

Unscoped tokens are treated as oslo.policy treats them under upstream's defaults, in every
service alike: such a token carries no role and no project, so it passes ``any`` and
``owner`` rules (its own user) and no rule that needs a role on a project: 403.
"""

from __future__ import annotations

from collections.abc import Mapping

from ministack.common import errors
from ministack.common.auth import Auth

PERSONAS = (
    "admin",
    "manager",
    "member",
    "reader",
    "owner",
    "any",
    "service",
    "system_admin",
    "system_member",
    "system_reader",
    "domain_user",
    "domain_admin",
    "domain_member",
    "domain_reader",
)
SYSTEM_PERSONAS = {"system_admin": "admin", "system_member": "member", "system_reader": "reader"}
DOMAIN_PERSONAS = {"domain_admin": "admin", "domain_member": "member", "domain_reader": "reader"}

ADMIN = "admin"
ANY = "any"
OWNER = "owner"
ADMIN_OR_OWNER = "admin | owner"
PROJECT_READER_OR_ADMIN = "admin | reader"
PROJECT_MEMBER_OR_ADMIN = "admin | member"
PROJECT_MANAGER_OR_ADMIN = "admin | manager"
SERVICE_OR_ADMIN = "admin | service"
# an operator's read: Nova's SYSTEM_READER-era defaults let a system reader make it too
ADMIN_OR_SYSTEM_READER = "admin | system_reader"
PROJECT_READER_OR_SERVICE_OR_ADMIN = "admin | reader | service"

Target = Mapping[str, str | None]


def check(auth: Auth, rule: str, target: Target | None = None) -> bool:
    """True when one persona of `rule` matches the caller for `target`."""
    target = target or {}
    for persona in (p.strip() for p in rule.split("|")):
        if persona == "any":
            return True
        if persona == "admin" and auth.is_admin:
            return True
        if persona == "service" and auth.has_role("service"):
            return True
        if persona == "owner" and target.get("user_id") == auth.user_id:
            return True
        if persona in ("reader", "member", "manager"):
            project = target.get("project_id")
            if project is not None and project == auth.project_id and auth.has_role(persona):
                return True
            if persona == "reader" and auth.is_system_reader:
                return True
        if (
            persona in SYSTEM_PERSONAS
            and auth.is_system
            and auth.has_role(SYSTEM_PERSONAS[persona])
        ):
            return True
        if persona == "domain_user" and _in_domain(auth, target.get("domain_id")):
            return True
        if persona in DOMAIN_PERSONAS and _domain_role(auth, DOMAIN_PERSONAS[persona], target):
            return True
        if persona not in PERSONAS:
            raise ValueError(f"unknown persona {persona!r} in policy rule {rule!r}")
    return False


def _in_domain(auth: Auth, domain_id: str | None) -> bool:
    if domain_id is None:
        return False
    return domain_id in (auth.domain_id, auth.project_domain_id)


def _domain_role(auth: Auth, role: str, target: Target) -> bool:
    domain = target.get("domain_id")
    return domain is not None and domain == auth.domain_id and auth.has_role(role)


def enforce(auth: Auth, action: str, rule: str, target: Target | None = None) -> None:
    """Raise 403 naming the action when `rule` does not allow the caller."""
    if not check(auth, rule, target):
        raise errors.Forbidden(f"You are not authorized to perform the requested action: {action}.")


def authorize(
    rules: Mapping[str, str], auth: Auth, action: str, target: Target | None = None
) -> None:
    """Enforce the default of rule `action` from a service's table; 403 naming the action.

    KeyError when the table has no such rule: every rule a handler names is declared.
    """
    enforce(auth, action, rules[action], target)
