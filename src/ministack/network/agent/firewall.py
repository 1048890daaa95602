"""Security groups and anti-spoofing as nftables objects: what one host's ruleset must hold.

Where it sits: `Reconciler` derives a `Ruleset` from the host's desired state after wiring
its networks, and `linux/nft.py` applies the difference with the last one applied.

The kernel here has br_netfilter but no bridge conntrack, so the filter is split in two tables
we own (see docs/architecture.md, "Security groups"):

- `bridge ministack` sees frames with the bridge port they enter or leave by. Chain
  `mark-in` (prerouting) runs each filtered port's anti-spoofing chain `s-<port>` (own MAC
  and addresses only; no DHCP server replies, no router advertisements) and marks the frame
  with the port's egress id; `mark-out` (forward) marks it with the receiving port's ingress id.
- `inet ministack` sees the same packets through br_netfilter (each of our bridges has
  nf_call_iptables/ip6tables set), with conntrack: base chains dispatch on the mark to the
  port's `e-<port>`/`i-<port>` chain, which accepts established flows and jumps to one
  chain per security group and direction `g-<group>-<direction>`. Remote groups are sets
  `r4-<group>`/`r6-<group>` of member addresses, updated element by element.
"""

from __future__ import annotations

import functools
import ipaddress
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from ministack.network.agent.desired import GroupSpec, HostNetworks, PortSpec, RuleSpec
from ministack.network.agent.linux.bridge import tap_name

TABLE = "ministack"
INGRESS_BIT = 0x80000000
PROTOCOL_NUMBERS = {
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "tcp": 6,
    "egp": 8,
    "udp": 17,
    "dccp": 33,
    "ipv6-encap": 41,
    "ipv6-route": 43,
    "ipv6-frag": 44,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ospf": 89,
    "pgm": 113,
    "vrrp": 112,
    "sctp": 132,
    "udplite": 136,
}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ND_TYPES = "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-query }"


def port_mark(port_id: str) -> int:
    """The port's egress mark (its ingress mark adds INGRESS_BIT); stable across restarts."""
    return (zlib.crc32(port_id.encode()) & 0x7FFFFFFF) or 1


