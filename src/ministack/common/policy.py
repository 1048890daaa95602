"""The policy engine: each API action names a rule; a rule is a set of personas allowed.

Default roles: ``admin`` (everything, everywhere), ``manager`` ⊃ ``member`` ⊃ ``reader``
within their own project. Roles in a token already include implied ones, so a member's token
also carries ``reader``. A rule is written as personas joined by ``|``:

- ``admin``: the caller has the admin role.
- ``reader`` / ``member`` / ``manager``: the caller has that role on the target's project.
- ``owner``: the caller is the target's user (``user_id`` in the target).
- ``any``: any valid token.
- ``service``: the caller has the ``service`` role (other services acting on a user's behalf).
"""

from __future__ import annotations

from collections.abc import Mapping

from ministack.common import errors
from ministack.common.auth import Auth

PERSONAS = ("admin", "manager", "member", "reader", "owner", "any", "service")


def check(auth: Auth, rule: str, target: Mapping[str, str | None] | None = None) -> bool:
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


def enforce(
    auth: Auth, action: str, rule: str, target: Mapping[str, str | None] | None = None
) -> None:
    """Raise 403 naming the action when `rule` does not allow the caller."""
    if not check(auth, rule, target):
        raise errors.Forbidden(f"You are not authorized to perform the requested action: {action}.")
