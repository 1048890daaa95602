"""Request bodies of the Networking v2.0 API as JSON Schema, from Neutron's attribute maps
(neutron-lib's api/definitions): which keys a create or update accepts, their types and
formats. Unknown attributes are refused (Neutron: "Unrecognized attribute(s)").

Booleans take JSON true/false or Neutron's string spellings; `coerce` turns them into bools
after validation. Checks across fields (a gateway inside its CIDR, pools, overlaps) are in the
resource modules.
"""

from __future__ import annotations

from typing import Any

from ministack.common import params as p
from ministack.common.params import Schema

BOOL_WORDS = ("True", "False", "true", "false", "1", "0")
boolean: Schema = {"enum": [True, False, *BOOL_WORDS]}
name = p.string(0, 255)
description = p.string(0, 255)
project_id = p.string(0, 255)
uuid = p.uuid
# Neutron's mac_address validator: six hex pairs separated by ':' or '-'
mac: Schema = {
    "type": "string",
    "pattern": "^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$",
}
ip: Schema = {"anyOf": [p.ipv4, p.ipv6]}
device = p.string(0, 255)
tags_list: Schema = p.array(p.string(1, 255), max_items=50)

network_fields: dict[str, Schema] = {
    "name": name,
    "description": description,
    "admin_state_up": boolean,
    "shared": boolean,
    "router:external": boolean,
    "is_default": boolean,
    "mtu": p.strict_integer(0, 65535),
    "port_security_enabled": boolean,
    "dns_domain": p.string(0, 255),
    "availability_zone_hints": p.array(p.string(1, 255)),
    "provider:network_type": p.enum("local", "flat", "vxlan", "vlan", "gre", "geneve"),
    "provider:physical_network": p.nullable(p.string(0, 64)),
    "provider:segmentation_id": p.nullable(p.integer(0, 2**24)),
    "qos_policy_id": {"type": "null"},
}
create_network = p.envelope(
    "network",
    p.obj({**network_fields, "project_id": project_id, "tenant_id": project_id}),
)
update_network = p.envelope("network", p.obj(network_fields))

pool: Schema = p.obj({"start": ip, "end": ip}, required=("start", "end"))
route: Schema = p.obj(
    {"destination": p.string(1, 64), "nexthop": ip}, required=("destination", "nexthop")
)
ipv6_mode = p.nullable(p.enum("slaac", "dhcpv6-stateful", "dhcpv6-stateless"))
subnet_update_fields: dict[str, Schema] = {
    "name": name,
    "description": description,
    "gateway_ip": p.nullable(ip),
    "allocation_pools": p.array(pool),
    "dns_nameservers": p.array(ip),
    "host_routes": p.array(route),
    "enable_dhcp": boolean,
}
subnet_create_fields: dict[str, Schema] = {
    **subnet_update_fields,
    "network_id": uuid,
    "cidr": p.nullable(p.string(1, 64)),
    "ip_version": p.enum(4, 6),
    "ipv6_ra_mode": ipv6_mode,
    "ipv6_address_mode": ipv6_mode,
    "subnetpool_id": p.nullable(uuid),
    "use_default_subnetpool": boolean,
    "prefixlen": p.integer(0, 128),
    "project_id": project_id,
    "tenant_id": project_id,
    "service_types": p.array(p.string(1, 255), max_items=0),
    "segment_id": {"type": "null"},
}
create_subnet = p.envelope(
    "subnet", p.obj(subnet_create_fields, required=("network_id", "ip_version"))
)
update_subnet = p.envelope("subnet", p.obj(subnet_update_fields))

prefixlen = p.integer(0, 128)
subnetpool_update_fields: dict[str, Schema] = {
    "name": p.string(1, 255),
    "description": description,
    "prefixes": p.array(p.string(1, 64)),
    "default_prefixlen": prefixlen,
    "min_prefixlen": prefixlen,
    "max_prefixlen": prefixlen,
    "default_quota": p.nullable(p.integer(0)),
    "is_default": boolean,
    # address scopes are not built: only "none" is accepted
    "address_scope_id": {"type": "null"},
}
subnetpool_create_fields: dict[str, Schema] = {
    **subnetpool_update_fields,
    "shared": boolean,
    "project_id": project_id,
    "tenant_id": project_id,
}
create_subnetpool = p.envelope(
    "subnetpool", p.obj(subnetpool_create_fields, required=("name", "prefixes"))
)
update_subnetpool = p.envelope("subnetpool", p.obj(subnetpool_update_fields))
subnetpool_prefixes = p.obj({"prefixes": p.array(p.string(1, 64))}, required=("prefixes",))

