"""The database → the desired state of one host: network, subnet, port and allocation rows
become `NetworkSpec`s, and the Linux bridge agents' reports give each host's VTEP.

Where it sits: `NetworkAgent.sync*` calls `DatabaseSource.host_networks` before each pass. A
host that serves DHCP (`[network_agent] dhcp`) takes every network with an IPv4 subnet with
DHCP, and makes the network's DHCP port bound to it (device_owner network:dhcp) when it has
none yet, as Neutron's DHCP agent does; other hosts take the networks they have ports on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import ColumnElement, or_, select

from ministack.common import errors
from ministack.compute.client import ComputeClient
from ministack.network import models as m
from ministack.network import ports
from ministack.network.agent.derive import host_view
from ministack.network.agent.desired import (
    DHCP_OWNER,
    RA_MODES,
    GroupSpec,
    HostNetworks,
    NetworkSpec,
    PortSpec,
    RouterLeg,
    RouterSpec,
    RuleSpec,
    SubnetSpec,
)
from ministack.network.agents import LINUX_BRIDGE
from ministack.network.core import Core, trusted

log = logging.getLogger("ministack.network.agent")

DEFAULT_DOMAIN = "openstacklocal"
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway")


def _json(text: str | None, default: Any) -> Any:
    try:
        return orjson.loads(text) if text else default
    except orjson.JSONDecodeError:
        return default


def subnet_spec(row: m.Subnet) -> SubnetSpec:
    routes = _json(row.host_routes, [])
    return SubnetSpec(
        subnet_id=row.id,
        cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        dns_nameservers=tuple(_json(row.dns_nameservers, [])),
        host_routes=tuple((r["destination"], r["nexthop"]) for r in routes),
        enable_dhcp=row.enable_dhcp,
        ipv6_ra_mode=row.ipv6_ra_mode,
        ipv6_address_mode=row.ipv6_address_mode,
    )


def port_spec(
    row: m.Port,
    ips: list[tuple[str, str]],
    hostnames: dict[str, str],
    groups: tuple[str, ...] = (),
) -> PortSpec:
    pairs = _json(row.allowed_address_pairs, [])
    return PortSpec(
        port_id=row.id,
        mac=row.mac_address,
        fixed_ips=tuple(sorted(ips)),
        hostname=row.dns_name or hostnames.get(row.device_id, ""),
        device_id=row.device_id,
        device_owner=row.device_owner,
        host=row.host or None,
        port_security=row.port_security_enabled,
        security_groups=groups,
        allowed_pairs=tuple(
            (p["ip_address"], p.get("mac_address") or row.mac_address) for p in pairs
        ),
        dhcp_opts=tuple(
            (int(o.get("ip_version", 4)), str(o["opt_name"]), str(o["opt_value"]))
            for o in _json(row.extra_dhcp_opts, [])
            if o.get("opt_value") is not None
        ),
    )


def rule_spec(row: m.SecurityGroupRule) -> RuleSpec:
    return RuleSpec(
        direction=row.direction,
        ethertype=row.ethertype,
        protocol=row.protocol,
        port_range_min=row.port_range_min,
        port_range_max=row.port_range_max,
        remote_ip_prefix=row.remote_ip_prefix,
        remote_group_id=row.remote_group_id,
    )


def _leg(found: tuple[NetworkSpec, PortSpec] | None) -> RouterLeg | None:
    """A router port's leg: its first IPv4 address with its subnet's prefix."""
    if found is None:
        return None
    net, port = found
    cidrs = {x.subnet_id: x.cidr for x in net.subnets if x.ip_version == 4}
    for subnet_id, ip in port.fixed_ips:
        if subnet_id in cidrs:
            plen = cidrs[subnet_id].split("/")[1]
            return RouterLeg(port.port_id, port.mac, net.network_id, f"{ip}/{plen}")
    return None


class DatabaseSource:
    """`DesiredSource` over the network tables (the agent shares the service's database)."""

    def __init__(self, core: Core, compute: ComputeClient, *, dhcp: bool) -> None:
        self.core = core
        self.compute = compute
        self.dhcp = dhcp

    async def host_networks(self, host: str) -> HostNetworks:
        networks, vteps = await self._read(host)
        if self.dhcp and await self._ensure_dhcp_ports(host, networks):
            networks, vteps = await self._read(host)
        view = host_view(host, networks, vteps)
        if self.dhcp:
            view = dataclasses.replace(view, routers=await self._routers(view))
        return await self._with_groups(view)

    async def _routers(self, view: HostNetworks) -> tuple[RouterSpec, ...]:
        """The routers a network node (the DHCP host) runs: every router with a port."""
        ports = {p.port_id: (n, p) for n in view.networks for p in n.ports}
        async with self.core.db.session() as s:
            routers = list((await s.execute(select(m.Router))).scalars())
            router_ports = list((await s.execute(select(m.RouterPort))).scalars())
            fips = list(
                (
                    await s.execute(
                        select(m.FloatingIP).where(
                            m.FloatingIP.router_id.is_not(None),
                            m.FloatingIP.fixed_ip_address.is_not(None),
                        )
                    )
                ).scalars()
            )
            forwards = (
                await s.execute(
                    select(
                        m.FloatingIP.router_id,
                        m.FloatingIP.floating_ip_address,
                        m.PortForwarding.protocol,
                        m.PortForwarding.external_port,
                        m.PortForwarding.internal_ip_address,
                        m.PortForwarding.internal_port,
                    ).join(m.FloatingIP, m.FloatingIP.id == m.PortForwarding.floatingip_id)
                )
            ).all()
        out = []
        for row in routers:
            legs = [
                leg
                for rp in router_ports
                if rp.router_id == row.id and rp.port_type == ROUTER_OWNERS[0]
                if (leg := _leg(ports.get(rp.port_id))) is not None
            ]
            gateway = _leg(ports.get(row.gw_port_id or ""))
            if not legs and gateway is None:
                continue
            gateway_ip = None
            if gateway is not None:
                net, port = ports[gateway.port_id]
                subnet_ids = {sid for sid, _ in port.fixed_ips}
                gateway_ip = next(
                    (x.gateway_ip for x in net.subnets if x.subnet_id in subnet_ids), None
                )
            routes = tuple((r["destination"], r["nexthop"]) for r in _json(row.routes, []))
            floating = tuple(
                sorted(
                    (f.floating_ip_address, f.fixed_ip_address or "")
                    for f in fips
                    if f.router_id == row.id
                )
            )
            out.append(
                RouterSpec(
                    row.id,
                    tuple(sorted(legs, key=lambda x: x.port_id)),
                    gateway,
                    gateway_ip,
                    row.enable_snat,
                    routes,
                    floating if gateway is not None else (),
                    tuple(
                        sorted((f[1], f[2], f[3], f[4], f[5]) for f in forwards if f[0] == row.id)
                    )
                    if gateway is not None
                    else (),
                )
            )
        return tuple(sorted(out, key=lambda r: r.router_id))

    async def _with_groups(self, view: HostNetworks) -> HostNetworks:
        """Add the security groups of the host's filtered ports, and the members of every
        group their rules name as remote group."""
        wanted = {
            g
            for net in view.networks
            for p in view.local_ports(net)
            if p.port_security
            for g in p.security_groups
        }
        if not wanted:
            return view
        async with self.core.db.session() as s:
            rules = list(
                (
                    await s.execute(
                        select(m.SecurityGroupRule).where(
                            m.SecurityGroupRule.security_group_id.in_(wanted)
                        )
                    )
                ).scalars()
            )
            remote = {r.remote_group_id for r in rules if r.remote_group_id}
            members = (
                await s.execute(
                    select(m.PortSecurityGroup.security_group_id, m.IPAllocation.ip_address)
                    .join(m.IPAllocation, m.IPAllocation.port_id == m.PortSecurityGroup.port_id)
                    .where(m.PortSecurityGroup.security_group_id.in_(remote))
                )
            ).all()
        by_group: dict[str, list[RuleSpec]] = defaultdict(list)
        for row in rules:
            by_group[row.security_group_id].append(rule_spec(row))
        ips: dict[str, set[str]] = defaultdict(set)
        for group_id, address in members:
            ips[group_id].add(address)
        return dataclasses.replace(
            view,
            groups={g: GroupSpec(g, tuple(by_group[g])) for g in sorted(wanted)},
            members={g: tuple(sorted(ips[g])) for g in sorted(remote)},
        )

    async def _read(self, host: str) -> tuple[list[NetworkSpec], dict[str, str]]:
        mine = select(m.Port.network_id).where(m.Port.host == host)
        wanted: ColumnElement[bool] = m.Network.id.in_(mine)
        if self.dhcp:
            with_dhcp = select(m.Subnet.network_id).where(
                m.Subnet.enable_dhcp.is_(True),
                or_(m.Subnet.ip_version == 4, m.Subnet.ipv6_ra_mode.in_(RA_MODES)),
            )
            routed = select(m.Port.network_id).where(m.Port.device_owner.in_(ROUTER_OWNERS))
            wanted = or_(wanted, m.Network.id.in_(with_dhcp), m.Network.id.in_(routed))
        async with self.core.db.session() as s:
            nets = list((await s.execute(select(m.Network).where(wanted))).scalars())
            ids = [n.id for n in nets]
            subnets = list(
                (await s.execute(select(m.Subnet).where(m.Subnet.network_id.in_(ids)))).scalars()
            )
            port_rows = list(
                (await s.execute(select(m.Port).where(m.Port.network_id.in_(ids)))).scalars()
            )
            allocations = (
                await s.execute(
                    select(
                        m.IPAllocation.port_id, m.IPAllocation.subnet_id, m.IPAllocation.ip_address
                    ).where(m.IPAllocation.network_id.in_(ids))
                )
            ).all()
            memberships = (
                await s.execute(
                    select(m.PortSecurityGroup.port_id, m.PortSecurityGroup.security_group_id)
                    .join(m.Port, m.Port.id == m.PortSecurityGroup.port_id)
                    .where(m.Port.network_id.in_(ids))
                )
            ).all()
            agents = list(
                (
                    await s.execute(select(m.Agent).where(m.Agent.agent_type == LINUX_BRIDGE))
                ).scalars()
            )
        ips: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for port_id, subnet_id, address in allocations:
            ips[port_id].append((subnet_id, address))
        port_groups: dict[str, list[str]] = defaultdict(list)
        for port_id, group_id in memberships:
            port_groups[port_id].append(group_id)
        hostnames = await self.compute.hostnames(
            p.device_id for p in port_rows if p.device_owner.startswith("compute:")
        )
        by_net_subnets: dict[str, list[SubnetSpec]] = defaultdict(list)
        for row in subnets:
            by_net_subnets[row.network_id].append(subnet_spec(row))
        by_net_ports: dict[str, list[PortSpec]] = defaultdict(list)
        for port in port_rows:
            groups = tuple(sorted(port_groups[port.id]))
            spec = port_spec(port, ips[port.id], hostnames, groups)
            if self.dhcp and port.device_owner in ROUTER_OWNERS and not port.host:
                spec = dataclasses.replace(spec, host=host)  # the network node runs routers
            by_net_ports[port.network_id].append(spec)
        specs = [
            NetworkSpec(
                network_id=n.id,
                mtu=n.mtu,
                vni=n.segmentation_id if n.network_type == "vxlan" else None,
                subnets=tuple(sorted(by_net_subnets[n.id], key=lambda x: x.subnet_id)),
                ports=tuple(sorted(by_net_ports[n.id], key=lambda x: x.port_id)),
                dns_domain=(n.dns_domain or DEFAULT_DOMAIN).strip("."),
                external=n.external,
                physical_network=n.physical_network,
            )
            for n in nets
        ]
        vteps = {}
        for agent in agents:
            ip = _json(agent.configurations, {}).get("tunneling_ip")
            if ip:
                vteps[agent.host] = ip
        return specs, vteps

    async def _ensure_dhcp_ports(self, host: str, networks: list[NetworkSpec]) -> bool:
        """Create this host's DHCP port on each DHCP network lacking one; True if any."""
        made = False
        for net in networks:
            if not net.served_subnets():
                continue
            mine = next(
                (p for p in net.ports if p.device_owner == DHCP_OWNER and p.host == host), None
            )
            if mine is not None:
                made |= await self._readdress_dhcp_port(net, mine)
                continue
            body = {
                "network_id": net.network_id,
                "device_owner": DHCP_OWNER,
                "device_id": f"dhcp-{host}-{net.network_id}",
                "binding:host_id": host,
                "fixed_ips": [{"subnet_id": s.subnet_id} for s in net.served_subnets()],
                "port_security_enabled": False,
            }
            try:
                await ports.create(self.core, trusted(), {**body, **await self._owner(net)})
                made = True
            except errors.ApiError as exc:
                log.warning("network %s: no DHCP port on %s: %s", net.network_id, host, exc)
        return made

    async def _readdress_dhcp_port(self, net: NetworkSpec, port: PortSpec) -> bool:
        """Give the DHCP port an address on each served subnet it lacks (a subnet added
        after the port was made: the router advertisements need the port's address in the
        prefix); True if it changed."""
        have = {sid for sid, _ in port.fixed_ips}
        missing = [s.subnet_id for s in net.served_subnets() if s.subnet_id not in have]
        if not missing:
            return False
        kept = [{"subnet_id": sid, "ip_address": ip} for sid, ip in port.fixed_ips]
        body = {"fixed_ips": kept + [{"subnet_id": sid} for sid in missing]}
        try:
            await ports.update(self.core, trusted(), port.port_id, body, None)
        except errors.ApiError as exc:
            log.warning("DHCP port %s not re-addressed: %s", port.port_id, exc)
            return False
        return True

    async def _owner(self, net: NetworkSpec) -> dict[str, str]:
        async with self.core.db.session() as s:
            row = await s.get(m.Network, net.network_id)
        return {"project_id": row.project_id} if row is not None else {}
