"""Make one host's data plane match its desired state, and remove what no longer matches.

The network agent calls `Reconciler.apply` (whole host: at start and periodically) or
`apply_network` (one network, after an RPC message). Both block on netlink and on dnsmasq's
start, so the agent runs them in a worker thread. Only objects carrying the agent's names are
ever changed or removed: bridges `brq…`, VXLAN devices `vxlan-…`, the DHCP ports' `tap…` veths,
namespaces `<prefix>qdhcp-…` and the dnsmasq directories under `<state>/dhcp/`. Guests' taps
are enslaved to their bridge but never deleted (they belong to the hypervisor).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ministack.network.agent import firewall
from ministack.network.agent.desired import METADATA_IP, HostNetworks, NetworkSpec, RouterSpec
from ministack.network.agent.linux import bridge, netns, nft, router, vxlan
from ministack.network.agent.linux.dnsmasq import Dnsmasq

log = logging.getLogger("ministack.network.agent")

DHCP_NS_PREFIX = "qdhcp-"
LOOKUPS_BEFORE_DUMP = 4


@dataclass(frozen=True)
class HostConfig:
    """Where and as whom the agent acts."""

    host: str
    state_dir: Path
    host_netns: str | None = None
    """The namespace that plays this host (a simulated host); None: the real host."""
    ns_prefix: str = ""
    """Prefix of this host's DHCP namespace names (simulated hosts share one namespace list)."""
    local_ip: str | None = None
    """This host's VXLAN tunnel endpoint address."""
    underlay: str | None = None
    """The device VXLAN packets leave by."""
    bridge_mappings: tuple[tuple[str, str], ...] = ()
    """(physical network, existing bridge) pairs: such a network's ports go on that bridge."""

    def dhcp_namespace(self, network_id: str) -> str:
        return f"{self.ns_prefix}{DHCP_NS_PREFIX}{network_id}"

    def router_namespace(self, router_id: str) -> str:
        return f"{self.ns_prefix}{router.ROUTER_NS_PREFIX}{router_id}"

    def mapped_bridge(self, net: NetworkSpec) -> str | None:
        """The existing bridge `net`'s physical network is mapped to; None: its own `brq`."""
        return (
            dict(self.bridge_mappings).get(net.physical_network) if net.physical_network else None
        )

    def bridge_of(self, net: NetworkSpec) -> str:
        return self.mapped_bridge(net) or bridge.bridge_name(net.network_id)


