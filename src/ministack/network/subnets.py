"""Subnets: create (CIDR, gateway, pools, DNS servers, host routes checked against each other
and against the network's other subnets), show, list, update, delete.

Where it sits: called by `api/subnets.py`; address arithmetic is `ipam.py`; casts
`network_changed` after a commit so the DHCP agent picks up the change.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import orjson
from sqlalchemy import delete as sql_delete
from sqlalchemy import or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import ipam, policies, quotas, subnet_alloc, views
from ministack.network import models as m
from ministack.network import networks as nets
from ministack.network.core import Core, drop_tags, if_match, not_found, tags_of, touch
from ministack.network.listing import Kind

MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
SLAAC_MODES = ("slaac", "dhcpv6-stateless")

KIND = Kind(
    model=m.Subnet,
    collection="subnets",
    filters={
        "id": m.Subnet.id,
        "name": m.Subnet.name,
        "description": m.Subnet.description,
        "network_id": m.Subnet.network_id,
        "ip_version": m.Subnet.ip_version,
        "cidr": m.Subnet.cidr,
        "gateway_ip": m.Subnet.gateway_ip,
        "enable_dhcp": m.Subnet.enable_dhcp,
        "ipv6_ra_mode": m.Subnet.ipv6_ra_mode,
        "ipv6_address_mode": m.Subnet.ipv6_address_mode,
        "revision_number": m.Subnet.revision_number,
        "subnetpool_id": m.Subnet.subnetpool_id,
    },
    sorts={
        "id": m.Subnet.id,
        "name": m.Subnet.name,
        "cidr": m.Subnet.cidr,
        "ip_version": m.Subnet.ip_version,
        "network_id": m.Subnet.network_id,
        "created_at": m.Subnet.created_at,
        "updated_at": m.Subnet.updated_at,
        "project_id": m.Subnet.project_id,
        "tenant_id": m.Subnet.project_id,
        "revision_number": m.Subnet.revision_number,
    },
    bools=frozenset({"enable_dhcp"}),
    ints=frozenset({"ip_version", "revision_number"}),
)


def visible_clause(auth: Auth) -> Any:
    """Subnets the caller may see: its own and those on shared networks (all for admins)."""
    if auth.reads_all:
        return true()
    shared = select(m.Network.id).where(m.Network.shared.is_(True))
    return or_(m.Subnet.project_id == (auth.project_id or ""), m.Subnet.network_id.in_(shared))


async def visible(s: AsyncSession, auth: Auth, subnet_id: str) -> m.Subnet:
    query = select(m.Subnet).where(m.Subnet.id == subnet_id, visible_clause(auth))
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("Subnet", subnet_id)
    return row


async def render(s: AsyncSession, rows: list[m.Subnet]) -> list[dict[str, Any]]:
    tags = await tags_of(s, [r.id for r in rows])
    return [views.subnet(r, tags.get(r.id, [])) for r in rows]


def _asked_cidr(body: dict[str, Any]) -> ipam.Net | None:
    """The body's cidr (None when a pool is to choose it), in its version."""
    if body.get("cidr") is None:
        return None
    net = ipam.parse_cidr(body["cidr"])
    if ipaddress.ip_interface(body["cidr"]).ip != net.network_address:
        raise errors.BadRequest(
            f"Invalid input for cidr. Reason: '{body['cidr']}' isn't a recommended CIDR, "
            f"use '{net}' instead."
        )
    version = int(body["ip_version"])
    if net.version != version:
        raise errors.BadRequest(
            f"Invalid input for cidr. Reason: cidr {body['cidr']} is not an IPv{version} "
            f"network (ip_version {version})."
        )
    return net


def _cidr(net: ipam.Net) -> ipam.Net:
    if net.version == 4 and net.prefixlen > 30:
        raise errors.BadRequest(
            f"Invalid input for cidr. Reason: prefix length of {net} is too long (at most /30)."
        )
    return net


def _gateway(net: ipam.Net, body: dict[str, Any]) -> ipam.Addr | None:
    if "gateway_ip" not in body:
        return ipam.default_gateway(net)
    raw = body["gateway_ip"]
    if raw is None:
        return None
    gateway = ipam.parse_ip(raw, "gateway_ip")
    bad = gateway not in net or gateway == net.network_address
    if net.version == 4 and gateway == net.broadcast_address:
        bad = True
    if bad:
        raise errors.BadRequest(
            f"Invalid input for gateway_ip. Reason: gateway {raw} is not a valid address of "
            f"subnet {net}."
        )
    return gateway


