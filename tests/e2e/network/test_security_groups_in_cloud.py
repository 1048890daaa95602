"""Security groups through a running cloud (its host played by a namespace): rules made and
deleted with openstacksdk reach the agent by RPC and open, then close, a guest's port; the
default group admits its own members; deleting the ports leaves no nftables table."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import pytest

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network import packets
from tests.e2e.network.dataplane import Guest, dnsmasq_pids, lease
from tests.e2e.network.test_agent_in_cloud import _boot

pytestmark = pytest.mark.e2e


async def test_rules_made_through_the_api_open_and_close_a_guest(tmp_path: Path) -> None:
    prefix = "n11" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    tables_before = packets.tables(host_ns)
    guests: list[Guest] = []
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
    }
    listener = None
    try:
        with running_cloud(
            tmp_path / "cloud", services=("identity", "network"), extra_env=env
        ) as cloud:
            host = cloud.env["MINISTACK_DEFAULT_HOST"]
            conn = cloud.connect()
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.46.0.0/24", ip_version=4)
            web = conn.network.create_security_group(name=f"{prefix}-web")
            client_port = conn.network.create_port(network_id=net.id, binding_host_id=host)
            server_port = conn.network.create_port(
                network_id=net.id, binding_host_id=host, security_group_ids=[web.id]
            )
            client = await _boot(prefix, host_ns, tmp_path, client_port, "client")
            guests.append(client)
            server = await _boot(prefix, host_ns, tmp_path, server_port, "server")
            guests.append(server)
            await lease(client)
            await lease(server)
            listener = await asyncio.to_thread(packets.Echo, server.ns)
            assert not await packets.reachable(client.ns, server.ip, within=1.0)
            rule = conn.network.create_security_group_rule(
                security_group_id=web.id,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=packets.ECHO_PORT,
                port_range_max=packets.ECHO_PORT,
            )
            assert await packets.reachable(client.ns, server.ip, within=2.0)
            held = await asyncio.to_thread(packets.connect, client.ns, server.ip)
            with held:
                assert await asyncio.to_thread(packets.echoes, held)
                conn.network.delete_security_group_rule(rule.id)
                assert await asyncio.to_thread(packets.stops_echoing, held, 2.0)
            for guest in guests:
                await asyncio.to_thread(
                    netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap]
                )
                conn.network.delete_port(guest.port.port_id)
            guests.clear()
            conn.network.delete_network(net.id)
            async with asyncio.timeout(30):
                while packets.tables(host_ns) != tables_before:
                    await asyncio.sleep(0.2)
    finally:
        if listener is not None:
            await asyncio.to_thread(listener.close)
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
