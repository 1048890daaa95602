"""Floating IP port forwardings through a running cloud (its host played by a namespace): made
with the `openstack floating ip port forwarding` CLI, a forwarding of FIP:8022/tcp to a guest's
service on 7300 lets a client namespace on the external bridge reach that service (and no other
port of the address); Neutron's conflicts answer as Neutron's (duplicate external port 400, a
forwarded FIP given a port 409, a forwarding to a port that has its own FIP 409); deleting the
forwarding closes the way in."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
from pathlib import Path

import openstack.exceptions
import pytest

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import Guest, dnsmasq_pids, lease
from tests.e2e.network.test_agent_in_cloud import _boot
from tests.e2e.network.test_routers import WHOAMI_PORT, Whoami, outside_on
from tests.e2e.network.test_routers_in_cloud import _wait_bridge

pytestmark = pytest.mark.e2e

EXTERNAL_PORT = 8022


async def _answer(ns: str, ip: str, port: int, within: float) -> str | None:
    """What the listener at ip:port answered a connection from `ns`; None if unreachable."""

    def ask() -> str:
        with socket.create_connection((ip, port), timeout=1.0) as conn:
            return conn.recv(64).decode()

    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await asyncio.to_thread(netns.run_in, ns, ask)
        except OSError:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.2)


async def test_a_port_forwarding_reaches_a_guest_service(tmp_path: Path) -> None:
    prefix = "n13" + secrets.token_hex(2)
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
            assert conn.network.find_extension("floating-ip-port-forwarding") is not None
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
                network_id=private.id, cidr="10.48.0.0/24", ip_version=4
            )
            router = conn.network.create_router(
                name=f"{prefix}-r", external_gateway_info={"network_id": public.id}
            )
            conn.network.add_interface_to_router(router, subnet=subnet.id)
            await _wait_bridge(host_ns, public.id)
            out_ns = await asyncio.to_thread(outside_on, prefix, host_ns, public.id)
            port = conn.network.create_port(network_id=private.id, binding_host_id=host)
            guest = await _boot(prefix, host_ns, tmp_path, port, "g")
            guests.append(guest)
            await lease(guest)
            servers.append(await asyncio.to_thread(Whoami, guest.ns))
            conn.network.create_security_group_rule(
                security_group_id=port.security_group_ids[0],
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=WHOAMI_PORT,
                port_range_max=WHOAMI_PORT,
            )
            fip = conn.network.create_ip(floating_network_id=public.id)
            address = fip.floating_ip_address
            assert await _answer(out_ns, address, EXTERNAL_PORT, within=1.0) is None

            made = cloud.cli(
                "floating",
                "ip",
                "port",
                "forwarding",
                "create",
                "--internal-ip-address",
                guest.ip,
                "--port",
                port.id,
                "--internal-protocol-port",
                str(WHOAMI_PORT),
                "--external-protocol-port",
                str(EXTERNAL_PORT),
                "--protocol",
                "tcp",
                fip.id,
                "-f",
                "json",
            )
            pf = json.loads(made.stdout)
            assert (pf["internal_port"], pf["external_port"]) == (WHOAMI_PORT, EXTERNAL_PORT)
            assert pf["internal_ip_address"] == guest.ip
            # the guest sees the outside client's own address (DNAT only, no SNAT)
            assert await _answer(out_ns, address, EXTERNAL_PORT, within=5.0) == "172.24.4.100"
            # only the forwarded port: the service's own port is not open on the address
            assert await _answer(out_ns, address, WHOAMI_PORT, within=1.0) is None
            assert conn.network.get_ip(fip.id).router_id == router.id
            listed = json.loads(
                cloud.cli(
                    "floating", "ip", "port", "forwarding", "list", fip.id, "-f", "json"
                ).stdout
            )
            assert [p["ID"] for p in listed] == [pf["id"]]

            with pytest.raises(openstack.exceptions.BadRequestException, match="duplicate"):
                conn.network.create_floating_ip_port_forwarding(
                    fip,
                    internal_port_id=port.id,
                    internal_ip_address=guest.ip,
                    internal_port=22,
                    external_port=EXTERNAL_PORT,
                    protocol="tcp",
                )
            with pytest.raises(openstack.exceptions.ConflictException, match="Port Forwarding"):
                conn.network.update_ip(fip, port_id=port.id)
            other = conn.network.create_port(network_id=private.id)
            own_fip = conn.network.create_ip(floating_network_id=public.id, port_id=other.id)
            other_ip = other.fixed_ips[0]["ip_address"]
            with pytest.raises(openstack.exceptions.ConflictException, match="binding floating"):
                conn.network.create_floating_ip_port_forwarding(
                    fip,
                    internal_port_id=other.id,
                    internal_ip_address=other_ip,
                    internal_port=22,
                    external_port=2222,
                    protocol="tcp",
                )
            assert len(list(conn.network.floating_ip_port_forwardings(fip))) == 1
            conn.network.delete_ip(own_fip)

            cloud.cli("floating", "ip", "port", "forwarding", "delete", fip.id, pf["id"])
            async with asyncio.timeout(10):
                while await _answer(out_ns, address, EXTERNAL_PORT, within=0.3) is not None:
                    await asyncio.sleep(0.1)
            assert conn.network.get_ip(fip.id).router_id is None
    finally:
        for server in servers:
            await asyncio.to_thread(server.close)
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
