"""Domain-specific configuration: the groups and options Keystone lets a domain override
(``identity`` and ``ldap``), with Keystone's defaults for the ``/v3/domains/config/default``
views.

ministack stores and returns these settings but does not act on them: every domain's users
live in the SQL backend, and no LDAP server is ever contacted. The LDAP bind ``password`` is
sensitive: kept encrypted at rest (the credential key) and never returned.
"""

from __future__ import annotations

from typing import Any, Final

from ministack.common import errors

# Keystone's whitelisted options and their defaults (keystone.conf [identity] and [ldap])
DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost",
        "user": None,
        "suffix": "cn=example,cn=com",
        "query_scope": "one",
        "page_size": 0,
        "alias_dereferencing": "default",
        "debug_level": None,
        "chase_referrals": None,
        "user_tree_dn": None,
        "user_filter": None,
        "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn",
        "user_name_attribute": "sn",
        "user_description_attribute": "description",
        "user_mail_attribute": "mail",
        "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled",
        "user_enabled_invert": False,
        "user_enabled_mask": 0,
        "user_enabled_default": "True",
        "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None,
        "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None,
        "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [],
        "group_tree_dn": None,
        "group_filter": None,
        "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn",
        "group_name_attribute": "ou",
        "group_member_attribute": "member",
        "group_members_are_ids": False,
        "group_desc_attribute": "description",
        "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [],
        "group_ad_nesting": False,
        "tls_cacertfile": None,
        "tls_cacertdir": None,
        "use_tls": False,
        "tls_req_cert": "demand",
        "connection_timeout": -1,
        "use_pool": True,
        "pool_size": 10,
        "pool_retry_max": 3,
        "pool_retry_delay": 0.1,
        "pool_connection_timeout": -1,
        "pool_connection_lifetime": 600,
        "use_auth_pool": True,
        "auth_pool_size": 100,
        "auth_pool_connection_lifetime": 60,
        "randomize_urls": False,
    },
}
SENSITIVE: Final[dict[str, frozenset[str]]] = {
    "identity": frozenset(),
    "ldap": frozenset({"password"}),
}


def invalid(reason: str) -> errors.Forbidden:
    """Keystone's InvalidDomainConfig is a 403."""
    return errors.Forbidden(f"Invalid domain specific configuration: {reason}")


def check_group(group: str) -> None:
    if group not in DEFAULTS:
        raise invalid(f"group {group} is not supported.")


def check_option(group: str, option: str) -> None:
    check_group(group)
    if option not in DEFAULTS[group] and option not in SENSITIVE[group]:
        raise invalid(f"option {option} in group {group} is not supported.")


def check_config(config: dict[str, Any]) -> None:
    """403 for an empty configuration, a group or an option Keystone does not allow."""
    if not config:
        raise invalid("the configuration is empty.")
    for group, options in config.items():
        check_group(group)
        if not isinstance(options, dict) or not options:
            raise invalid(f"group {group} must hold at least one option.")
        for option in options:
            check_option(group, option)


def merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`stored` with each option of `update` replaced or added."""
    merged = {group: dict(options) for group, options in stored.items()}
    for group, options in update.items():
        merged.setdefault(group, {}).update(options)
    return merged


def split(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the options shown, the sensitive ones)."""
    shown: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for group, options in config.items():
        for option, value in options.items():
            where = secret if option in SENSITIVE[group] else shown
            where.setdefault(group, {})[option] = value
    return shown, secret
