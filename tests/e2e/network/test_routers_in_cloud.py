"""Routers and floating IPs through a running cloud (its host played by a namespace): a router
made with openstacksdk between a private network and a flat external one gives a guest SNAT to
the gateway address, and a floating IP makes the guest reachable from a client namespace on
the external bridge (the "outside"; nothing leaves the test's namespaces) once a security
group rule admits it."""

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
from tests.e2e.network.dataplane import Guest, dnsmasq_pids, lease
from tests.e2e.network.test_agent_in_cloud import _boot
from tests.e2e.network.test_routers import WHOAMI_PORT, Whoami, outside_on, seen_as

pytestmark = pytest.mark.e2e


async def _wait_bridge(host_ns: str, network_id: str) -> None:
    async with asyncio.timeout(30):
        while not await asyncio.to_thread(_has_link, host_ns, "brq" + network_id[:11]):
            await asyncio.sleep(0.2)


def _has_link(ns: str, name: str) -> bool:
    from pyroute2 import IPRoute

    with IPRoute(netns=ns) as ipr:
        return bool(ipr.link_lookup(ifname=name))


async def _status(conn: object, fip_id: str, status: str) -> None:
    async with asyncio.timeout(10):
        while conn.network.get_ip(fip_id).status != status:  # type: ignore[attr-defined]
            await asyncio.sleep(0.2)


async def test_a_router_gives_snat_and_a_floating_ip_reaches_the_guest(tmp_path: Path) -> None:
    prefix = "n11" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    guests: list[Guest] = []
    servers: list[Whoami] = []
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
    }
    try:
        with running_cloud(
            tmp_path / "cloud", services=("identity", "network"), extra_env=env
        ) as cloud:
            host = cloud.env["MINISTACK_DEFAULT_HOST"]
            conn = cloud.connect()
            public = conn.network.create_network(
                name=f"{prefix}-public",
                is_router_external=True,
                provider_network_type="flat",
                provider_physical_network="public",
            )
            conn.network.create_subnet(
                network_id=public.id,
                cidr="172.24.4.0/24",
                ip_version=4,
                gateway_ip="172.24.4.1",
                is_dhcp_enabled=False,
            )
            private = conn.network.create_network(name=f"{prefix}-private")
            subnet = conn.network.create_subnet(
                network_id=private.id, cidr="10.47.0.0/24", ip_version=4
            )
            router = conn.network.create_router(
                name=f"{prefix}-r", external_gateway_info={"network_id": public.id}
            )
            conn.network.add_interface_to_router(router, subnet=subnet.id)
            await _wait_bridge(host_ns, public.id)
            out_ns = await asyncio.to_thread(outside_on, prefix, host_ns, public.id)
            servers.append(await asyncio.to_thread(Whoami, out_ns))
            port = conn.network.create_port(network_id=private.id, binding_host_id=host)
            guest = await _boot(prefix, host_ns, tmp_path, port, "g")
            guests.append(guest)
            await lease(guest)
            gateway_ip = conn.network.get_router(router.id).external_gateway_info[
                "external_fixed_ips"
            ][0]["ip_address"]
            assert await seen_as(guest.ns, "172.24.4.100") == gateway_ip  # SNAT
            servers.append(await asyncio.to_thread(Whoami, guest.ns))
            fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
            address = fip.floating_ip_address
            # the port's default group admits nothing from outside: closed until a rule
            assert await seen_as(out_ns, address, within=1.0) is None
            conn.network.create_security_group_rule(
                security_group_id=port.security_group_ids[0],
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=WHOAMI_PORT,
                port_range_max=WHOAMI_PORT,
            )
            assert await seen_as(out_ns, address, within=2.0) == "172.24.4.100"  # DNAT in
            assert await seen_as(guest.ns, "172.24.4.100") == address  # SNAT out by the FIP
            await _status(conn, fip.id, "ACTIVE")  # reported by the router's host
            conn.network.update_ip(fip, port_id=None)  # the agent hears of it by a cast
            async with asyncio.timeout(5):
                while await seen_as(out_ns, address, within=0.3) is not None:
                    await asyncio.sleep(0.1)
            await _status(conn, fip.id, "DOWN")
    finally:
        for server in servers:
            await asyncio.to_thread(server.close)
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
