"""Routers as namespaces `qrouter-<id>`: a leg per attached subnet (`qr-<port[:11]>`, the
subnet's gateway address) and a gateway leg on the external network (`qg-<port[:11]>`), IPv4
forwarding, extra routes, and NAT in the namespace's own nftables table `ip ministack`: SNAT of
the private subnets to the gateway address (enable_snat), 1:1 NAT per floating IP and a DNAT
rule per port forwarding (floating IP, protocol, port → internal address and port).

Where it sits: `Reconciler` calls `ensure` per router after wiring the networks (the legs'
host ends `tap<port[:11]>` are enslaved to their bridges like any local port) and `remove` for
routers no longer here. Everything lives inside the router's namespace: nothing is done to the
host's routing or ruleset.
"""

from __future__ import annotations

import ipaddress

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ministack.network.agent.desired import RouterLeg, RouterSpec
from ministack.network.agent.linux import bridge, netns, nft

ROUTER_NS_PREFIX = "qrouter-"
EEXIST = 17


def inner_name(leg: RouterLeg, gateway: bool) -> str:
    return ("qg-" if gateway else "qr-") + leg.port_id[:11]


def ensure(lk: bridge.Links, ns: str, router: RouterSpec) -> None:
    """The router's namespace, legs, routes and NAT as `router` says. Idempotent."""
    netns.ensure(ns)
    legs = [(leg, False) for leg in router.interfaces]
    if router.gateway is not None:
        legs.append((router.gateway, True))
    for leg, gateway in legs:
        bridge.ensure_veth(lk, bridge.tap_name(leg.port_id), inner_name(leg, gateway), ns, leg.mac)
    netns.run_in(ns, _forwarding)
    with netns.iproute(ns) as ipr:
        for leg, gateway in legs:
            fips = {fip for fip, _ in router.floating} | {f[0] for f in router.forwards}
            extra = [f"{fip}/32" for fip in fips] if gateway else []
            _addresses(ipr, inner_name(leg, gateway), {leg.address, *extra})
        _routes(ipr, router)
    nft.run(ns, nat_script(router))


def _forwarding() -> None:
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1\n")


def _addresses(ipr: IPRoute, device: str, wanted: set[str]) -> None:
    index = bridge.lookup(ipr, device)
    if index is None:
        raise RuntimeError(f"{device} is missing from its router namespace")
    ipr.link("set", index=index, state="up")
    have = {
        f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=index, family=2)
    }
    for cidr in have - wanted:
        ip, plen = cidr.split("/")
        ipr.addr("del", index=index, address=ip, prefixlen=int(plen))
    for cidr in wanted - have:
        ip, plen = cidr.split("/")
        ipr.addr("add", index=index, address=ip, prefixlen=int(plen))


def _routes(ipr: IPRoute, router: RouterSpec) -> None:
    wanted = {(dest, hop) for dest, hop in router.routes}
    if router.gateway_ip and router.gateway is not None:
        wanted.add(("0.0.0.0/0", router.gateway_ip))
    have = set()
    for msg in ipr.get_routes(family=2, table=254):
        hop = msg.get_attr("RTA_GATEWAY")
        if hop:
            dst = msg.get_attr("RTA_DST") or "0.0.0.0"
            have.add((f"{dst}/{msg['dst_len']}", hop))
    for dest, hop in have - wanted:
        ipr.route("del", dst=dest, gateway=hop)
    for dest, hop in wanted - have:
        try:
            ipr.route("add", dst=dest, gateway=hop)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise


def nat_script(router: RouterSpec) -> str:
    """The router namespace's whole NAT table, re-made atomically."""
    lines = ["add table ip ministack", "delete table ip ministack", "add table ip ministack"]
    for chain, hook, priority in (
        ("nat-in", "prerouting", "dstnat"),
        ("nat-out", "postrouting", "srcnat"),
    ):
        lines.append(
            f"add chain ip ministack {chain} "
            f"{{ type nat hook {hook} priority {priority}; policy accept; }}"
        )
    gw = router.gateway
    if gw is not None:
        out = inner_name(gw, True)
        for fip, fixed in sorted(router.floating):
            lines.append(f"add rule ip ministack nat-in ip daddr {fip} dnat to {fixed}")
            lines.append(
                f'add rule ip ministack nat-out oifname "{out}" ip saddr {fixed} snat to {fip}'
            )
        for fip, proto, ext, ip, port in sorted(router.forwards):
            lines.append(
                f"add rule ip ministack nat-in ip daddr {fip} meta l4proto {proto} "
                f"th dport {ext} dnat to {ip}:{port}"
            )
        private = sorted(
            str(ipaddress.ip_interface(leg.address).network)
            for leg in router.interfaces
            if ipaddress.ip_interface(leg.address).version == 4
        )
        if router.enable_snat and private:
            gw_ip = str(ipaddress.ip_interface(gw.address).ip)
            sources = ", ".join(private)
            lines.append(
                f'add rule ip ministack nat-out oifname "{out}" ip saddr {{ {sources} }} '
                f"snat to {gw_ip}"
            )
    return "\n".join(lines) + "\n"


def remove(lk: bridge.Links, ns: str, taps: list[str]) -> None:
    """The router's namespace (its legs and NAT go with it) and the legs' host ends."""
    for tap in taps:
        bridge.remove_link(lk, tap)
    netns.remove(ns)