def _dns(net: ipam.Net, servers: list[str]) -> list[str]:
    if len(servers) > MAX_DNS_NAMESERVERS:
        raise errors.BadRequest(
            f"Number of DNS nameservers exceeds the limit {MAX_DNS_NAMESERVERS}.",
            kind="DNSNameServersExhausted",
        )
    if len(set(servers)) != len(servers):
        raise errors.BadRequest("Invalid input for dns_nameservers. Reason: duplicate entry.")
    for server in servers:
        ipam.parse_ip(server, "dns_nameservers")
    return servers


def _routes(net: ipam.Net, routes: list[dict[str, str]]) -> list[dict[str, str]]:
    if len(routes) > MAX_HOST_ROUTES:
        raise errors.BadRequest(
            f"Number of host routes exceeds the limit {MAX_HOST_ROUTES}.",
            kind="HostRoutesExhausted",
        )
    out = []
    for route in routes:
        dest = ipam.parse_cidr(route["destination"], "host_routes")
        hop = ipam.parse_ip(route["nexthop"], "host_routes")
        if dest.version != net.version or hop.version != net.version:
            raise errors.BadRequest(
                f"Invalid input for host_routes. Reason: route {route} is not IPv{net.version}."
            )
        out.append({"destination": str(dest), "nexthop": str(hop)})
    if len({(r["destination"], r["nexthop"]) for r in out}) != len(out):
        raise errors.BadRequest("Invalid input for host_routes. Reason: duplicate entry.")
    return out


def _pools(net: ipam.Net, body: dict[str, Any], gateway: ipam.Addr | None) -> list[ipam.Pool]:
    if not body.get("allocation_pools"):
        return ipam.default_pools(net, gateway)
    pools = ipam.pools_from(body["allocation_pools"])
    ipam.check_pools(net, pools, gateway)
    return pools


def _ipv6_modes(net: ipam.Net, body: dict[str, Any]) -> None:
    ra, mode = body.get("ipv6_ra_mode"), body.get("ipv6_address_mode")
    if net.version == 4 and (ra or mode):
        raise errors.BadRequest(
            "Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot be set "
            "when enable_dhcp is set to False or ip_version is 4."
        )
    if ra and mode and ra != mode:
        raise errors.BadRequest(
            f"Invalid input for operation: ipv6_ra_mode set to '{ra}' with ipv6_address_mode "
            f"set to '{mode}' is not valid. If both attributes are set, they must be the same."
        )
    if mode in SLAAC_MODES and net.prefixlen != 64:
        raise errors.BadRequest(
            f"Invalid input for operation: Invalid CIDR {net} for IPv6 address mode. "
            "OpenStack uses the EUI-64 address format, which requires the prefix to be /64."
        )


async def _no_overlap(s: AsyncSession, network_id: str, net: ipam.Net, skip: str = "") -> None:
    others = (
        (await s.execute(select(m.Subnet).where(m.Subnet.network_id == network_id))).scalars().all()
    )
    clash = ipam.overlapping(net, [o for o in others if o.id != skip])
    if clash is not None:
        raise errors.BadRequest(
            f"Invalid input for operation: Requested subnet with cidr: {net} for network: "
            f"{network_id} overlaps with another subnet ({clash})."
        )


def _checked(net: ipam.Net, body: dict[str, Any]) -> dict[str, Any]:
    """The subnet's columns that follow from its CIDR and the body, each checked (400)."""
    _cidr(net)
    gateway = _gateway(net, body)
    pools = _pools(net, body, gateway)
    dns = _dns(net, body.get("dns_nameservers", []))
    routes = _routes(net, body.get("host_routes", []))
    _ipv6_modes(net, body)
    return {
        "ip_version": net.version,
        "cidr": str(net),
        "gateway_ip": str(gateway) if gateway is not None else None,
        "dns_nameservers": orjson.dumps(dns).decode(),
        "host_routes": orjson.dumps(routes).decode(),
        "allocation_pools": orjson.dumps([p.as_dict() for p in pools]).decode(),
    }


