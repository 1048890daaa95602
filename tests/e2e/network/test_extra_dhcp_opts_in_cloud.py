"""A port's extra DHCP options reach its guest: written to the network's dnsmasq options file
under the port's tag, they are in the lease of a namespace guest on that port (and in no other
port's lease); an option dnsmasq does not know is 400 at the API and makes nothing."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import openstack.exceptions
import pytest

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import Guest, dnsmasq_pids, lease
from tests.e2e.network.test_agent_in_cloud import _boot

pytestmark = pytest.mark.e2e

DHCP = "network:dhcp"
DOMAIN_SEARCH = "06" + b"canary".hex() + "07" + b"example".hex() + "00"  # RFC 3397, one name


async def test_a_ports_extra_dhcp_options_are_in_its_guests_lease(tmp_path: Path) -> None:
    prefix = "n10o" + secrets.token_hex(2)
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
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.46.0.0/24", ip_version=4)

            def user_ports() -> list[str]:  # the agent adds the DHCP port when it likes
                return sorted(p.id for p in conn.network.ports() if p.device_owner != DHCP)

            before = user_ports()
            for bad in (
                {"opt_name": "no-such-option", "opt_value": "x"},
                {"opt_name": "bootfile-url", "opt_value": "x", "ip_version": 4},  # IPv6 only
                {"opt_name": "255", "opt_value": "1.2.3.4"},  # past IPv4's codes
                {"opt_name": "domain-search", "opt_value": "a\ndhcp-range=x"},
            ):
                with pytest.raises(openstack.exceptions.BadRequestException):
                    conn.network.create_port(network_id=net.id, extra_dhcp_opts=[bad])
            assert user_ports() == before
            opts = [
                {"opt_name": "domain-search", "opt_value": "canary.example"},
                {"opt_name": "42", "opt_value": "10.46.0.9"},  # ntp-server by number
                {"opt_name": "domain-search", "opt_value": "six.example", "ip_version": 6},
            ]
            with_opts = conn.network.create_port(
                network_id=net.id, binding_host_id=host, extra_dhcp_opts=opts
            )
            assert len(with_opts.extra_dhcp_opts) == 3
            plain = conn.network.create_port(network_id=net.id, binding_host_id=host)
            bad_update = [{"opt_name": "nope", "opt_value": "1"}]
            with pytest.raises(openstack.exceptions.BadRequestException):
                conn.network.update_port(plain, extra_dhcp_opts=bad_update)
            assert conn.network.get_port(plain.id).extra_dhcp_opts == []
            for port, name in ((with_opts, "opts"), (plain, "plain")):
                guests.append(await _boot(prefix, host_ns, tmp_path, port, name))
            got = (await lease(guests[0]))["options"]
            assert isinstance(got, dict)
            assert got["119"] == DOMAIN_SEARCH
            assert got["42"] == "0a2e0009"
            other = (await lease(guests[1]))["options"]
            assert isinstance(other, dict)
            assert "119" not in other and "42" not in other
    finally:
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):  # dnsmasq outlives the agent by design
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