fixed_ip: Schema = p.obj({"subnet_id": uuid, "ip_address": ip}, minProperties=1)
address_pair: Schema = p.obj(
    {"ip_address": p.string(1, 64), "mac_address": mac}, required=("ip_address",)
)
dhcp_opt: Schema = p.obj(
    {
        "opt_name": p.string(1, 64),
        "opt_value": p.nullable(p.string(0, 255)),
        "ip_version": {"enum": [4, 6, "4", "6"]},
    },
    required=("opt_name", "opt_value"),
)
port_update_fields: dict[str, Schema] = {
    "name": name,
    "description": description,
    "admin_state_up": boolean,
    "mac_address": mac,
    "fixed_ips": p.array(fixed_ip),
    "device_id": device,
    "device_owner": device,
    "binding:host_id": p.nullable(p.string(0, 255)),
    "binding:profile": p.nullable({"type": "object"}),
    "binding:vnic_type": p.enum("normal", "direct", "macvtap", "baremetal", "direct-physical"),
    "allowed_address_pairs": p.nullable(p.array(address_pair, max_items=10)),
    "port_security_enabled": boolean,
    "extra_dhcp_opts": p.nullable(p.array(dhcp_opt)),
    "security_groups": p.nullable(p.array(uuid)),
    "dns_name": p.string(0, 255),
    "qos_policy_id": {"type": "null"},
}
create_port = p.envelope(
    "port",
    p.obj(
        {
            **port_update_fields,
            "network_id": uuid,
            "project_id": project_id,
            "tenant_id": project_id,
        },
        required=("network_id",),
    ),
)
update_port = p.envelope("port", p.obj(port_update_fields))

replace_tags = p.obj({"tags": tags_list}, required=("tags",))

security_group_fields: dict[str, Schema] = {
    "name": name,
    "description": description,
    "stateful": boolean,
}
create_security_group = p.envelope(
    "security_group",
    p.obj({**security_group_fields, "project_id": project_id, "tenant_id": project_id}),
)
update_security_group = p.envelope("security_group", p.obj(security_group_fields))
create_security_group_rule = p.envelope(
    "security_group_rule",
    p.obj(
        {
            "security_group_id": uuid,
            "direction": p.enum("ingress", "egress"),
            "ethertype": p.enum("IPv4", "IPv6"),
            "protocol": p.nullable({"anyOf": [p.string(1, 40), {"type": "integer"}]}),
            "port_range_min": p.nullable(p.integer(0, 65535)),
            "port_range_max": p.nullable(p.integer(0, 65535)),
            "remote_ip_prefix": p.nullable(p.string(1, 64)),
            "remote_group_id": p.nullable(uuid),
            "remote_address_group_id": {"type": "null"},
            "description": description,
            "project_id": project_id,
            "tenant_id": project_id,
        },
        required=("security_group_id", "direction"),
    ),
)

gateway_info: Schema = p.nullable(
    p.obj(
        {
            "network_id": uuid,
            "enable_snat": boolean,
            "external_fixed_ips": p.array(fixed_ip),
        },
        required=("network_id",),
    )
)
router_fields: dict[str, Schema] = {
    "name": name,
    "description": description,
    "admin_state_up": boolean,
    "external_gateway_info": gateway_info,
    "distributed": boolean,
    "ha": boolean,
    "routes": p.array(route),
}
create_router = p.envelope(
    "router", p.obj({**router_fields, "project_id": project_id, "tenant_id": project_id})
)
update_router = p.envelope("router", p.obj(router_fields))
router_interface = p.obj({"subnet_id": uuid, "port_id": uuid}, minProperties=1, maxProperties=1)

floatingip_fields: dict[str, Schema] = {
    "port_id": p.nullable(uuid),
    "fixed_ip_address": p.nullable(ip),
    "description": description,
}
create_floatingip = p.envelope(
    "floatingip",
    p.obj(
        {
            **floatingip_fields,
            "floating_network_id": uuid,
            "floating_ip_address": ip,
            "subnet_id": p.nullable(uuid),
            "dns_name": p.string(0, 255),
            "dns_domain": p.string(0, 255),
            "project_id": project_id,
            "tenant_id": project_id,
        },
        required=("floating_network_id",),
    ),
)
update_floatingip = p.envelope("floatingip", p.obj(floatingip_fields))

port_forwarding_fields: dict[str, Schema] = {
    "internal_port_id": uuid,
    "internal_ip_address": p.ipv4,
    "internal_port": p.strict_integer(1, 65535),
    "external_port": p.strict_integer(1, 65535),
    "protocol": {"enum": ["tcp", "udp", "udplite", "sctp", "dccp"]},
    "description": description,
}
create_port_forwarding = p.envelope(
    "port_forwarding",
    p.obj(
        {**port_forwarding_fields, "project_id": project_id, "tenant_id": project_id},
        required=(
            "internal_port_id",
            "internal_ip_address",
            "internal_port",
            "external_port",
            "protocol",
        ),
    ),
)
update_port_forwarding = p.envelope("port_forwarding", p.obj(port_forwarding_fields))

quota_fields: dict[str, Schema] = {
    r: p.integer(-1)
    for r in (
        "network",
        "subnet",
        "subnetpool",
        "port",
        "router",
        "floatingip",
        "security_group",
        "security_group_rule",
    )
}
update_quota = p.envelope(
    "quota", p.obj({**quota_fields, "force": boolean, "check_limit": boolean})
)
update_agent = p.envelope(
    "agent", p.obj({"admin_state_up": boolean, "description": p.nullable(description)})
)


def coerce(body: dict[str, Any], schema_fields: dict[str, Schema]) -> dict[str, Any]:
    """Neutron's string booleans as bools (after validation)."""
    out = dict(body)
    for key, value in body.items():
        if schema_fields.get(key) is boolean and isinstance(value, str):
            out[key] = value.lower() in ("true", "1")
    return out
