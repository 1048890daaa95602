"""What one host's data plane must hold: the agent's input, derived from the database.

The reconciler makes the host match a `HostNetworks` and removes what it made that is no longer
in it. These are plain frozen values so they can be built from rows (`agent/derive.py`), by
tests, or by the benchmark, and compared.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

METADATA_IP = "169.254.169.254"
DHCP_OWNER = "network:dhcp"
RA_MODES = ("slaac", "dhcpv6-stateless")


@dataclass(frozen=True)
class SubnetSpec:
    subnet_id: str
    cidr: str
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()
    """(destination CIDR, next hop) pairs handed out by DHCP."""
    enable_dhcp: bool = True
    ipv6_ra_mode: str | None = None
    """slaac or dhcpv6-stateless: the network's DHCP namespace sends router advertisements
    for this IPv6 subnet (prefix only, no default route)."""
    ipv6_address_mode: str | None = None

    @property
    def ip_version(self) -> int:
        return ipaddress.ip_network(self.cidr, strict=False).version


@dataclass(frozen=True)
class PortSpec:
    port_id: str
    mac: str
    fixed_ips: tuple[tuple[str, str], ...] = ()
    """(subnet id, address) pairs."""
    hostname: str = ""
    device_id: str = ""
    device_owner: str = ""
    host: str | None = None
    """The host the port is bound to (binding:host_id); None when unbound."""
    port_security: bool = False
    """Filtered (security groups and anti-spoofing) when True."""
    security_groups: tuple[str, ...] = ()
    allowed_pairs: tuple[tuple[str, str], ...] = ()
    """(IP address or CIDR, MAC) pairs the port may also send from (allowed address pairs)."""
    dhcp_opts: tuple[tuple[int, str, str], ...] = ()
    """(ip_version, option name or number, value): the port's extra DHCP options."""

    def ips(self) -> tuple[str, ...]:
        return tuple(ip for _, ip in self.fixed_ips)


@dataclass(frozen=True)
class NetworkSpec:
    network_id: str
    mtu: int = 1500
    vni: int | None = None
    """The VXLAN segment; None for a network that stays on this host (local)."""
    subnets: tuple[SubnetSpec, ...] = ()
    ports: tuple[PortSpec, ...] = ()
    """Every port of the network (the DHCP hosts list and the metadata lookup need them all,
    not only this host's)."""
    dhcp_port: PortSpec | None = None
    """The DHCP port this host serves the network from; None when another host serves it."""
    dns_domain: str = "openstacklocal"
    external: bool = False
    """router:external: the host holds its subnets' gateway addresses on the bridge (no
    uplink: nothing is forwarded from it to the machine's own interfaces)."""
    physical_network: str = ""
    """A flat network's physical network: its ports go on the bridge the host maps it to
    (`bridge_mappings`), or on its own `brq` bridge when the host maps none."""

    def dhcp_subnets(self) -> tuple[SubnetSpec, ...]:
        return tuple(s for s in self.subnets if s.enable_dhcp and s.ip_version == 4)

    def ra_subnets(self) -> tuple[SubnetSpec, ...]:
        """IPv6 subnets advertised from the DHCP namespace (SLAAC or DHCPv6-stateless)."""
        return tuple(
            s
            for s in self.subnets
            if s.ip_version == 6 and s.ipv6_ra_mode in RA_MODES and s.enable_dhcp
        )

    def served_subnets(self) -> tuple[SubnetSpec, ...]:
        """The subnets the DHCP namespace serves (DHCPv4 or router advertisements)."""
        return self.dhcp_subnets() + self.ra_subnets()

    def port_by_ip(self, ip: str) -> PortSpec | None:
        for port in self.ports:
            if ip in port.ips():
                return port
        return None


@dataclass(frozen=True)
class RuleSpec:
    """One security group rule as the data plane needs it."""

    direction: str
    """"ingress" or "egress"."""
    ethertype: str = "IPv4"
    protocol: str | None = None
    """A name Neutron knows, a number as text, or None for any."""
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    group_id: str
    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True)
class RouterLeg:
    """One router port: its veth is `tap<port[:11]>` on the network's bridge and
    `qr-`/`qg-<port[:11]>` inside the router's namespace, holding `address` (CIDR form)."""

    port_id: str
    mac: str
    network_id: str
    address: str


@dataclass(frozen=True)
class RouterSpec:
    router_id: str
    interfaces: tuple[RouterLeg, ...] = ()
    gateway: RouterLeg | None = None
    gateway_ip: str | None = None
    """The external subnet's gateway (the router's default route)."""
    enable_snat: bool = True
    routes: tuple[tuple[str, str], ...] = ()
    """Extra routes: (destination CIDR, next hop)."""
    floating: tuple[tuple[str, str], ...] = ()
    """(floating IP, fixed IP) pairs: 1:1 NAT on the gateway leg."""
    forwards: tuple[tuple[str, str, int, str, int], ...] = ()
    """Port forwardings: (floating IP, protocol, external port, internal IP, internal port),
    DNAT on the gateway leg."""


@dataclass(frozen=True)
class HostNetworks:
    """Desired state of one host: its networks and where the other hosts' VTEPs are."""

    host: str
    networks: tuple[NetworkSpec, ...] = ()
    vteps: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    """Host name → VXLAN tunnel endpoint address, for the hosts with ports on these networks."""
    groups: dict[str, GroupSpec] = field(default_factory=dict, hash=False, compare=True)
    """The security groups of this host's filtered ports, by id."""
    routers: tuple[RouterSpec, ...] = ()
    """The routers this host runs (their ports are bound here)."""
    members: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=True)
    """Security group id → the addresses of every port in it (cloud-wide), for the groups
    this host's rules name as remote groups."""

    def local_ports(self, net: NetworkSpec) -> tuple[PortSpec, ...]:
        """Ports of `net` bound to this host (guests, not the DHCP port)."""
        return tuple(
            p
            for p in net.ports
            if p.host == self.host and p.device_owner != DHCP_OWNER and p != net.dhcp_port
        )

    def remote_fdb(self, net: NetworkSpec) -> set[tuple[str, str]]:
        """(MAC, VTEP) entries for `net`'s VXLAN device: a flood entry per other host with a
        port on the network, and each remote port's MAC at its host."""
        mine = self.vteps.get(self.host)
        out: set[tuple[str, str]] = set()
        for port in net.ports:
            vtep = self.vteps.get(port.host or "")
            if port.host is None or port.host == self.host or not vtep or vtep == mine:
                continue
            out.add(("00:00:00:00:00:00", vtep))
            out.add((port.mac.lower(), vtep))
        return out