@dataclass
class Ruleset:
    """Every object of ours, by (family, name): chains as rule lists, sets and maps as
    element sets (a map element is "key : value")."""

    chains: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    sets: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    port_ips: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Filtered port → its addresses (whose conntrack entries a narrowing clears)."""
    port_deps: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    """Filtered port → the chains and sets its verdicts depend on."""


SET_TYPES = {
    "in_ids": "map in_ids { type ifname : mark; }",
    "out_ids": "map out_ids { type ifname : mark; }",
    "spoof": "map spoof { type ifname : verdict; }",
    "egress": "map egress { type mark : verdict; }",
    "ingress": "map ingress { type mark : verdict; }",
}
BASE_CHAINS = {
    # only frames by our filtered taps are marked (the host's other bridges are left alone);
    # only packets of our bridges are dispatched on the mark
    ("bridge", "mark-in"): (
        "type filter hook prerouting priority -300; policy accept;",
        "iifname vmap @spoof",
        "meta mark set iifname map @in_ids",
    ),
    ("bridge", "mark-out"): (
        "type filter hook forward priority -300; policy accept;",
        "meta mark set oifname map @out_ids",
    ),
    ("inet", "ports-egress"): (
        "type filter hook prerouting priority 0; policy accept;",
        'iifname "brq*" meta mark vmap @egress',
    ),
    ("inet", "ports-ingress"): (
        "type filter hook forward priority 0; policy accept;",
        'oifname "brq*" meta mark vmap @ingress',
    ),
}


def set_decl(family: str, name: str) -> str:
    if name in SET_TYPES:
        return SET_TYPES[name]
    kind = "ipv4_addr" if name.startswith("r4-") else "ipv6_addr"
    return f"set {name} {{ type {kind}; flags interval; }}"


def inputs(desired: HostNetworks) -> tuple[object, ...]:
    """Everything `ruleset(desired)` reads: equal inputs give an equal ruleset, so a pass that
    changed only a router or a DHCP entry can skip deriving it."""
    ports = tuple(
        port
        for net in desired.networks
        for port in desired.local_ports(net)
        if port.port_security and not port.device_owner.startswith("network:")
    )
    return (ports, dict(desired.groups), dict(desired.members))


def ruleset(desired: HostNetworks, mapped: tuple[str, ...] = ()) -> Ruleset:
    """The objects `desired` needs: base chains, one anti-spoofing and two filter chains per
    filtered local port, two chains per security group, a set per remote group and version.
    `mapped`: the existing bridges physical networks are mapped to, dispatched like ours."""
    out = Ruleset(chains=dict(BASE_CHAINS))
    for bridge in sorted(set(mapped)):
        for chain, verb, vmap in (
            ("ports-egress", "iifname", "egress"),
            ("ports-ingress", "oifname", "ingress"),
        ):
            out.chains[("inet", chain)] += (f'{verb} "{bridge}" meta mark vmap @{vmap}',)
    for name in ("in_ids", "out_ids", "spoof"):
        out.sets[("bridge", name)] = frozenset()
    for name in ("egress", "ingress"):
        out.sets[("inet", name)] = frozenset()
    in_ids: set[str] = set()
    out_ids: set[str] = set()
    spoof: set[str] = set()
    egress: set[str] = set()
    ingress: set[str] = set()
    for net in desired.networks:
        for port in desired.local_ports(net):
            if not port.port_security or port.device_owner.startswith("network:"):
                continue
            tap, mark, pid = tap_name(port.port_id), port_mark(port.port_id), port.port_id
            in_ids.add(f'"{tap}" : {mark:#x}')
            out_ids.add(f'"{tap}" : {mark | INGRESS_BIT:#x}')
            spoof.add(f'"{tap}" : jump s-{pid}')
            egress.add(f"{mark:#x} : jump e-{pid}")
            ingress.add(f"{mark | INGRESS_BIT:#x} : jump i-{pid}")
            out.chains[("bridge", f"s-{pid}")] = anti_spoofing(port)
            groups = [desired.groups.get(g, GroupSpec(g)) for g in port.security_groups]
            for direction in ("egress", "ingress"):
                out.chains[("inet", f"{direction[0]}-{pid}")] = port_chain(direction, groups)
            deps: set[tuple[str, str]] = {("inet", f"e-{pid}"), ("inet", f"i-{pid}")}
            for group in groups:
                for direction in ("egress", "ingress"):
                    key = ("inet", f"g-{group.group_id}-{direction}")
                    if key not in out.chains:  # once per group, however many ports use it
                        out.chains[key] = group_chain(group, direction)
                    deps.add(key)
                for rule in group.rules:
                    if rule.remote_group_id:
                        for version in ("4", "6"):
                            key = ("inet", f"r{version}-{rule.remote_group_id}")
                            members = desired.members.get(rule.remote_group_id, ())
                            out.sets[key] = frozenset(a for a in members if _v(a) == version)
                            deps.add(key)
            out.port_ips[pid] = port.ips()
            out.port_deps[pid] = frozenset(deps)
    out.sets[("bridge", "in_ids")] = frozenset(in_ids)
    out.sets[("bridge", "out_ids")] = frozenset(out_ids)
    out.sets[("bridge", "spoof")] = frozenset(spoof)
    out.sets[("inet", "egress")] = frozenset(egress)
    out.sets[("inet", "ingress")] = frozenset(ingress)
    return out


# Each pass derives the whole ruleset (hundreds of ports sharing a few groups): the pieces
# are pure functions of frozen specs, so unchanged ones are remembered, not re-made.
@functools.lru_cache(maxsize=65536)
def _v(address: str) -> str:
    return str(ipaddress.ip_network(address, strict=False).version)


def _elements(items: Iterable[str]) -> str:
    return "{ " + ", ".join(sorted(items)) + " }"


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address a NIC with `mac` forms."""
    octets = [int(b, 16) for b in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


@functools.lru_cache(maxsize=8192)
def anti_spoofing(port: PortSpec) -> tuple[str, ...]:
    """Bridge-family rules for frames a filtered port sends: only its MAC and addresses (and
    its allowed address pairs) leave; DHCP server replies and router advertisements never."""
    macs = {port.mac.lower()} | {mac.lower() for _, mac in port.allowed_pairs if mac}
    v4 = [ip for ip in port.ips() if _v(ip) == "4"]
    v6 = [ip for ip in port.ips() if _v(ip) == "6"] + [link_local(port.mac), "::"]
    for cidr, _ in port.allowed_pairs:
        (v4 if _v(cidr) == "4" else v6).append(cidr)
    rules = [f"ether saddr != {_elements(macs)} drop"]
    rules.append(f"arp saddr ether != {_elements(macs)} drop")
    rules.append(f"arp saddr ip != {_elements([*v4, '0.0.0.0'])} drop")
    rules.append("ether type ip udp sport 67 drop")
    rules.append("ip saddr 0.0.0.0 udp sport 68 udp dport 67 return")
    rules.append(f"ip saddr != {_elements(v4)} drop" if v4 else "ether type ip drop")
    rules.append("icmpv6 type nd-router-advert drop")
    rules.append("ether type ip6 udp sport 547 drop")
    rules.append(f"ip6 saddr != {_elements(v6)} drop")
    return tuple(rules)


def port_chain(direction: str, groups: list[GroupSpec]) -> tuple[str, ...]:
    """A port's filter for one direction: established flows, DHCP and neighbour discovery,
    then its groups' rules; anything else is dropped. A TCP flow is new only from its SYN: a
    mid-stream segment of a flow whose entry was deleted (a rule removed) is not picked up
    again as new (nf_conntrack_tcp_loose), by the guest's egress in particular."""
    rules = [
        "ct state established,related accept",
        "ct state invalid drop",
        "ct state new tcp flags & (fin|syn|rst|ack) != syn drop",
    ]
    if direction == "egress":
        rules.append("udp sport 68 udp dport 67 accept")
        rules.append("udp sport 546 udp dport 547 accept")
    else:
        rules.append("udp sport 67 udp dport 68 accept")
        rules.append("udp sport 547 udp dport 546 accept")
    rules.append(f"icmpv6 type {ND_TYPES} accept")
    if direction == "ingress":
        # router advertisements reach guests (a guest's own are dropped by its spoof chain,
        # so they come from DHCP or router ports only)
        rules.append("icmpv6 type nd-router-advert accept")
    rules += [f"jump g-{group.group_id}-{direction}" for group in groups]
    rules.append("drop")
    return tuple(rules)


@functools.lru_cache(maxsize=4096)
def group_chain(group: GroupSpec, direction: str) -> tuple[str, ...]:
    return tuple(sorted(rule_text(r) for r in group.rules if r.direction == direction))


@functools.lru_cache(maxsize=16384)
def rule_text(rule: RuleSpec) -> str:
    """One security group rule as one nftables rule ending in accept."""
    v6 = rule.ethertype == "IPv6"
    ip = "ip6" if v6 else "ip"
    parts = [f"meta nfproto {'ipv6' if v6 else 'ipv4'}"]
    peer = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.remote_ip_prefix:
        parts.append(f"{ip} {peer} {rule.remote_ip_prefix}")
    elif rule.remote_group_id:
        parts.append(f"{ip} {peer} @r{'6' if v6 else '4'}-{rule.remote_group_id}")
    proto = _protocol_number(rule.protocol, v6)
    if proto is not None:
        parts.append(f"meta l4proto {proto}")
        low, high = rule.port_range_min, rule.port_range_max
        if proto in PORT_PROTOCOLS and low is not None:
            parts.append(f"th dport {low}-{high if high is not None else low}")
        elif proto in (1, 58) and low is not None:
            kind = "icmpv6" if proto == 58 else "icmp"
            parts.append(f"{kind} type {low}")
            if high is not None:
                parts.append(f"{kind} code {high}")
    parts.append("accept")
    return " ".join(parts)


def _protocol_number(protocol: str | None, v6: bool) -> int | None:
    if protocol is None:
        return None
    number = int(protocol) if protocol.isdigit() else PROTOCOL_NUMBERS[protocol]
    return 58 if (v6 and number == 1) else number
