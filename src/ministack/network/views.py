"""Rows to Neutron's response bodies, attribute for attribute.

Where it sits: the last step of every handler. Attributes only an admin may read under
Neutron's default policy (provider attributes of networks, port binding details) are left out
for other callers, as Neutron's policy engine strips them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ministack.network import models as m


def when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def standard(row: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "description": row.description,
        "tags": sorted(tags),
        "created_at": when(row.created_at),
        "updated_at": when(row.updated_at),
        "revision_number": row.revision_number,
    }


def owner(row: Any) -> dict[str, str]:
    return {"tenant_id": row.project_id, "project_id": row.project_id}


def network(
    row: m.Network, subnets: list[str], tags: list[str], admin: bool, az: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        **owner(row),
        "admin_state_up": row.admin_state_up,
        "mtu": row.mtu,
        "status": row.status,
        "subnets": sorted(subnets),
        "shared": row.shared,
        "availability_zone_hints": orjson.loads(row.availability_zone_hints),
        "availability_zones": [az],
        "router:external": row.external,
        "port_security_enabled": row.port_security_enabled,
        "is_default": row.is_default,
        **standard(row, tags),
    }
    if admin:
        body["provider:network_type"] = row.network_type
        body["provider:physical_network"] = row.physical_network or None
        body["provider:segmentation_id"] = row.segmentation_id
    return body


def subnet(row: m.Subnet, tags: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        **owner(row),
        "network_id": row.network_id,
        "ip_version": row.ip_version,
        "subnetpool_id": row.subnetpool_id,
        "enable_dhcp": row.enable_dhcp,
        "ipv6_ra_mode": row.ipv6_ra_mode,
        "ipv6_address_mode": row.ipv6_address_mode,
        "gateway_ip": row.gateway_ip,
        "cidr": row.cidr,
        "allocation_pools": orjson.loads(row.allocation_pools),
        "host_routes": orjson.loads(row.host_routes),
        "dns_nameservers": orjson.loads(row.dns_nameservers),
        **standard(row, tags),
    }


def subnetpool(row: m.SubnetPool, tags: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        **owner(row),
        "prefixes": orjson.loads(row.prefixes),
        "ip_version": row.ip_version,
        "default_prefixlen": row.default_prefixlen,
        "min_prefixlen": row.min_prefixlen,
        "max_prefixlen": row.max_prefixlen,
        "default_quota": row.default_quota,
        "shared": row.shared,
        "is_default": row.is_default,
        "address_scope_id": row.address_scope_id,
        **standard(row, tags),
    }


def port(
    row: m.Port,
    fixed_ips: list[dict[str, str]],
    groups: list[str],
    tags: list[str],
    admin: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "network_id": row.network_id,
        **owner(row),
        "mac_address": row.mac_address,
        "admin_state_up": row.admin_state_up,
        "status": row.status,
        "device_id": row.device_id,
        "device_owner": row.device_owner,
        "fixed_ips": fixed_ips,
        "allowed_address_pairs": orjson.loads(row.allowed_address_pairs),
        "extra_dhcp_opts": orjson.loads(row.extra_dhcp_opts),
        "security_groups": sorted(groups),
        "port_security_enabled": row.port_security_enabled,
        "binding:vnic_type": row.vnic_type,
        **standard(row, tags),
    }
    if admin:
        body["binding:host_id"] = row.host
        body["binding:profile"] = orjson.loads(row.binding_profile)
        body["binding:vif_type"] = row.vif_type
        body["binding:vif_details"] = orjson.loads(row.vif_details)
    return body
