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

Upstream's base rules map onto these personas (the names below are Nova's and Glance's):
``rule:context_is_admin`` → ADMIN, ``@``/``""`` → ANY, ``project_reader_or_admin`` →
PROJECT_READER_OR_ADMIN, ``project_member_or_admin`` → PROJECT_MEMBER_OR_ADMIN,
``(admin) or user_id:%(user_id)s`` → ADMIN_OR_OWNER, ``service_or_admin`` → SERVICE_OR_ADMIN.
System scope does not exist here, so upstream's ``system_reader`` alternatives drop out.

Unscoped tokens are treated as oslo.policy treats them under upstream's defaults, in every
service alike: such a token carries no role and no project, so it passes ``any`` and
``owner`` rules (its own user) and no rule that needs a role on a project: 403.
"""

from __future__ import annotations

from collections.abc import Mapping

from ministack.common import errors
from ministack.common.auth import Auth

PERSONAS = ("admin", "manager", "member", "reader", "owner", "any", "service")

ADMIN = "admin"
ANY = "any"
OWNER = "owner"
ADMIN_OR_OWNER = "admin | owner"
PROJECT_READER_OR_ADMIN = "admin | reader"
PROJECT_MEMBER_OR_ADMIN = "admin | member"
PROJECT_MANAGER_OR_ADMIN = "admin | manager"
SERVICE_OR_ADMIN = "admin | service"
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
        if persona not in PERSONAS:
            raise ValueError(f"unknown persona {persona!r} in policy rule {rule!r}")
    return False


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
