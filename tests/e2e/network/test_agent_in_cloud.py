"""The network agent inside a running cloud (its host played by a namespace): a subnet gets a
DHCP port and a dnsmasq; ports bound to the host are wired when their tap appears, go ACTIVE
and hand their fixed IP to the guest by DHCP; /v2.0/agents lists the host's three agents;
deleting the ports and the network leaves nothing on the host; a guest on a server's port
reads that server's metadata."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from ministack.compute.virt import netns_guest
from ministack.network.agent.desired import PortSpec
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import (
    Guest,
    SimHost,
    dnsmasq_pids,
    hostname_at,
    lease,
    metadata,
)

pytestmark = pytest.mark.e2e


async def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.2)


async def _boot(prefix: str, host_ns: str, tmp: Path, port: object, name: str) -> Guest:
    port_id, mac = port.id, port.mac_address  # type: ignore[attr-defined]
    fixed = tuple((f["subnet_id"], f["ip_address"]) for f in port.fixed_ips)  # type: ignore[attr-defined]
    ns = netns_guest.namespace(port_id, f"{prefix}-")
    state = tmp / "guests" / port_id
    nic = netns_guest.Nic("tap" + port_id[:11], mac, "", 1450)
    await asyncio.to_thread(netns_guest.plug, ns, [nic], host_ns)
    await asyncio.to_thread(netns_guest.start, ns, state, name, ["eth0"])
    sim = SimHost("", host_ns, "", tmp)
    return Guest(ns, state, PortSpec(port_id, mac, fixed, hostname=name), sim, "")


async def test_a_cloud_wires_ports_serves_dhcp_and_cleans_up(tmp_path: Path) -> None:
    prefix = "n10" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    guests: list[Guest] = []
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",  # taps seen by netlink events
    }
    services = ("identity", "network")
    try:
        with running_cloud(tmp_path / "cloud", services=services, extra_env=env) as cloud:
            host = cloud.env["MINISTACK_DEFAULT_HOST"]
            conn = cloud.connect()
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.44.0.0/24", ip_version=4)
            dhcp = {"network_id": net.id, "device_owner": "network:dhcp"}
            await _wait(lambda: len(list(conn.network.ports(**dhcp))) == 1)
            await _wait(lambda: f"{host_ns}-qdhcp-{net.id}" in netns.names(prefix))
            for name in ("one", "two"):
                port = conn.network.create_port(network_id=net.id, binding_host_id=host)
                guests.append(await _boot(prefix, host_ns, tmp_path, port, name))
            for guest in guests:
                assert (await lease(guest))["ip"] == guest.ip  # the port's fixed IP
                port_id = guest.port.port_id
                await _wait(lambda p=port_id: conn.network.get_port(p).status == "ACTIVE")
            assert await hostname_at(guests[0], guests[1].ip) == "two"
            agents = {a.agent_type: a for a in conn.network.agents(host=host)}
            assert set(agents) == {"Linux bridge agent", "DHCP agent", "Metadata agent"}
            assert all(a.is_alive for a in agents.values())

            for guest in guests:  # the servers go, then their ports, then the network
                await asyncio.to_thread(
                    netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap]
                )
                conn.network.delete_port(guest.port.port_id)
            guests.clear()
            conn.network.delete_network(net.id)
            await _wait(lambda: netns.names(prefix) == [host_ns])
            sim = SimHost(host, host_ns, "", tmp_path)
            async with asyncio.timeout(30):
                while set(await sim.links()) != {"lo"}:
                    await asyncio.sleep(0.2)
            assert not (tmp_path / "cloud" / "network" / "dhcp").exists()
    finally:
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):  # dnsmasq outlives the agent by design
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)


async def test_a_guest_reads_its_own_servers_metadata_through_the_cloud(tmp_path: Path) -> None:
    """The metadata path end to end: source address → port (database) → device_id → the
    instance's metadata from compute, signed and checked; an unknown source gets 404."""
    prefix = "n10" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    guests: list[Guest] = []
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",  # taps seen by netlink events
    }
    services = ("identity", "image", "placement", "compute", "network")
    try:
        with running_cloud(tmp_path / "cloud", services=services, extra_env=env) as cloud:
            host = cloud.env["MINISTACK_DEFAULT_HOST"]
            conn = cloud.connect()
            image = conn.image.create_image(
                name="i", data=b"\0" * 4096, disk_format="raw", container_format="bare"
            )
            flavor = conn.compute.create_flavor(name=f"{prefix}-f", ram=64, vcpus=1, disk=1)
            server = conn.compute.create_server(
                name="meta-vm",
                image_id=image.id,
                flavor_id=flavor.id,
                networks="none",
                user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
                metadata={"role": "db"},
            )
            conn.compute.wait_for_server(server, wait=60)
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.45.0.0/24", ip_version=4)
            port = conn.network.create_port(
                network_id=net.id,
                binding_host_id=host,
                device_id=server.id,
                device_owner="compute:nova",
                port_security_enabled=False,  # the guest sends from a second address below
            )
            guest = await _boot(prefix, host_ns, tmp_path, port, "meta-vm")
            guests.append(guest)
            await lease(guest)
            status, body = await metadata(guest.ns, "/openstack/latest/meta_data.json")
            assert status == 200
            data = json.loads(body)
            assert (data["uuid"], data["name"], data["meta"]) == (
                server.id,
                "meta-vm",
                {"role": "db"},
            )
            assert await metadata(guest.ns, "/openstack/latest/user_data") == (
                200,
                b"#!/bin/sh\necho hi\n",
            )
            assert (await metadata(guest.ns, "/latest/meta-data/local-ipv4"))[
                1
            ].decode() == guest.ip
            # a second address on the guest that no port holds: 404
            await asyncio.to_thread(_add_address, guest.ns, "10.45.0.250")
            assert (await _metadata_from(guest.ns, "10.45.0.250"))[0] == 404
    finally:
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):  # dnsmasq outlives the agent by design
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)


def _add_address(ns: str, address: str) -> None:
    with IPRoute(netns=ns) as ipr:
        index = ipr.link_lookup(ifname="eth0")[0]
        ipr.addr("add", index=index, address=address, prefixlen=24)


async def _metadata_from(ns: str, source: str) -> tuple[int, bytes]:
    def get() -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(
            "169.254.169.254", 80, timeout=5.0, source_address=(source, 0)
        )
        try:
            conn.request("GET", "/openstack/latest/meta_data.json")
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    return await asyncio.to_thread(netns.run_in, ns, get)
