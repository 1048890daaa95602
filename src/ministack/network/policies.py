"""The network service's policy defaults: rule name → check string, as Neutron's defaults
(neutron/conf/policies/*.py, the 2023 "secure RBAC" set) mapped onto personas
(common/policy.py).

Visibility (a shared or external network, a network owner's view of the ports on it) is
decided by the query that finds the row (404 when not visible, as Neutron); the role part is
here, checked on the project named by the target. Attribute rules (`create_network:shared`,
`create_port:binding:host_id`...) are checked only when the request sets that attribute.
"""

from __future__ import annotations

from typing import Final

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.common.policy import ADMIN, PROJECT_MEMBER_OR_ADMIN, PROJECT_READER_OR_ADMIN

SERVICE_OR_ADMIN = "admin | service"

RULES: Final[dict[str, str]] = {
    # networks
    "create_network": PROJECT_MEMBER_OR_ADMIN,
    "create_network:shared": ADMIN,
    "create_network:router:external": ADMIN,
    "create_network:is_default": ADMIN,
    "create_network:provider": ADMIN,
    "get_network": PROJECT_READER_OR_ADMIN,
    "update_network": PROJECT_MEMBER_OR_ADMIN,
    "update_network:shared": ADMIN,
    "update_network:router:external": ADMIN,
    "update_network:is_default": ADMIN,
    "update_network:provider": ADMIN,
    "delete_network": PROJECT_MEMBER_OR_ADMIN,
    # subnets: the network's owner (target: the network's project)
    "create_subnet": PROJECT_MEMBER_OR_ADMIN,
    "get_subnet": PROJECT_READER_OR_ADMIN,
    "update_subnet": PROJECT_MEMBER_OR_ADMIN,
    "delete_subnet": PROJECT_MEMBER_OR_ADMIN,
    # subnet pools: shared ones are visible to every project (the query), only admins share
    # a pool or make it the default
    "create_subnetpool": PROJECT_MEMBER_OR_ADMIN,
    "create_subnetpool:shared": ADMIN,
    "create_subnetpool:is_default": ADMIN,
    "get_subnetpool": PROJECT_READER_OR_ADMIN,
    "update_subnetpool": PROJECT_MEMBER_OR_ADMIN,
    "update_subnetpool:is_default": ADMIN,
    "delete_subnetpool": PROJECT_MEMBER_OR_ADMIN,
    "add_prefixes": PROJECT_MEMBER_OR_ADMIN,
    "remove_prefixes": PROJECT_MEMBER_OR_ADMIN,
    # ports
    "create_port": PROJECT_MEMBER_OR_ADMIN,
    # target: the network's project (network owner)
    "create_port:device_owner": PROJECT_MEMBER_OR_ADMIN,
    "create_port:mac_address": PROJECT_MEMBER_OR_ADMIN,
    "create_port:fixed_ips:ip_address": PROJECT_MEMBER_OR_ADMIN,
    "create_port:port_security_enabled": PROJECT_MEMBER_OR_ADMIN,
    "create_port:allowed_address_pairs": PROJECT_MEMBER_OR_ADMIN,
    "create_port:binding:host_id": ADMIN,
    "create_port:binding:profile": SERVICE_OR_ADMIN,
    "get_port": PROJECT_READER_OR_ADMIN,
    "update_port": PROJECT_MEMBER_OR_ADMIN,
    "update_port:device_owner": PROJECT_MEMBER_OR_ADMIN,
    "update_port:mac_address": ADMIN,
    "update_port:fixed_ips:ip_address": PROJECT_MEMBER_OR_ADMIN,
    "update_port:port_security_enabled": PROJECT_MEMBER_OR_ADMIN,
    "update_port:allowed_address_pairs": PROJECT_MEMBER_OR_ADMIN,
    "update_port:binding:host_id": ADMIN,
    "update_port:binding:profile": SERVICE_OR_ADMIN,
    "delete_port": PROJECT_MEMBER_OR_ADMIN,
    # tags follow the resource's update rule; reading them its get rule
    # security groups and rules
    "create_security_group": PROJECT_MEMBER_OR_ADMIN,
    "get_security_group": PROJECT_READER_OR_ADMIN,
    "update_security_group": PROJECT_MEMBER_OR_ADMIN,
    "delete_security_group": PROJECT_MEMBER_OR_ADMIN,
    "create_security_group_rule": PROJECT_MEMBER_OR_ADMIN,
    "get_security_group_rule": PROJECT_READER_OR_ADMIN,
    "delete_security_group_rule": PROJECT_MEMBER_OR_ADMIN,
    # routers
    "create_router": PROJECT_MEMBER_OR_ADMIN,
    "create_router:external_gateway_info:enable_snat": ADMIN,
    "create_router:external_gateway_info:external_fixed_ips": ADMIN,
    "create_router:distributed": ADMIN,
    "create_router:ha": ADMIN,
    "get_router": PROJECT_READER_OR_ADMIN,
    "update_router": PROJECT_MEMBER_OR_ADMIN,
    "delete_router": PROJECT_MEMBER_OR_ADMIN,
    "add_router_interface": PROJECT_MEMBER_OR_ADMIN,
    "remove_router_interface": PROJECT_MEMBER_OR_ADMIN,
    # floating IPs
    "create_floatingip": PROJECT_MEMBER_OR_ADMIN,
    "create_floatingip:floating_ip_address": ADMIN,
    "get_floatingip": PROJECT_READER_OR_ADMIN,
    "update_floatingip": PROJECT_MEMBER_OR_ADMIN,
    "delete_floatingip": PROJECT_MEMBER_OR_ADMIN,
    "create_floatingip_port_forwarding": PROJECT_MEMBER_OR_ADMIN,
    "get_floatingip_port_forwarding": PROJECT_READER_OR_ADMIN,
    "update_floatingip_port_forwarding": PROJECT_MEMBER_OR_ADMIN,
    "delete_floatingip_port_forwarding": PROJECT_MEMBER_OR_ADMIN,
    # quotas, agents, availability
    "get_quota": PROJECT_READER_OR_ADMIN,
    "update_quota": ADMIN,
    "delete_quota": ADMIN,
    "get_agent": ADMIN,
    "update_agent": ADMIN,
    "delete_agent": ADMIN,
    "get_network_ip_availability": ADMIN,
    "get_availability_zone": PROJECT_READER_OR_ADMIN,
}


def authorize(auth: Auth, action: str, project_id: str | None) -> None:
    """403 naming the action unless its default allows the caller on `project_id`."""
    policy.enforce(auth, action, RULES[action], {"project_id": project_id})


def allowed(auth: Auth, action: str, project_id: str | None) -> bool:
    return policy.check(auth, RULES[action], {"project_id": project_id})
