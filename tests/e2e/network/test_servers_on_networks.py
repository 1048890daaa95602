"""Servers made through compute get real NICs (the fake driver's namespace guests, the network
agent with its host played by a namespace): `openstack server create --network` is ACTIVE
only once each port is plugged; each guest gets its port's address by DHCP; two servers on one
network reach each other by fixed IP; a NIC hot-plugged into one is answered once plugged and
goes with `server remove port`; a rebuilt guest comes back on its port; deleting them leaves
no guest namespace, tap or port.
A port no agent reports plugged fails the build with a fault naming it, and its port is gone."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from ministack.compute.virt import netns_guest
from ministack.network.agent.desired import PortSpec
from ministack.network.agent.linux import netns
from tests.cloud import Cloud, running_cloud
from tests.e2e.network.dataplane import Guest, SimHost, dnsmasq_pids, hostname_at, lease

pytestmark = pytest.mark.e2e

SERVICES = ("identity", "image", "placement", "compute", "network")


def _env(host_ns: str, agent: bool) -> dict[str, str]:
    return {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true" if agent else "false",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",  # taps seen by netlink events
        "MINISTACK_COMPUTE_FAKE_NETNS_GUESTS": "true",
    }


def _prepare(cloud: Cloud, prefix: str) -> tuple[str, str]:
    conn = cloud.connect()
    image = conn.image.create_image(
        name="i", data=b"\0" * 4096, disk_format="raw", container_format="bare"
    )
    flavor = conn.compute.create_flavor(name=f"{prefix}-f", ram=64, vcpus=1, disk=1)
    return image.id, flavor.id


def _create(cloud: Cloud, image: str, flavor: str, net: str, name: str, wait: bool) -> dict:  # type: ignore[type-arg]
    args = ["server", "create", "--image", image, "--flavor", flavor, "--network", net]
    out = cloud.cli(*args, *(["--wait"] if wait else []), "-f", "json", name).stdout
    server: dict = json.loads(out)  # type: ignore[type-arg]
    return server


def _guest(cloud: Cloud, server_id: str, host_ns: str, port: object) -> Guest:
    state = next((cloud.state_dir / "fake-guests").glob(f"*/{server_id}"))
    fixed = tuple((f["subnet_id"], f["ip_address"]) for f in port.fixed_ips)  # type: ignore[attr-defined]
    spec = PortSpec(port.id, port.mac_address, fixed)  # type: ignore[attr-defined]
    return Guest(netns_guest.namespace(server_id), state, spec, SimHost("", host_ns, "", state), "")


def _links(host_ns: str) -> set[str]:
    with IPRoute(netns=host_ns) as ipr:
        return {str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}


def _cleanup(tmp: Path, prefix: str, servers: list[str]) -> None:
    for pid in dnsmasq_pids(tmp):  # dnsmasq outlives the agent by design
        os.kill(pid, signal.SIGKILL)
    for server_id in servers:  # the guests of servers a failed test did not delete
        for state in tmp.glob(f"cloud/fake-guests/*/{server_id}"):
            netns_guest.remove(netns_guest.namespace(server_id), state)
        ns = netns_guest.namespace(server_id)
        if ns in netns.names(netns_guest.NS_PREFIX):
            netns.remove(ns)
    for name in netns.names(prefix):
        netns.remove(name)


async def test_two_servers_on_one_network_get_their_addresses_and_reach_each_other(
    tmp_path: Path,
) -> None:
    prefix = "nc" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    servers: list[str] = []
    try:
        env = _env(host_ns, agent=True)
        with running_cloud(tmp_path / "cloud", services=SERVICES, extra_env=env) as cloud:
            conn = cloud.connect()
            image, flavor = _prepare(cloud, prefix)
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.47.0.0/24", ip_version=4)
            guests = []
            for name in ("one", "two"):
                server = _create(cloud, image, flavor, net.name, name, wait=True)
                servers.append(server["id"])
                assert server["status"] == "ACTIVE"
                (port,) = conn.network.ports(device_id=server["id"])
                assert port.status == "ACTIVE"  # plugged: the build waited for it
                guests.append(_guest(cloud, server["id"], host_ns, port))
            for guest in guests:
                assert (await lease(guest))["ip"] == guest.ip  # its port's fixed IP by DHCP
            assert await hostname_at(guests[0], guests[1].ip) == "two"
            assert await hostname_at(guests[1], guests[0].ip) == "one"
            shown = conn.compute.get_server(servers[0]).addresses[net.name]
            assert [a["addr"] for a in shown] == [guests[0].ip]
            # hot-plug: the answer comes once the network agent saw the new tap plugged
            cloud.cli("server", "add", "network", servers[0], net.id)
            (added,) = {p.id for p in conn.network.ports(device_id=servers[0])} - {
                guests[0].port.port_id
            }
            assert conn.network.get_port(added).status == "ACTIVE"
            assert "tap" + added[:11] in await asyncio.to_thread(_links, host_ns)
            cloud.cli("server", "remove", "port", servers[0], added)
            assert conn.network.find_port(added) is None
            assert "tap" + added[:11] not in await asyncio.to_thread(_links, host_ns)
            # a rebuild makes the guest anew with the same NIC (from the info cache)
            cloud.cli("server", "rebuild", "--wait", servers[0])
            assert (await lease(guests[0]))["ip"] == guests[0].ip
            assert await hostname_at(guests[1], guests[0].ip) == "one"
            for server_id in servers:
                cloud.cli("server", "delete", "--wait", server_id)
            assert list(conn.network.ports(device_owner="compute:nova")) == []
            assert not [g for g in guests if g.ns in netns.names(netns_guest.NS_PREFIX)]
            async with asyncio.timeout(30):
                while {g.tap for g in guests} & await asyncio.to_thread(_links, host_ns):
                    await asyncio.sleep(0.2)
    finally:
        _cleanup(tmp_path, prefix, servers)


async def test_a_port_never_plugged_fails_the_build_naming_it(tmp_path: Path) -> None:
    prefix = "nc" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    servers: list[str] = []
    try:
        env = {**_env(host_ns, agent=False), "MINISTACK_COMPUTE_VIF_PLUGGING_TIMEOUT": "3"}
        with running_cloud(tmp_path / "cloud", services=SERVICES, extra_env=env) as cloud:
            conn = cloud.connect()
            image, flavor = _prepare(cloud, prefix)
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.48.0.0/24", ip_version=4)
            server = _create(cloud, image, flavor, net.name, "lonely", wait=False)
            servers.append(server["id"])
            got = conn.compute.wait_for_server(
                conn.compute.get_server(server["id"]), status="ERROR", failures=[], wait=60
            )
            assert "was not plugged within 3 s" in got.fault["message"]
            assert "aborted" in got.fault["message"]
            assert list(conn.network.ports(device_owner="compute:nova")) == []
            assert netns_guest.namespace(server["id"]) not in netns.names(netns_guest.NS_PREFIX)
            links = await asyncio.to_thread(_links, host_ns)
            assert {n for n in links if n.startswith("tap")} == set()
            cloud.cli("server", "delete", "--wait", server["id"])
    finally:
        _cleanup(tmp_path, prefix, servers)
