"""Security groups and anti-spoofing between namespace guests on a simulated host: a guest is
closed until a rule opens it, a removed rule ends the connections it allowed, remote groups
follow membership, default groups keep projects apart, spoofed frames never leave a guest,
an agent restart keeps every path, and removed ports leave no filter or flow behind."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ministack.network.agent.desired import RuleSpec
from tests.e2e.network import packets
from tests.e2e.network.dataplane import Guest, Lab, lease

pytestmark = pytest.mark.e2e

EGRESS_ANY = (RuleSpec("egress", "IPv4"), RuleSpec("egress", "IPv6"))
ECHO_RULE = RuleSpec("ingress", "IPv4", "tcp", packets.ECHO_PORT - 10, packets.ECHO_PORT + 10)


def group(lab: Lab, name: str, *rules: RuleSpec) -> str:
    group_id = f"{name}-{lab.prefix}"
    for rule in (*EGRESS_ANY, *rules):
        lab.world.add_rule(group_id, rule)
    return group_id


async def echo(guest: Guest) -> packets.Echo:
    return await asyncio.to_thread(packets.Echo, guest.ns)


async def test_a_tcp_rule_opens_a_guest_and_removing_it_ends_the_open_connection(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.31.0.0/24")
    client_sg, server_sg = group(lab, "client"), group(lab, "server")
    client = await lab.boot(h1, net, lab.port(net, "10.31.0.11", "h1", "c", (client_sg,)))
    server = await lab.boot(h1, net, lab.port(net, "10.31.0.12", "h1", "s", (server_sg,)))
    await agent.start()
    await lease(client)
    await lease(server)  # DHCP passes the filter without any rule
    listener = await echo(server)
    try:
        assert not await packets.reachable(client.ns, server.ip, within=1.0)
        lab.world.add_rule(server_sg, ECHO_RULE)
        await agent.sync_firewall()
        assert await packets.reachable(client.ns, server.ip, within=2.0)
        # the rule is on the server: the client stays closed to the server
        back = await echo(client)
        try:
            assert not await packets.reachable(server.ns, client.ip, within=1.0)
        finally:
            await asyncio.to_thread(back.close)
        conn = await asyncio.to_thread(packets.connect, client.ns, server.ip)
        with conn:
            assert await asyncio.to_thread(packets.echoes, conn)
            assert packets.flows(h1.ns, server.ip)
            lab.world.remove_rule(server_sg, ECHO_RULE)
            await agent.sync_firewall()
            assert not await asyncio.to_thread(packets.echoes, conn, 2.0)
        assert not await packets.reachable(client.ns, server.ip, within=1.0)
    finally:
        await asyncio.to_thread(listener.close)


async def test_remote_group_rules_follow_membership_and_default_groups_split_projects(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.32.0.0/24")
    friends = group(lab, "friends")
    server_sg = group(lab, "server", dataclasses.replace(ECHO_RULE, remote_group_id=friends))
    # two projects' default groups: ingress from the same group only
    default_a = group(lab, "default-a")
    lab.world.add_rule(default_a, RuleSpec("ingress", "IPv4", remote_group_id=default_a))
    default_b = group(lab, "default-b")
    lab.world.add_rule(default_b, RuleSpec("ingress", "IPv4", remote_group_id=default_b))
    server = await lab.boot(
        net_host := h1, net, lab.port(net, "10.32.0.10", "h1", "s", (server_sg, default_a))
    )
    friend = await lab.boot(net_host, net, lab.port(net, "10.32.0.11", "h1", "f", (friends,)))
    other_port = lab.port(net, "10.32.0.12", "h1", "o", (default_b,))
    other = await lab.boot(net_host, net, other_port)
    same_project = await lab.boot(
        net_host, net, lab.port(net, "10.32.0.13", "h1", "a", (default_a,))
    )
    await agent.start()
    for guest in (server, friend, other, same_project):
        await lease(guest)
    listener = await echo(server)
    try:
        assert await packets.reachable(friend.ns, server.ip)
        assert not await packets.reachable(other.ns, server.ip, within=1.0)  # other project
        assert await packets.reachable(same_project.ns, server.ip)  # same default group
        assert packets.host_run(h1.ns, "nft", "list", "set", "inet", "ministack", f"r4-{friends}")
        # `other` joins `friends`: one set element added, and it gets in
        lab.world.replace_port(
            net, dataclasses.replace(other_port, security_groups=(default_b, friends))
        )
        await agent.sync_network(net)
        assert await packets.reachable(other.ns, server.ip, within=2.0)
        # and leaves it again: out, its flows forgotten
        lab.world.replace_port(net, other_port)
        await agent.sync_network(net)
        assert not await packets.reachable(other.ns, server.ip, within=1.0)
    finally:
        await asyncio.to_thread(listener.close)


async def test_spoofed_mac_ip_arp_and_dhcp_server_frames_from_a_guest_are_dropped(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.33.0.0/24")
    spoofer = await lab.boot(h1, net, lab.port(net, "10.33.0.11", "h1", "x", (group(lab, "x"),)))
    watcher = await lab.boot(h1, net, lab.port(net, "10.33.0.12", "h1", "w"))  # unfiltered
    await agent.start()
    await lease(spoofer)
    await lease(watcher)
    mac, ip = spoofer.port.mac, spoofer.ip
    frames = {
        b"own-addresses": packets.udp_frame(mac, ip, 5000, 5001, b"own-addresses"),
        b"other-mac": packets.udp_frame("fa:16:3e:99:99:99", ip, 5000, 5001, b"other-mac"),
        b"other-ip": packets.udp_frame(mac, "10.33.0.99", 5000, 5001, b"other-ip"),
        b"dhcp-server": packets.udp_frame(mac, ip, 67, 68, b"dhcp-server"),
    }
    sock = await asyncio.to_thread(packets.catcher, watcher.ns, "eth0")
    try:
        seen = {}
        for marker, frame in frames.items():
            await asyncio.to_thread(packets.send, spoofer.ns, "eth0", frame)
            seen[marker] = await asyncio.to_thread(packets.caught, sock, marker)
        # ARP: a reply for its own address passes, one claiming the watcher's does not
        for claimed, target in ((ip, "10.33.0.201"), (watcher.ip, "10.33.0.202")):
            frame = packets.arp_reply(mac, claimed, target)
            await asyncio.to_thread(packets.send, spoofer.ns, "eth0", frame)
            marker = bytes(int(x) for x in target.split("."))
            seen[target.encode()] = await asyncio.to_thread(packets.caught, sock, marker)
    finally:
        sock.close()
    assert seen == {
        b"own-addresses": True,
        b"other-mac": False,
        b"other-ip": False,
        b"dhcp-server": False,
        b"10.33.0.201": True,
        b"10.33.0.202": False,
    }


async def test_agent_restart_keeps_filters_and_a_deleted_port_leaves_nothing(lab: Lab) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    tables_before = packets.tables(h1.ns)
    net = lab.network("10.34.0.0/24")
    server_sg = group(lab, "server", ECHO_RULE)
    client = await lab.boot(h1, net, lab.port(net, "10.34.0.11", "h1", "c", (group(lab, "c"),)))
    server_port = lab.port(net, "10.34.0.12", "h1", "s", (server_sg,))
    server = await lab.boot(h1, net, server_port)
    await agent.start()
    await lease(client)
    await lease(server)
    listener = await echo(server)
    try:
        conn = await asyncio.to_thread(packets.connect, client.ns, server.ip)
        with conn:
            assert await asyncio.to_thread(packets.echoes, conn)
            rules_before = packets.ruleset(h1.ns)
            await agent.stop()
            restarted = lab.agent(h1)
            await restarted.start()  # re-makes both tables whole, in one transaction
            assert packets.ruleset(h1.ns) == rules_before
            assert await asyncio.to_thread(packets.echoes, conn)  # the open session lives on
        lab.world.remove_rule(server_sg, ECHO_RULE)
        await restarted.sync_firewall()
        assert not await packets.reachable(client.ns, server.ip, within=1.0)
        lab.world.add_rule(server_sg, ECHO_RULE)
        await restarted.sync_firewall()
        assert await packets.reachable(client.ns, server.ip)
        # the server's port is deleted: its chains, map elements and flows go
        await lab.unplug(server)
        lab.guests.remove(server)
        ports = lab.world.networks[net].ports
        lab.world.networks[net] = dataclasses.replace(
            lab.world.networks[net], ports=tuple(p for p in ports if p != server_port)
        )
        await restarted.sync_network(net)
        rules = packets.ruleset(h1.ns)
        assert server_port.port_id not in rules
        assert server_port.port_id[:11] not in rules
        assert f"g-{server_sg}" not in rules
        assert packets.flows(h1.ns, server.ip) == []
    finally:
        await asyncio.to_thread(listener.close)
    await restarted.stop(clean=True)
    lab.hosts["h1"].agent = None
    assert packets.tables(h1.ns) == tables_before
