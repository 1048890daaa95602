"""Two projects on one host (namespace guests through compute, the agent's host played by a
namespace): both use the same CIDR behind their own router with a floating IP. Each guest is
reachable from the outside (a client namespace on the external bridge) through its floating IP
and not at all from the other project's network; a restart of the agent's process keeps every
established path (outside → each guest through its floating IP, each guest → outside); deleting
everything through the API leaves the host namespace as it was: namespaces, links and the whole
`nft list ruleset`, compared before and after."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux import netns
from tests.cloud import Cloud, running_cloud
from tests.e2e.network import packets
from tests.e2e.network.dataplane import dnsmasq_pids
from tests.e2e.network.test_routers import outside_on

pytestmark = pytest.mark.e2e

SERVICES = ("identity", "image", "placement", "compute", "network")
CIDR = "10.61.0.0/24"
OUTSIDE_IP = "172.24.4.100"
PASSWORD = "project-pw-1"


def host_view(host_ns: str, prefix: str) -> tuple[list[str], list[str], str]:
    """What the test compares before and after: the namespaces of this test, the links of the
    host namespace and its whole nftables ruleset."""
    with IPRoute(netns=host_ns) as ipr:
        links = sorted(str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links())
    return netns.names(prefix), links, packets.ruleset(host_ns)


def answer(ns: str, ip: str, port: int) -> str:
    """The first line a TCP service at ip:port answers to a connection from `ns`."""

    def ask() -> str:
        with socket.create_connection((ip, port), timeout=1.0) as conn:
            return conn.recv(256).decode().strip()

    return netns.run_in(ns, ask)


async def answer_within(ns: str, ip: str, port: int, within: float) -> str | None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await asyncio.to_thread(answer, ns, ip, port)
        except OSError:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.2)


class Project:
    """One project's user, network, router, guest and floating IP."""

    def __init__(self, cloud: Cloud, admin: Any, name: str) -> None:
        project = admin.identity.create_project(name=name)
        user = admin.identity.create_user(
            name=f"{name}-u", password=PASSWORD, default_project_id=project.id
        )
        admin.identity.assign_project_role_to_user(
            project, user, admin.identity.find_role("member")
        )
        self.name = name
        self.conn: Any = cloud.connect(username=f"{name}-u", password=PASSWORD, project=name)

    def build(self, public_id: str, image: str, flavor: str, fixed: str) -> None:
        conn = self.conn
        self.net = conn.network.create_network(name=f"{self.name}-net")
        subnet = conn.network.create_subnet(network_id=self.net.id, cidr=CIDR, ip_version=4)
        self.router = conn.network.create_router(
            name=f"{self.name}-r", external_gateway_info={"network_id": public_id}
        )
        conn.network.add_interface_to_router(self.router, subnet=subnet.id)
        self.subnet = subnet
        self.port = conn.network.create_port(
            network_id=self.net.id, fixed_ips=[{"subnet_id": subnet.id, "ip_address": fixed}]
        )
        group = self.port.security_group_ids[0]
        for port in (netns_guest.HOSTNAME_PORT, packets.ECHO_PORT):
            conn.network.create_security_group_rule(
                security_group_id=group,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=port,
                port_range_max=port,
            )
        server = conn.compute.create_server(
            name=f"{self.name}-vm",
            image_id=image,
            flavor_id=flavor,
            networks=[{"port": self.port.id}],
        )
        self.server = conn.compute.wait_for_server(server, status="ACTIVE", wait=120)
        self.ns = netns_guest.namespace(self.server.id)
        self.fip = conn.network.create_ip(floating_network_id=public_id, port_id=self.port.id)

    def delete(self) -> None:
        conn = self.conn
        conn.compute.delete_server(self.server)
        conn.compute.wait_for_delete(self.server, wait=120)
        conn.network.delete_ip(self.fip)
        conn.network.delete_port(self.port)  # made by the test: kept when its server went
        conn.network.remove_interface_from_router(self.router, subnet=self.subnet.id)
        conn.network.delete_router(self.router)
        conn.network.delete_network(self.net)


async def lease_of(cloud: Cloud, server_id: str, timeout: float = 60.0) -> dict[str, object]:
    async with asyncio.timeout(timeout):
        while True:
            for state in (cloud.state_dir / "fake-guests").glob(f"*/{server_id}"):
                if (got := netns_guest.lease(state)) is not None:
                    return got
            await asyncio.sleep(0.2)


