"""Identity's policy defaults: rule name → check string, as Keystone's defaults
(keystone/common/policies/*).

Reads take Keystone's system-reader alternative (``system_reader``: a system-scoped token with
the reader role) and, for users, projects and groups, its domain-reader one (``domain_reader``:
a token scoped to the row's domain; lists are then cut to that domain). Domain managers drop
out (no domain-scoped writes here). `list_roles` is admin or system reader; `get_region` and
`list_regions` are open to any token.
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

SYSTEM_READ = "admin | system_reader"
DOMAIN_READ = "admin | system_reader | domain_reader"
OWN_READ = "admin | system_reader | owner"

RULES: Final[dict[str, str]] = {
    # users: an admin, a system reader, a reader of the user's domain, or the user itself
    "identity:list_users": DOMAIN_READ,
    "identity:get_user": f"{OWN_READ} | domain_reader",
    "identity:create_user": ADMIN,
    "identity:update_user": ADMIN,
    "identity:delete_user": ADMIN,
    "identity:list_user_projects": OWN_READ,
    "identity:list_groups_for_user": OWN_READ,
    "identity:create_application_credential": OWNER,
    "identity:list_application_credentials": OWN_READ,
    "identity:get_application_credential": OWN_READ,
    "identity:delete_application_credential": ADMIN_OR_OWNER,
    "identity:list_access_rules": OWN_READ,
    "identity:get_access_rule": OWN_READ,
    "identity:delete_access_rule": ADMIN_OR_OWNER,
    # tokens: the subject itself, a service, a system reader or an admin
    "identity:validate_token": f"{SERVICE_OR_ADMIN} | system_reader | owner",
    # projects: an admin, a system or domain reader, or a user of the project for a read
    "identity:list_projects": DOMAIN_READ,
    "identity:get_project": f"{PROJECT_READER_OR_ADMIN} | domain_reader",
    "identity:create_project": ADMIN,
    "identity:update_project": ADMIN,
    "identity:delete_project": ADMIN,
    "identity:get_project_tags": f"{PROJECT_READER_OR_ADMIN} | domain_reader",
    "identity:get_project_tag": f"{PROJECT_READER_OR_ADMIN} | domain_reader",
    "identity:update_project_tags": ADMIN,
    "identity:create_project_tag": ADMIN,
    "identity:delete_project_tags": ADMIN,
    "identity:delete_project_tag": ADMIN,
    "identity:list_domains": SYSTEM_READ,
    # Keystone: a token scoped to the domain, or to a project in it, reads the domain
    "identity:get_domain": f"{SYSTEM_READ} | domain_user",
    "identity:create_domain": ADMIN,
    "identity:update_domain": ADMIN,
    "identity:delete_domain": ADMIN,
    "identity:list_groups": DOMAIN_READ,
    "identity:get_group": DOMAIN_READ,
    "identity:create_group": ADMIN,
    "identity:update_group": ADMIN,
    "identity:delete_group": ADMIN,
    "identity:add_user_to_group": ADMIN,
    "identity:check_user_in_group": SYSTEM_READ,
    "identity:remove_user_from_group": ADMIN,
    "identity:list_users_in_group": SYSTEM_READ,
    "identity:list_roles": SYSTEM_READ,
    "identity:get_role": SYSTEM_READ,
    "identity:create_role": ADMIN,
    "identity:update_role": ADMIN,
    "identity:delete_role": ADMIN,
    # grants on projects, domains and the system, inherited or not
    "identity:create_grant": ADMIN,
    "identity:check_grant": SYSTEM_READ,
    "identity:revoke_grant": ADMIN,
    "identity:list_grants": SYSTEM_READ,
    "identity:list_role_assignments": SYSTEM_READ,
    "identity:list_regions": ANY,
    "identity:get_region": ANY,
    "identity:create_region": ADMIN,
    "identity:update_region": ADMIN,
    "identity:delete_region": ADMIN,
    "identity:list_services": SYSTEM_READ,
    "identity:get_service": SYSTEM_READ,
    "identity:create_service": ADMIN,
    "identity:update_service": ADMIN,
    "identity:delete_service": ADMIN,
    "identity:list_endpoints": SYSTEM_READ,
    "identity:get_endpoint": SYSTEM_READ,
    "identity:create_endpoint": ADMIN,
    "identity:update_endpoint": ADMIN,
    "identity:delete_endpoint": ADMIN,
    # credentials and EC2 credentials: an admin or the owner; reads also a system reader
    "identity:list_credentials": OWN_READ,
    "identity:get_credential": OWN_READ,
    "identity:create_credential": ADMIN_OR_OWNER,
    "identity:update_credential": ADMIN_OR_OWNER,
    "identity:delete_credential": ADMIN_OR_OWNER,
    "identity:ec2_list_credentials": OWN_READ,
    "identity:ec2_get_credential": OWN_READ,
    "identity:ec2_create_credential": ADMIN_OR_OWNER,
    "identity:ec2_delete_credential": ADMIN_OR_OWNER,
    # trusts (keystone/common/policies/trust.py): the trustor creates and deletes; trustor and
    # trustee read ("owner" is checked against each); a system reader reads them all
    "identity:create_trust": OWNER,
    "identity:list_trusts": SYSTEM_READ,
    "identity:list_trusts_for_trustor": OWN_READ,
    "identity:list_trusts_for_trustee": OWN_READ,
    "identity:get_trust": OWN_READ,
    "identity:list_roles_for_trust": OWN_READ,
    "identity:get_role_for_trust": OWN_READ,
    "identity:delete_trust": ADMIN_OR_OWNER,
    # endpoint groups and project endpoints (OS-EP-FILTER): admins change, system readers read
    "identity:create_endpoint_group": ADMIN,
    "identity:list_endpoint_groups": SYSTEM_READ,
    "identity:get_endpoint_group": SYSTEM_READ,
    "identity:update_endpoint_group": ADMIN,
    "identity:delete_endpoint_group": ADMIN,
    "identity:list_projects_associated_with_endpoint_group": SYSTEM_READ,
    "identity:list_endpoints_associated_with_endpoint_group": SYSTEM_READ,
    "identity:get_endpoint_group_in_project": SYSTEM_READ,
    "identity:list_endpoint_groups_for_project": SYSTEM_READ,
    "identity:add_endpoint_group_to_project": ADMIN,
    "identity:remove_endpoint_group_from_project": ADMIN,
    "identity:list_projects_for_endpoint": SYSTEM_READ,
    "identity:add_endpoint_to_project": ADMIN,
    "identity:check_endpoint_in_project": SYSTEM_READ,
    "identity:list_endpoints_for_project": SYSTEM_READ,
    "identity:remove_endpoint_from_project": ADMIN,
    # domain-specific configuration (stored and shown; ministack uses no LDAP)
    "identity:create_domain_config": ADMIN,
    "identity:get_domain_config": SYSTEM_READ,
    "identity:update_domain_config": ADMIN,
    "identity:delete_domain_config": ADMIN,
    "identity:get_domain_config_default": SYSTEM_READ,
    "identity:get_security_compliance_domain_config": ANY,
    # OS-OAUTH1 (keystone/common/policies/consumer.py, access_token.py)
    "identity:create_consumer": ADMIN,
    "identity:get_consumer": SYSTEM_READ,
    "identity:list_consumers": SYSTEM_READ,
    "identity:update_consumer": ADMIN,
    "identity:delete_consumer": ADMIN,
    # (keystone/common/policies/access_token.py: admin_required)
    "identity:authorize_request_token": ADMIN,
    "identity:list_access_tokens": ADMIN,
    "identity:get_access_token": ADMIN,
    "identity:delete_access_token": ADMIN,
    "identity:list_access_token_roles": ADMIN,
    "identity:get_access_token_role": ADMIN,
}


def authorize(auth: Auth, action: str, target: Target | None = None) -> None:
    """403 naming `action` unless its default allows the caller on `target`."""
    policy.authorize(RULES, auth, action, target)
