"""Routers between namespace guests on a simulated host and an "outside" client namespace on
the external bridge (no uplink; nothing leaves the test's namespaces): SNAT to the gateway
address, a floating IP both ways, an agent restart, and a removed router leaving nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import uuid

import pytest
from pyroute2 import IPRoute

from ministack.network.agent.desired import (
    DHCP_OWNER,
    NetworkSpec,
    PortSpec,
    RouterLeg,
    RouterSpec,
    SubnetSpec,
)
from ministack.network.agent.linux import netns
from tests.e2e.network import packets
from tests.e2e.network.dataplane import Lab, SimHost, _mac, lease

pytestmark = pytest.mark.e2e

WHOAMI_PORT = 7300


class Whoami:
    """A listener in `ns` answering each connection with the peer's address."""

    def __init__(self, ns: str) -> None:
        def make() -> socket.socket:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", WHOAMI_PORT))
            sock.listen(8)
            sock.settimeout(0.2)
            return sock

        self.sock = netns.run_in(ns, make)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(peer[0].encode())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


async def seen_as(ns: str, ip: str, within: float = 5.0) -> str | None:
    """The address the Whoami at `ip` saw this namespace come from; None if unreachable."""

    def ask() -> str:
        with socket.create_connection((ip, WHOAMI_PORT), timeout=1.0) as conn:
            return conn.recv(64).decode()

    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await asyncio.to_thread(netns.run_in, ns, ask)
        except OSError:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.2)


def external(lab: Lab) -> str:
    """The flat external network 172.24.4.0/24 (gateway .1 on the host's bridge, no DHCP)."""
    net_id = str(uuid.uuid4())
    subnet = SubnetSpec(str(uuid.uuid4()), "172.24.4.0/24", "172.24.4.1", enable_dhcp=False)
    lab.world.networks[net_id] = NetworkSpec(net_id, 1500, None, (subnet,), external=True)
    return net_id


def leg(lab: Lab, network_id: str, ip: str, owner: str, router_id: str) -> RouterLeg:
    net = lab.world.networks[network_id]
    subnet = net.subnets[0]
    port = PortSpec(
        str(uuid.uuid4()),
        _mac(),
        ((subnet.subnet_id, ip),),
        device_id=router_id,
        device_owner=owner,
        host="h1",
    )
    lab.world.add_port(network_id, port)
    plen = subnet.cidr.split("/")[1]
    return RouterLeg(port.port_id, port.mac, network_id, f"{ip}/{plen}")


def outside_on(prefix: str, host_ns: str, network_id: str) -> str:
    """A client namespace on the external bridge at 172.24.4.100 (the "outside world")."""
    ns = f"{prefix}out"
    netns.ensure(ns)
    with IPRoute(netns=host_ns) as ipr:
        ipr.link("add", ifname="outside0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": ns})
        br = ipr.link_lookup(ifname="brq" + network_id[:11])[0]
        ipr.link("set", index=ipr.link_lookup(ifname="outside0")[0], master=br, state="up")
    with IPRoute(netns=ns) as ipr:
        eth0 = ipr.link_lookup(ifname="eth0")[0]
        ipr.addr("add", index=eth0, address="172.24.4.100", prefixlen=24)
        ipr.link("set", index=eth0, state="up")
    return ns


def outside(lab: Lab, host: SimHost, network_id: str) -> str:
    return outside_on(lab.prefix, host.ns, network_id)


async def test_snat_floating_ip_restart_and_removal(lab: Lab) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    ext = external(lab)
    private = lab.network("10.40.0.0/24")
    router_id = str(uuid.uuid4())
    inside = leg(lab, private, "10.40.0.1", "network:router_interface", router_id)
    gateway = leg(lab, ext, "172.24.4.10", "network:router_gateway", router_id)
    g1 = await lab.boot(h1, private, lab.port(private, "10.40.0.11", "h1", "g1"))
    g2 = await lab.boot(h1, private, lab.port(private, "10.40.0.12", "h1", "g2"))
    spec = RouterSpec(router_id, (inside,), gateway, "172.24.4.1", True, (), ())
    lab.world.routers[router_id] = spec
    links_before = set(await h1.links())
    await agent.start()
    await lease(g1)
    await lease(g2)
    out_ns = await asyncio.to_thread(outside, lab, h1, ext)
    assert "172.24.4.1" in packets.host_run(h1.ns, "ip", "-4", "addr", "show", "brq" + ext[:11])
    world = await asyncio.to_thread(Whoami, out_ns)
    try:
        # SNAT: the outside sees the router's gateway address
        assert await seen_as(g1.ns, "172.24.4.100") == "172.24.4.10"
        # no floating IP yet: the outside cannot reach g2
        g2_server = await asyncio.to_thread(Whoami, g2.ns)
        try:
            assert await seen_as(out_ns, "172.24.4.50", within=1.0) is None
            lab.world.routers[router_id] = dataclasses.replace(
                spec, floating=(("172.24.4.50", g2.ip),)
            )
            await agent.sync_network(private)
            assert await seen_as(out_ns, "172.24.4.50") == "172.24.4.100"  # DNAT in
            assert await seen_as(g2.ns, "172.24.4.100") == "172.24.4.50"  # SNAT out
            assert await seen_as(g1.ns, "172.24.4.100") == "172.24.4.10"
            # a restarted agent keeps (re-makes) the router and its NAT
            await agent.stop()
            restarted = lab.agent(h1)
            await restarted.start()
            assert await seen_as(out_ns, "172.24.4.50") == "172.24.4.100"
            assert await seen_as(g1.ns, "172.24.4.100") == "172.24.4.10"
        finally:
            await asyncio.to_thread(g2_server.close)
    finally:
        await asyncio.to_thread(world.close)
    # the router goes: its namespace and legs with it
    del lab.world.routers[router_id]
    for network_id, owner_leg in ((private, inside), (ext, gateway)):
        net = lab.world.networks[network_id]
        ports = tuple(p for p in net.ports if p.port_id != owner_leg.port_id)
        lab.world.networks[network_id] = dataclasses.replace(net, ports=ports)
    await restarted.sync()
    assert not [n for n in netns.names(lab.prefix) if "qrouter-" in n]
    links = set(await h1.links())
    assert "tap" + inside.port_id[:11] not in links
    assert "tap" + gateway.port_id[:11] not in links
    assert links - {"outside0"} - links_before <= {"brq" + private[:11]} | {
        "tap" + p.port_id[:11] for p in lab.world.networks[private].ports
    }
    assert DHCP_OWNER  # the private network's DHCP port stays with its network