def _cleanup(tmp: Path, prefix: str) -> None:
    for pid in dnsmasq_pids(tmp):
        os.kill(pid, signal.SIGKILL)
    for state in tmp.glob("cloud/fake-guests/*/*"):  # guests a failed test did not delete
        netns_guest.remove(netns_guest.namespace(state.name), state)
    for name in netns.names(prefix):
        netns.remove(name)


async def test_two_projects_one_cidr_isolated_reachable_restart_proof_and_clean(
    tmp_path: Path,
) -> None:
    prefix = "np" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    before = await asyncio.to_thread(host_view, host_ns, prefix)
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
        "MINISTACK_COMPUTE_FAKE_NETNS_GUESTS": "true",
    }
    held: list[socket.socket] = []
    echoes: list[packets.Echo] = []
    try:
        with running_cloud(tmp_path / "cloud", services=SERVICES, extra_env=env) as cloud:
            admin = cloud.connect()
            image = admin.image.create_image(
                name="i",
                data=b"\0" * 4096,
                disk_format="raw",
                container_format="bare",
                visibility="public",
            )
            flavor = admin.compute.create_flavor(name=f"{prefix}-f", ram=64, vcpus=1, disk=1)
            public = admin.network.create_network(
                name=f"{prefix}-public",
                is_router_external=True,
                provider_network_type="flat",
                provider_physical_network="public",
            )
            admin.network.create_subnet(
                network_id=public.id,
                cidr="172.24.4.0/24",
                ip_version=4,
                gateway_ip="172.24.4.1",
                is_dhcp_enabled=False,
            )
            a, b = Project(cloud, admin, f"{prefix}a"), Project(cloud, admin, f"{prefix}b")
            a.build(public.id, image.id, flavor.id, "10.61.0.10")
            b.build(public.id, image.id, flavor.id, "10.61.0.11")
            out_ns = await asyncio.to_thread(outside_on, prefix, host_ns, public.id)
            for project, ip in ((a, "10.61.0.10"), (b, "10.61.0.11")):
                assert (await lease_of(cloud, project.server.id))["ip"] == ip
            # each reachable from outside through its floating IP ...
            for project in (a, b):
                address = project.fip.floating_ip_address
                got = await answer_within(out_ns, address, netns_guest.HOSTNAME_PORT, 30.0)
                assert got == project.server.name
            # ... and not from the other project's network, although the addresses share a CIDR
            assert await answer_within(a.ns, "10.61.0.11", netns_guest.HOSTNAME_PORT, 2.0) is None
            assert await answer_within(b.ns, "10.61.0.10", netns_guest.HOSTNAME_PORT, 2.0) is None

            # established paths: outside → each guest (DNAT), each guest → outside (SNAT)
            for ns in (a.ns, b.ns, out_ns):
                # held open across the restart, however long the process takes to come back
                echoes.append(await asyncio.to_thread(packets.Echo, ns, idle=600.0))
            for project in (a, b):
                address = project.fip.floating_ip_address
                held.append(await asyncio.to_thread(packets.connect, out_ns, address))
                held.append(await asyncio.to_thread(packets.connect, project.ns, OUTSIDE_IP))
            paths = ["outside→a", "a→outside", "outside→b", "b→outside"]
            assert [await asyncio.to_thread(packets.echoes, c) for c in held] == [True] * 4
            cloud.stop()  # the agent with it; the data plane stays
            cloud.start(timeout=180)
            alive = [await asyncio.to_thread(packets.echoes, c) for c in held]
            assert dict(zip(paths, alive, strict=True)) == dict.fromkeys(paths, True)
            for conn in held:
                conn.close()
            held.clear()
            for project in (a, b):  # and new connections after the restart's full pass
                address = project.fip.floating_ip_address
                got = await answer_within(out_ns, address, netns_guest.HOSTNAME_PORT, 30.0)
                assert got == project.server.name

            for echo in echoes:
                await asyncio.to_thread(echo.close)
            echoes.clear()
            a.delete()
            b.delete()
            admin.network.delete_network(public)
            await asyncio.to_thread(netns.remove, out_ns)  # the test's own client namespace
            deadline = asyncio.get_running_loop().time() + 30
            while (now := await asyncio.to_thread(host_view, host_ns, prefix)) != before:
                if asyncio.get_running_loop().time() >= deadline:
                    break
                await asyncio.sleep(0.3)
            assert now == before
    finally:
        for conn in held:
            conn.close()
        for echo in echoes:
            await asyncio.to_thread(echo.close)
        await asyncio.to_thread(_cleanup, tmp_path, prefix)
