"""The database → the desired state of one host: network, subnet, port and allocation rows
become `NetworkSpec`s, and the Linux bridge agents' reports give each host's VTEP.

Where it sits: `NetworkAgent.sync*` calls `DatabaseSource.host_networks` before each pass. A
host that serves DHCP (`[network_agent] dhcp`) takes every network with an IPv4 subnet with
DHCP, and makes the network's DHCP port bound to it (device_owner network:dhcp) when it has
none yet, as Neutron's DHCP agent does; other hosts take the networks they have ports on.
"""

from __future__ import annotations

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
    HostNetworks,
    NetworkSpec,
    PortSpec,
    SubnetSpec,
)
from ministack.network.agents import LINUX_BRIDGE
from ministack.network.core import Core, trusted

log = logging.getLogger("ministack.network.agent")

DEFAULT_DOMAIN = "openstacklocal"


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
    )


def port_spec(row: m.Port, ips: list[tuple[str, str]], hostnames: dict[str, str]) -> PortSpec:
    return PortSpec(
        port_id=row.id,
        mac=row.mac_address,
        fixed_ips=tuple(sorted(ips)),
        hostname=row.dns_name or hostnames.get(row.device_id, ""),
        device_id=row.device_id,
        device_owner=row.device_owner,
        host=row.host or None,
    )


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
        return host_view(host, networks, vteps)

    async def _read(self, host: str) -> tuple[list[NetworkSpec], dict[str, str]]:
        mine = select(m.Port.network_id).where(m.Port.host == host)
        wanted: ColumnElement[bool] = m.Network.id.in_(mine)
        if self.dhcp:
            with_dhcp = select(m.Subnet.network_id).where(
                m.Subnet.enable_dhcp.is_(True), m.Subnet.ip_version == 4
            )
            wanted = or_(wanted, m.Network.id.in_(with_dhcp))
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
            agents = list(
                (
                    await s.execute(select(m.Agent).where(m.Agent.agent_type == LINUX_BRIDGE))
                ).scalars()
            )
        ips: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for port_id, subnet_id, address in allocations:
            ips[port_id].append((subnet_id, address))
        hostnames = await self.compute.hostnames(
            p.device_id for p in port_rows if p.device_owner.startswith("compute:")
        )
        by_net_subnets: dict[str, list[SubnetSpec]] = defaultdict(list)
        for row in subnets:
            by_net_subnets[row.network_id].append(subnet_spec(row))
        by_net_ports: dict[str, list[PortSpec]] = defaultdict(list)
        for port in port_rows:
            by_net_ports[port.network_id].append(port_spec(port, ips[port.id], hostnames))
        specs = [
            NetworkSpec(
                network_id=n.id,
                mtu=n.mtu,
                vni=n.segmentation_id if n.network_type == "vxlan" else None,
                subnets=tuple(sorted(by_net_subnets[n.id], key=lambda x: x.subnet_id)),
                ports=tuple(sorted(by_net_ports[n.id], key=lambda x: x.port_id)),
                dns_domain=(n.dns_domain or DEFAULT_DOMAIN).strip("."),
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
            if not net.dhcp_subnets():
                continue
            if any(p.device_owner == DHCP_OWNER and p.host == host for p in net.ports):
                continue
            body = {
                "network_id": net.network_id,
                "device_owner": DHCP_OWNER,
                "device_id": f"dhcp-{host}-{net.network_id}",
                "binding:host_id": host,
                "fixed_ips": [{"subnet_id": s.subnet_id} for s in net.dhcp_subnets()],
                "port_security_enabled": False,
            }
            try:
                await ports.create(self.core, trusted(), {**body, **await self._owner(net)})
                made = True
            except errors.ApiError as exc:
                log.warning("network %s: no DHCP port on %s: %s", net.network_id, host, exc)
        return made

    async def _owner(self, net: NetworkSpec) -> dict[str, str]:
        async with self.core.db.session() as s:
            row = await s.get(m.Network, net.network_id)
        return {"project_id": row.project_id} if row is not None else {}
