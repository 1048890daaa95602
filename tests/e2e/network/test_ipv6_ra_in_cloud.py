"""IPv6 router advertisements through a running cloud (its host played by a namespace): a
network with an IPv4 subnet and an IPv6 subnet in SLAAC mode (ipv6_ra_mode and
ipv6_address_mode slaac), and another with DHCPv6-stateless, made with openstacksdk; the
network's DHCP namespace advertises the prefix (its DHCP port, made with the IPv4 subnet,
gets an address in it) and the guest namespace makes its SLAAC address, which is exactly the
port's EUI-64 fixed IP that IPAM gave it."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import signal
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import Guest, dnsmasq_pids, lease
from tests.e2e.network.test_agent_in_cloud import _boot

pytestmark = pytest.mark.e2e


def _global_v6(ns: str) -> set[str]:
    """The guest's usable global IPv6 addresses (not tentative, link-local or loopback)."""
    with IPRoute(netns=ns) as ipr:
        found = ipr.get_addr(family=10)
    out = set()
    for addr in found:
        ip = addr.get_attr("IFA_ADDRESS")
        flags = addr.get_attr("IFA_FLAGS") or addr["flags"]
        parsed = ipaddress.ip_address(ip)
        if parsed.is_link_local or parsed.is_loopback or flags & 0x40:  # IFA_F_TENTATIVE
            continue
        out.add(ip)
    return out


async def _v6_of(guest: Guest, timeout: float = 40.0) -> set[str]:
    async with asyncio.timeout(timeout):
        while not (found := await asyncio.to_thread(_global_v6, guest.ns)):
            await asyncio.sleep(0.5)
    return found


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateless"])
async def test_a_guest_gets_its_ports_eui64_address_by_slaac(tmp_path: Path, mode: str) -> None:
    prefix = "n14" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    guests: list[Guest] = []
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
            net = conn.network.create_network(name=f"{prefix}-v6")
            conn.network.create_subnet(network_id=net.id, cidr="10.49.0.0/24", ip_version=4)
            v6 = conn.network.create_subnet(
                network_id=net.id,
                cidr="fd00:49::/64",
                ip_version=6,
                ipv6_ra_mode=mode,
                ipv6_address_mode=mode,
            )
            port = conn.network.create_port(network_id=net.id, binding_host_id=host)
            fixed_v6 = [f["ip_address"] for f in port.fixed_ips if f["subnet_id"] == v6.id]
            assert len(fixed_v6) == 1
            # IPAM's EUI-64 of the port's MAC in the subnet's prefix
            assert ipaddress.ip_address(fixed_v6[0]) in ipaddress.ip_network("fd00:49::/64")
            guest = await _boot(prefix, host_ns, tmp_path, port, "g6")
            guests.append(guest)
            await lease(guest)  # IPv4 by DHCP as before
            assert await _v6_of(guest) == {fixed_v6[0]}
            # the DHCP port (made with the IPv4 subnet) got an address in the new prefix
            dhcp = next(conn.network.ports(network_id=net.id, device_owner="network:dhcp"))
            assert v6.id in {f["subnet_id"] for f in dhcp.fixed_ips}
    finally:
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