@dataclass
class Outcome:
    """What one pass did: ports wired (tap in its bridge), per network DHCP action, errors."""

    wired: dict[str, bool] = field(default_factory=dict)
    dhcp: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class Reconciler:
    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self.dhcp_dir = config.state_dir / "dhcp"
        self._lock = threading.Lock()
        self._fdb: dict[int, set[tuple[str, str]]] = {}
        """VXLAN device index → the entries the last pass left on it."""
        self._routers: dict[str, RouterSpec] = {}
        """Router id → what the last pass made of it."""
        self._ruleset: firewall.Ruleset | None = None
        self._ruleset_inputs: tuple[object, ...] | None = None
        """What the applied ruleset was derived from (`firewall.inputs`)."""
        self._host_links = 0
        """How many links the last full pass saw (a one-network pass dumps them all only when
        its ports are a good part of them: a dump decodes every link, a lookup one)."""
        """The nftables objects the last pass applied; None: not known (re-made whole)."""

    def _ipr(self) -> IPRoute:
        return netns.iproute(self.config.host_netns)

    def apply(self, desired: HostNetworks) -> Outcome:
        """Make the whole host match `desired`; remove every object of ours not in it."""
        out = Outcome()
        with self._lock, self._ipr() as ipr:
            lk, fdb = bridge.Links(ipr), vxlan.fdb_table(ipr)
            self._fdb.clear()
            for net in desired.networks:
                self._network(lk, fdb, desired, net, out)
            self._remove_stale(lk, desired, out)
            self._host_links = len(lk.by_name)
            self._apply_routers(lk, desired, out, full=True)
            self._firewall(desired, out)
        return out

    def apply_network(self, desired: HostNetworks, network_id: str) -> Outcome:
        """Make one network match `desired` (removing it when `desired` lacks it)."""
        out = Outcome()
        with self._lock, self._ipr() as ipr:
            net = next((n for n in desired.networks if n.network_id == network_id), None)
            if net is None:
                self._remove_network(bridge.Links(ipr), network_id, out)
            else:
                self._network(bridge.Links(ipr, dump=False), None, desired, net, out)
            self._apply_routers(bridge.Links(ipr, dump=False), desired, out, full=False)
            self._firewall(desired, out)
        return out

    def _apply_routers(
        self, lk: bridge.Links, desired: HostNetworks, out: Outcome, *, full: bool
    ) -> None:
        """Make each router of `desired` (all of them on a full pass, else the changed ones)
        and remove the routers of ours no longer in it."""
        nets = {n.network_id: n for n in desired.networks}
        wanted = {r.router_id: r for r in desired.routers}
        for spec in desired.routers:
            ns = self.config.router_namespace(spec.router_id)
            if not full and self._routers.get(spec.router_id) == spec and netns.exists(ns):
                continue
            try:
                router.ensure(lk, ns, spec)
                legs = [*spec.interfaces, *([spec.gateway] if spec.gateway else [])]
                for leg in legs:
                    net = nets.get(leg.network_id)
                    br = lk.get(self.config.bridge_of(net)) if net is not None else None
                    if net is not None and br is not None:
                        tap = bridge.tap_name(leg.port_id)
                        out.wired[leg.port_id] = bridge.enslave(lk, tap, br.index, net.mtu)
                self._routers[spec.router_id] = spec
            except (NetlinkError, OSError, RuntimeError) as exc:
                log.exception("router %s could not be made on %s", spec.router_id, self.config.host)
                out.errors[spec.router_id] = str(exc)
                self._routers.pop(spec.router_id, None)
        prefix = self.config.router_namespace("")
        for ns in netns.names(prefix):
            router_id = ns[len(prefix) :]
            if router_id not in wanted:
                old = self._routers.pop(router_id, None)
                taps = []
                if old is not None:
                    legs = [*old.interfaces, *([old.gateway] if old.gateway else [])]
                    taps = [bridge.tap_name(leg.port_id) for leg in legs]
                router.remove(lk, ns, taps)
                out.removed.append(ns)

    def apply_firewall(self, desired: HostNetworks) -> Outcome:
        """Make the security groups and anti-spoofing filters match `desired` (after a rule
        or a group's membership changed): only what differs is written."""
        out = Outcome()
        with self._lock:
            self._firewall(desired, out)
        return out

    def _firewall(self, desired: HostNetworks, out: Outcome) -> None:
        inputs = firewall.inputs(desired)
        if self._ruleset is not None and inputs == self._ruleset_inputs:
            return  # nothing the filter reads changed (a router's or a DHCP entry's pass)
        self._ruleset_inputs = None
        new = firewall.ruleset(desired, tuple(br for _, br in self.config.bridge_mappings))
        old = self._ruleset
        if old is not None and (old == new or not (old.port_deps or new.port_deps)):
            self._ruleset_inputs = inputs
            return
        # no filtered port here: no table of ours either (`Ruleset()`: nothing applied)
        commands = nft.script(new, old) if new.port_deps else nft.drop_tables()
        try:
            nft.run(self.config.host_netns, commands)
        except (RuntimeError, OSError) as exc:
            log.error("security groups not applied on %s: %s", self.config.host, exc)
            self._ruleset = None  # re-made whole next time
            out.errors["firewall"] = str(exc)
            return
        self._ruleset = new if new.port_deps else firewall.Ruleset()
        self._ruleset_inputs = inputs
        nft.forget_flows(self.config.host_netns, nft.narrowed(new, old))

    def _network(
        self,
        lk: bridge.Links,
        fdb: dict[int, set[tuple[str, str]]] | None,
        desired: HostNetworks,
        net: NetworkSpec,
        out: Outcome,
    ) -> None:
        try:
            mapped = self.config.mapped_bridge(net)
            if mapped is not None:
                br = bridge.mapped_bridge(lk, mapped)
            else:
                br = bridge.ensure_bridge(lk, bridge.bridge_name(net.network_id), net.mtu)
            if net.external and mapped is None:
                _bridge_gateways(lk.ipr, br, net)
            if net.vni is not None:
                local, underlay = self.config.local_ip, self.config.underlay
                vx = vxlan.ensure_vxlan(lk, net.vni, local, underlay, net.mtu)
                bridge.enslave(lk, vxlan.vxlan_name(net.vni), br, net.mtu)
                # a full pass reads the kernel's entries; a one-network pass trusts what the
                # last pass programmed (a device re-made since has none)
                have = fdb.get(vx, set()) if fdb is not None else self._fdb.get(vx)
                if have is None:
                    have = vxlan.fdb_table(lk.ipr).get(vx, set())
                wanted = desired.remote_fdb(net)
                vxlan.sync_fdb(lk.ipr, vx, wanted, have)
                self._fdb[vx] = set(wanted)
            ports = desired.local_ports(net)
            dump_at = max(LOOKUPS_BEFORE_DUMP, self._host_links // 2)
            if len(ports) > dump_at and not lk.complete:
                lk.load()  # one dump beats a request per tap
            for port in ports:
                tap = bridge.tap_name(port.port_id)
                out.wired[port.port_id] = bridge.enslave(lk, tap, br, net.mtu)
            if net.dhcp_port is not None and net.served_subnets():
                out.dhcp[net.network_id] = self._dhcp(lk, net, br, out)
            else:
                self._remove_dhcp(lk, net.network_id, out)
        except (NetlinkError, OSError, RuntimeError) as exc:
            log.exception("network %s could not be wired on %s", net.network_id, self.config.host)
            out.errors[net.network_id] = str(exc)

    def _dhcp(self, lk: bridge.Links, net: NetworkSpec, br: int, out: Outcome) -> str:
        port = net.dhcp_port
        assert port is not None
        ns = self.config.dhcp_namespace(net.network_id)
        tap, inner = bridge.tap_name(port.port_id), bridge.ns_dev_name(port.port_id)
        fresh = not netns.exists(ns)
        if fresh:
            netns.ensure(ns)
        bridge.ensure_veth(lk, tap, inner, ns, port.mac)
        out.wired[port.port_id] = bridge.enslave(lk, tap, br, net.mtu)  # the DHCP port's up
        subnets = {s.subnet_id: s for s in net.served_subnets()}
        dhcp_ips = {sid: ip for sid, ip in port.fixed_ips if sid in subnets}
        wanted = {(METADATA_IP, 32)} | {
            (ip, ipaddress.ip_network(subnets[sid].cidr, strict=False).prefixlen)
            for sid, ip in dhcp_ips.items()
        }
        server = Dnsmasq(self.dhcp_dir, net.network_id, ns, inner)
        if fresh or server.pid() is None or server.addresses() != wanted:
            netns.run_in(ns, lambda: _no_dad(inner))
            with netns.iproute(ns) as inside:
                _ensure_addresses(inside, inner, net.mtu, port.mac, wanted)
            server.record_addresses(wanted, tap)
        return server.ensure(net, dhcp_ips)

    def remove_network(self, network_id: str) -> Outcome:
        out = Outcome()
        with self._lock, self._ipr() as ipr:
            self._remove_network(bridge.Links(ipr), network_id, out)
        return out

    def _remove_dhcp(self, lk: bridge.Links, network_id: str, out: Outcome) -> None:
        ns = self.config.dhcp_namespace(network_id)
        had = netns.exists(ns) or (self.dhcp_dir / network_id).exists()
        if not had:
            return
        server = Dnsmasq(self.dhcp_dir, network_id, ns, "")
        tap = server.recorded_tap()
        server.remove()
        if tap:
            # the namespace may outlive its unmount a moment (a listener still open in it):
            # the host end of its veth goes now, not whenever the kernel frees the namespace
            bridge.remove_link(lk, tap)
        netns.remove(ns)
        with contextlib.suppress(OSError):
            self.dhcp_dir.rmdir()  # only when no other network's files are left
        out.removed.append(ns)

    def _remove_network(self, lk: bridge.Links, network_id: str, out: Outcome) -> None:
        self._remove_dhcp(lk, network_id, out)
        name = bridge.bridge_name(network_id)
        found = lk.get(name)
        if found is None:
            return
        for link in list(lk.by_name.values()):
            # a VXLAN device serves one network only: it goes with the network's bridge
            if link.master == found.index and link.kind == "vxlan":
                bridge.remove_link(lk, link.name)
                out.removed.append(link.name)
        bridge.remove_link(lk, name)
        out.removed.append(name)

    def _remove_stale(self, lk: bridge.Links, desired: HostNetworks, out: Outcome) -> None:
        want_bridges = {bridge.bridge_name(n.network_id) for n in desired.networks}
        want_vxlans = {vxlan.vxlan_name(n.vni) for n in desired.networks if n.vni is not None}
        dhcp_nets = {
            n.network_id for n in desired.networks if n.dhcp_port is not None and n.served_subnets()
        }
        for link in list(lk.by_name.values()):
            stale_bridge = link.kind == "bridge" and link.name.startswith(bridge.BRIDGE_PREFIX)
            stale_vxlan = link.kind == "vxlan" and link.name.startswith(vxlan.VXLAN_PREFIX)
            if (stale_bridge and link.name not in want_bridges) or (
                stale_vxlan and link.name not in want_vxlans
            ):
                bridge.remove_link(lk, link.name)
                out.removed.append(link.name)
        prefix = self.config.dhcp_namespace("")
        for ns in netns.names(prefix):
            if ns[len(prefix) :] not in dhcp_nets:
                self._remove_dhcp(lk, ns[len(prefix) :], out)
        if self.dhcp_dir.exists():
            for path in self.dhcp_dir.iterdir():
                if path.name not in dhcp_nets:
                    self._remove_dhcp(lk, path.name, out)

    def remove_all(self) -> Outcome:
        """Remove everything of ours from the host (the host's desired state is empty)."""
        out = self.apply(HostNetworks(self.config.host))
        shutil.rmtree(self.dhcp_dir, ignore_errors=True)
        with self._lock:
            nft.run(self.config.host_netns, nft.drop_tables())
            self._ruleset = None
        return out


def _ensure_addresses(
    ipr: IPRoute, device: str, mtu: int, mac: str, wanted: set[tuple[str, int]]
) -> None:
    """`device` up with `mtu` and exactly the IPv4 and global IPv6 addresses `wanted`
    ((address, prefix))."""
    index = bridge.lookup(ipr, device)  # a fresh namespace: few links
    if index is None:
        raise RuntimeError(f"{device} is missing from its DHCP namespace")
    ipr.link("set", index=index, mtu=mtu, address=mac, state="up")
    have = {
        (a.get_attr("IFA_ADDRESS"), a["prefixlen"])
        for a in ipr.get_addr(index=index)
        if not a.get_attr("IFA_ADDRESS").startswith("fe80:")
    }
    for ip, plen in have - wanted:
        ipr.addr("del", index=index, address=ip, prefixlen=plen)
    for ip, plen in wanted - have:
        ipr.addr("add", index=index, address=ip, prefixlen=plen)


def _no_dad(device: str) -> None:
    """Turn off IPv6 duplicate address detection on `device` (the port owns its addresses,
    and dnsmasq binds them at once). Run inside its namespace: /proc/sys/net is per
    namespace."""
    path = Path(f"/proc/sys/net/ipv6/conf/{device}/accept_dad")
    with contextlib.suppress(OSError):
        path.write_text("0\n")


def _bridge_gateways(ipr: IPRoute, br: int, net: NetworkSpec) -> None:
    """An external network's bridge holds its IPv4 subnets' gateway addresses (the host's
    foot on it; no route or NAT to any other interface is ever added)."""
    wanted = {
        (s.gateway_ip, ipaddress.ip_network(s.cidr, strict=False).prefixlen)
        for s in net.subnets
        if s.gateway_ip and s.ip_version == 4
    }
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=br, family=2)}
    for ip, plen in wanted - have:
        ipr.addr("add", index=br, address=ip, prefixlen=plen)
