"""What a security group rule matches, in packets between namespace guests on a simulated
host: a rule by protocol number with a port range and a remote IP prefix admits exactly the
sources in the prefix to ports in the range and nothing else (another protocol number,
a range without the port); a port with port security off is not filtered at all."""

from __future__ import annotations

import asyncio

import pytest

from ministack.network.agent.desired import RuleSpec
from tests.e2e.network import packets
from tests.e2e.network.dataplane import Lab, lease
from tests.e2e.network.test_security_groups import echo, group

pytestmark = pytest.mark.e2e

PORT = packets.ECHO_PORT


async def test_protocol_number_port_range_and_prefix_admit_exactly_what_they_say(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.33.0.0/24")
    client_sg, server_sg = group(lab, "client"), group(lab, "server")
    server = await lab.boot(h1, net, lab.port(net, "10.33.0.10", "h1", "s", (server_sg,)))
    near = await lab.boot(h1, net, lab.port(net, "10.33.0.11", "h1", "n", (client_sg,)))
    far = await lab.boot(h1, net, lab.port(net, "10.33.0.20", "h1", "f", (client_sg,)))
    bare = await lab.boot(h1, net, lab.port(net, "10.33.0.30", "h1", "b", None))
    await agent.start()
    for guest in (server, near, far, bare):
        await lease(guest)
    listeners = [await echo(server), await echo(bare)]
    # TCP by its number, a range around the port, from 10.33.0.8/29 (.8-.15) only
    rule = RuleSpec("ingress", "IPv4", "6", PORT - 2, PORT + 2, remote_ip_prefix="10.33.0.8/29")
    try:
        # port security off: open to anyone with no rule at all
        assert await packets.reachable(far.ns, bare.ip)
        assert not await packets.reachable(near.ns, server.ip, within=1.0)
        lab.world.add_rule(server_sg, rule)
        await agent.sync_firewall()
        assert await packets.reachable(near.ns, server.ip, within=2.0)
        assert not await packets.reachable(far.ns, server.ip, within=1.0)  # outside the prefix
        # the same rule for protocol 17 (UDP) does not admit TCP
        lab.world.remove_rule(server_sg, rule)
        udp = RuleSpec("ingress", "IPv4", "17", PORT - 2, PORT + 2, remote_ip_prefix="10.33.0.8/29")
        lab.world.add_rule(server_sg, udp)
        await agent.sync_firewall()
        assert not await packets.reachable(near.ns, server.ip, within=1.0)
        # a TCP range that stops short of the port does not admit it either
        lab.world.remove_rule(server_sg, udp)
        short = RuleSpec("ingress", "IPv4", "tcp", PORT + 1, PORT + 5)
        lab.world.add_rule(server_sg, short)
        await agent.sync_firewall()
        assert not await packets.reachable(near.ns, server.ip, within=1.0)
        lab.world.remove_rule(server_sg, short)
        lab.world.add_rule(server_sg, RuleSpec("ingress", "IPv4", "tcp", PORT, PORT + 5))
        await agent.sync_firewall()
        assert await packets.reachable(far.ns, server.ip, within=2.0)  # no prefix: anyone
    finally:
        for listener in listeners:
            await asyncio.to_thread(listener.close)
