"""Identity's policy defaults: rule name → check string, as Keystone's defaults
(keystone/common/policies/*) for project-scoped tokens.

Keystone's alternatives for system-scoped and domain-scoped readers and domain managers drop
out: those scopes do not grant anything here, so the rule is what remains for a project token
(e.g. `list_roles` is admin only; `get_region` and `list_regions` are open to any token).
"""

from __future__ import annotations

from typing import Final

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.common.policy import (
    ADMIN,
    ADMIN_OR_OWNER,
    ANY,
    OWNER,
    PROJECT_READER_OR_ADMIN,
    SERVICE_OR_ADMIN,
    Target,
)

RULES: Final[dict[str, str]] = {
    # users: an admin, or the user itself for reads
    "identity:list_users": ADMIN,
    "identity:get_user": ADMIN_OR_OWNER,
    "identity:create_user": ADMIN,
    "identity:update_user": ADMIN,
    "identity:delete_user": ADMIN,
    "identity:list_user_projects": ADMIN_OR_OWNER,
    "identity:list_groups_for_user": ADMIN_OR_OWNER,
    "identity:create_application_credential": OWNER,
    "identity:list_application_credentials": ADMIN_OR_OWNER,
    "identity:get_application_credential": ADMIN_OR_OWNER,
    "identity:delete_application_credential": ADMIN_OR_OWNER,
    # tokens: the subject itself, a service, or an admin
    "identity:validate_token": f"{SERVICE_OR_ADMIN} | owner",
    # projects: an admin, or a user of the project for a read
    "identity:list_projects": ADMIN,
    "identity:get_project": PROJECT_READER_OR_ADMIN,
    "identity:create_project": ADMIN,
    "identity:update_project": ADMIN,
    "identity:delete_project": ADMIN,
    "identity:list_domains": ADMIN,
    "identity:get_domain": ADMIN,
    "identity:create_domain": ADMIN,
    "identity:update_domain": ADMIN,
    "identity:delete_domain": ADMIN,
    "identity:list_groups": ADMIN,
    "identity:get_group": ADMIN,
    "identity:create_group": ADMIN,
    "identity:update_group": ADMIN,
    "identity:delete_group": ADMIN,
    "identity:add_user_to_group": ADMIN,
    "identity:check_user_in_group": ADMIN,
    "identity:remove_user_from_group": ADMIN,
    "identity:list_users_in_group": ADMIN,
    "identity:list_roles": ADMIN,
    "identity:get_role": ADMIN,
    "identity:create_role": ADMIN,
    "identity:update_role": ADMIN,
    "identity:delete_role": ADMIN,
    "identity:create_grant": ADMIN,
    "identity:check_grant": ADMIN,
    "identity:revoke_grant": ADMIN,
    "identity:list_grants": ADMIN,
    "identity:list_role_assignments": ADMIN,
    "identity:list_regions": ANY,
    "identity:get_region": ANY,
    "identity:create_region": ADMIN,
    "identity:update_region": ADMIN,
    "identity:delete_region": ADMIN,
    "identity:list_services": ADMIN,
    "identity:get_service": ADMIN,
    "identity:create_service": ADMIN,
    "identity:update_service": ADMIN,
    "identity:delete_service": ADMIN,
    "identity:list_endpoints": ADMIN,
    "identity:get_endpoint": ADMIN,
    "identity:create_endpoint": ADMIN,
    "identity:update_endpoint": ADMIN,
    "identity:delete_endpoint": ADMIN,
}


def authorize(auth: Auth, action: str, target: Target | None = None) -> None:
    """403 naming `action` unless its default allows the caller on `target`."""
    policy.authorize(RULES, auth, action, target)