async def create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    """Create a subnet from its cidr or carved from a subnet pool (`subnet_alloc.py`); on
    any 400/404/409 nothing is made."""
    asked = _asked_cidr(body)
    req = subnet_alloc.request_of(body, asked)
    if asked is not None:
        _checked(asked, body)  # refuse bad input before taking any lock
    now = utcnow()
    async with core.db.writer() as s:
        network = await nets.visible(s, auth, body["network_id"])
        policies.authorize(auth, "create_subnet", network.project_id)
        project = body.get("project_id") or body.get("tenant_id") or network.project_id
        if project != network.project_id and not auth.is_admin:
            project = auth.project_id or project
        await quotas.claim(s, core.db, core.settings, project, "subnet")
        pool = await subnet_alloc.pool_of(s, auth, req)
        await subnet_alloc.check_affinity(s, network.id, req.ip_version, pool)
        net = asked if pool is None else await subnet_alloc.carve(s, pool, req, project)
        assert net is not None  # request_of refuses a plain subnet without a cidr
        columns = _checked(net, body)
        await _no_overlap(s, network.id, net)
        row = m.Subnet(
            id=str(uuid.uuid4()),
            project_id=project,
            network_id=network.id,
            subnetpool_id=pool.id if pool is not None else None,
            name=body.get("name", ""),
            description=body.get("description", ""),
            enable_dhcp=body.get("enable_dhcp", True),
            ipv6_ra_mode=body.get("ipv6_ra_mode"),
            ipv6_address_mode=body.get("ipv6_address_mode"),
            **columns,
            revision_number=0,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        touch(network)
        await s.flush()
        out = (await render(s, [row]))[0]
    await core.agents.network_changed(row.network_id)
    return out


async def show(core: Core, auth: Auth, subnet_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        row = await visible(s, auth, subnet_id)
        return (await render(s, [row]))[0]


async def update(
    core: Core, auth: Auth, subnet_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        row = await visible(s, auth, subnet_id)
        network = await s.get(m.Network, row.network_id)
        policies.authorize(auth, "update_subnet", network.project_id if network else None)
        if_match(match, row)
        net = ipaddress.ip_network(row.cidr)
        if "gateway_ip" in body:
            gateway = _gateway(net, body)
            row.gateway_ip = str(gateway) if gateway is not None else None
        current_gw = ipaddress.ip_address(row.gateway_ip) if row.gateway_ip else None
        if "allocation_pools" in body:
            pools = _pools(net, body, current_gw)
            row.allocation_pools = orjson.dumps([p.as_dict() for p in pools]).decode()
        elif "gateway_ip" in body:
            ipam.check_pools(net, ipam.subnet_pools(row), current_gw)
        if "dns_nameservers" in body:
            row.dns_nameservers = orjson.dumps(_dns(net, body["dns_nameservers"])).decode()
        if "host_routes" in body:
            row.host_routes = orjson.dumps(_routes(net, body["host_routes"])).decode()
        for key in ("name", "description", "enable_dhcp"):
            if key in body:
                setattr(row, key, body[key])
        touch(row)
        out = (await render(s, [row]))[0]
    await core.agents.network_changed(row.network_id)
    return out


async def delete(core: Core, auth: Auth, subnet_id: str, match: str | None) -> None:
    """Delete a subnet; 409 SubnetInUse while a port other than DHCP's has an address in it."""
    async with core.db.writer() as s:
        row = await visible(s, auth, subnet_id)
        network = await s.get(m.Network, row.network_id)
        policies.authorize(auth, "delete_subnet", network.project_id if network else None)
        if_match(match, row)
        users = await s.execute(
            select(m.Port.device_owner)
            .join(m.IPAllocation, m.IPAllocation.port_id == m.Port.id)
            .where(m.IPAllocation.subnet_id == subnet_id)
        )
        if any(owner != "network:dhcp" for owner in users.scalars()):
            raise errors.Conflict(
                f"Unable to complete operation on subnet {subnet_id}: One or more ports have "
                "an IP allocation from this subnet.",
                kind="SubnetInUse",
            )
        await s.execute(sql_delete(m.IPAllocation).where(m.IPAllocation.subnet_id == subnet_id))
        await s.delete(row)
        await drop_tags(s, [subnet_id])
        if network is not None:
            touch(network)
    await core.agents.network_changed(row.network_id)
