"""The security group filter as the agent derives it (network/agent/firewall.py) and applies it
(linux/nft.py `script`): protocols by name and by number, port ranges, remote IP prefixes
and IPv6 rules become the nftables matches they mean; remote groups are sets, not one rule
per member; a port without port security gets no filter at all; anti-spoofing drops a
guest's router advertisements and DHCP server replies; and a rule or membership change is
applied as one chain or one set element, not a reload. The packet-level proofs are in
tests/e2e/network/test_security_groups.py and test_rule_matching.py."""

from __future__ import annotations

import dataclasses

from ministack.network.agent import firewall
from ministack.network.agent.desired import (
    GroupSpec,
    HostNetworks,
    NetworkSpec,
    PortSpec,
    RuleSpec,
)
from ministack.network.agent.linux import nft
from ministack.network.agent.linux.bridge import tap_name

GROUP = "g1"
EGRESS = RuleSpec("egress", "IPv4")
SCTP = RuleSpec("ingress", "IPv4", "132", 5000, 5010, remote_ip_prefix="192.0.2.0/24")
GRE = RuleSpec("ingress", "IPv4", "47")
ICMP6 = RuleSpec("ingress", "IPv6", "icmp", remote_ip_prefix="2001:db8::/32")
PEERS = RuleSpec("ingress", "IPv4", "tcp", 22, 22, remote_group_id=GROUP)

FILTERED = PortSpec(
    "p-filtered",
    "fa:16:3e:00:00:01",
    (("s1", "10.0.0.5"),),
    device_owner="compute:nova",
    host="h1",
    port_security=True,
    security_groups=(GROUP,),
)
OPEN = PortSpec(
    "p-open",
    "fa:16:3e:00:00:02",
    (("s1", "10.0.0.6"),),
    device_owner="compute:nova",
    host="h1",
    port_security=False,
)


def _world(*rules: RuleSpec, members: tuple[str, ...] = ("10.0.0.5",)) -> HostNetworks:
    net = NetworkSpec("n1", ports=(FILTERED, OPEN))
    return HostNetworks(
        "h1",
        networks=(net,),
        groups={GROUP: GroupSpec(GROUP, (EGRESS, *rules))},
        members={GROUP: members},
    )


def test_protocol_numbers_port_ranges_prefixes_and_ipv6_become_their_matches() -> None:
    assert firewall.rule_text(SCTP) == (
        "meta nfproto ipv4 ip saddr 192.0.2.0/24 meta l4proto 132 th dport 5000-5010 accept"
    )
    assert firewall.rule_text(GRE) == "meta nfproto ipv4 meta l4proto 47 accept"
    # "icmp" in an IPv6 rule is ICMPv6, as Neutron reads it
    assert firewall.rule_text(ICMP6) == (
        "meta nfproto ipv6 ip6 saddr 2001:db8::/32 meta l4proto 58 accept"
    )
    by_name = RuleSpec("egress", "IPv4", "tcp", 80, 80, remote_ip_prefix="198.51.100.0/24")
    assert firewall.rule_text(by_name) == (
        "meta nfproto ipv4 ip daddr 198.51.100.0/24 meta l4proto 6 th dport 80-80 accept"
    )
    assert firewall.rule_text(RuleSpec("ingress", "IPv6")) == "meta nfproto ipv6 accept"


def test_remote_groups_are_sets_and_a_port_without_port_security_is_not_filtered() -> None:
    made = firewall.ruleset(_world(SCTP, PEERS, members=("10.0.0.5", "10.0.0.7", "fd00::7")))
    chain = made.chains[("inet", f"g-{GROUP}-ingress")]
    assert f"meta nfproto ipv4 ip saddr @r4-{GROUP} meta l4proto 6 th dport 22-22 accept" in chain
    assert made.sets[("inet", f"r4-{GROUP}")] == {"10.0.0.5", "10.0.0.7"}
    assert made.sets[("inet", f"r6-{GROUP}")] == {"fd00::7"}
    assert len(chain) == 2  # one rule per rule, whatever the membership
    assert ("bridge", f"s-{FILTERED.port_id}") in made.chains
    assert ("inet", f"i-{FILTERED.port_id}") in made.chains
    for family, name in made.chains:
        assert OPEN.port_id not in name, (family, name)
    tapped = " ".join(made.sets[("bridge", "in_ids")] | made.sets[("bridge", "spoof")])
    assert tap_name(FILTERED.port_id) in tapped
    assert tap_name(OPEN.port_id) not in tapped


def test_anti_spoofing_drops_a_guests_router_advertisements_and_dhcp_server_replies() -> None:
    rules = firewall.anti_spoofing(FILTERED)
    assert "icmpv6 type nd-router-advert drop" in rules
    assert "ether type ip udp sport 67 drop" in rules
    assert "ether type ip6 udp sport 547 drop" in rules
    assert "ether saddr != { fa:16:3e:00:00:01 } drop" in rules
    assert "ip saddr != { 10.0.0.5 } drop" in rules
    # an allowed address pair widens exactly that
    paired = dataclasses.replace(FILTERED, allowed_pairs=(("10.0.0.100/32", ""),))
    assert "ip saddr != { 10.0.0.100/32, 10.0.0.5 } drop" in firewall.anti_spoofing(paired)


def _changes(script: str) -> list[str]:
    return [line for line in script.splitlines() if not line.startswith("add table ")]


def test_a_rule_change_rewrites_one_chain_and_a_member_change_one_set_element() -> None:
    before = firewall.ruleset(_world(PEERS))
    with_rule = firewall.ruleset(_world(PEERS, SCTP))
    changed = _changes(nft.script(with_rule, before))
    assert changed[0] == f"flush chain inet {nft.TABLE} g-{GROUP}-ingress"
    assert all(f"g-{GROUP}-ingress" in line for line in changed), changed
    assert len(changed) == 3  # flush + the chain's two rules
    joined = firewall.ruleset(_world(PEERS, SCTP, members=("10.0.0.5", "10.0.0.9")))
    assert _changes(nft.script(joined, with_rule)) == [
        f"add element inet {nft.TABLE} r4-{GROUP} {{ 10.0.0.9 }}"
    ]
    assert _changes(nft.script(with_rule, joined)) == [
        f"delete element inet {nft.TABLE} r4-{GROUP} {{ 10.0.0.9 }}"
    ]
    assert _changes(nft.script(joined, joined)) == []
    # only a first apply (nothing known) starts from scratch
    assert nft.drop_tables() in nft.script(joined, None)
    assert "delete table" not in nft.script(joined, with_rule)
