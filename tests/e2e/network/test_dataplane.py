"""Packets between namespace guests on simulated hosts: reachability and isolation, DHCP,
metadata, agent restart, VXLAN between hosts, moving a port, and a clean delete."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json

import pytest
from pyroute2 import IPRoute

from ministack.network.agent.linux import netns
from tests.e2e.network.dataplane import (
    Lab,
    dnsmasq_pids,
    host_objects,
    hostname_at,
    lease,
    metadata,
    resolve,
)

pytestmark = pytest.mark.e2e


async def test_guests_on_a_network_reach_each_other_and_other_networks_are_isolated(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net_a = lab.network("10.9.0.0/24")
    net_b = lab.network("10.9.0.0/24")  # the same CIDR in another network
    a1 = await lab.boot(h1, net_a, lab.port(net_a, "10.9.0.11", "h1", "a1"))
    a2 = await lab.boot(h1, net_a, lab.port(net_a, "10.9.0.12", "h1", "a2"))
    b1 = await lab.boot(h1, net_b, lab.port(net_b, "10.9.0.11", "h1", "b1"))
    b2 = await lab.boot(h1, net_b, lab.port(net_b, "10.9.0.13", "h1", "b2"))
    await agent.start()
    for guest in (a1, a2, b1, b2):
        got = await lease(guest)
        assert got["ip"] == guest.ip  # exactly the port's fixed IP, by DHCP
        assert got["mtu"] == 1500
        assert got["hostname"] == guest.port.hostname
    assert await hostname_at(a1, "10.9.0.12") == "a2"
    assert await hostname_at(a2, "10.9.0.11") == "a1"
    # the network's DNS (its dnsmasq, the DNS server DHCP handed out) knows its instances
    dns = (await lease(a1))["dns"]
    assert dns == ["10.9.0.2"]
    assert await resolve(a1, "10.9.0.2", "a2.openstacklocal") == ["10.9.0.12"]
    assert await resolve(b2, "10.9.0.2", "b1.openstacklocal") == ["10.9.0.11"]
    assert await resolve(b2, "10.9.0.2", "a2.openstacklocal") == []
    # b2 finds its own network's 10.9.0.11 (b1), never a1, and no 10.9.0.12 at all
    assert await hostname_at(b2, "10.9.0.11") == "b1"
    assert await hostname_at(b2, "10.9.0.12", within=3.0) is None
    dhcp_ports = {
        p.port_id
        for n in (net_a, net_b)
        for p in lab.world.networks[n].ports
        if p.device_owner == "network:dhcp"
    }
    assert len(dhcp_ports) == 2  # the DHCP ports are reported ACTIVE too (Neutron's do)
    assert {(p, s) for p, _, s in lab.world.reports} == {
        (port_id, "ACTIVE") for port_id in {g.port.port_id for g in (a1, a2, b1, b2)} | dhcp_ports
    }


async def test_metadata_gives_each_guest_its_own_data_and_404_to_unknown_sources(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.7.0.0/24")
    g1 = await lab.boot(h1, net, lab.port(net, "10.7.0.21", "h1", "meta-one"))
    g2 = await lab.boot(h1, net, lab.port(net, "10.7.0.22", "h1", "meta-two"))
    await agent.start()
    for guest in (g1, g2):
        await lease(guest)
        status, body = await metadata(guest.ns, "/openstack/latest/meta_data.json")
        assert status == 200
        data = json.loads(body)
        assert data["uuid"] == guest.port.device_id
        assert data["hostname"] == guest.port.hostname
        status, body = await metadata(guest.ns, "/openstack/latest/user_data")
        assert (status, body) == (200, f"#!/bin/sh\necho {guest.port.hostname}\n".encode())
        status, body = await metadata(guest.ns, "/latest/meta-data/local-ipv4")
        assert (status, body.decode()) == (200, guest.ip)
        status, body = await metadata(guest.ns, "/openstack/latest/network_data.json")
        assert json.loads(body)["links"][0]["ethernet_mac_address"] == guest.port.mac
    # an address no port holds (set by hand, as a spoofing guest would) gets 404
    await asyncio.to_thread(_add_address, g2.ns, "eth0", "10.7.0.99")
    status, _ = await _from_address(g2.ns, "10.7.0.99")
    assert status == 404


def _add_address(ns: str, device: str, address: str) -> None:
    with IPRoute(netns=ns) as ipr:
        index = ipr.link_lookup(ifname=device)[0]
        ipr.addr("add", index=index, address=address, prefixlen=24)


def _add_bridge(ns: str, name: str) -> None:
    with IPRoute(netns=ns) as ipr:
        ipr.link("add", ifname=name, kind="bridge")


async def _from_address(ns: str, source: str) -> tuple[int, bytes]:
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


async def test_a_tap_plugged_after_the_port_is_bound_is_wired_at_once(lab: Lab) -> None:
    """The hypervisor plugs after binding: netlink's link event, not a periodic pass (none
    runs in this test), puts the tap in its bridge and reports the port ACTIVE."""
    h1 = await lab.host("h1")
    agent = lab.agent(h1, resync=3600.0)
    net = lab.network("10.4.0.0/24")
    port = lab.port(net, "10.4.0.11", "h1", "late")
    await agent.start()

    def of_port() -> list[tuple[str, str, str]]:
        return [r for r in lab.world.reports if r[0] == port.port_id]  # not the DHCP port's

    assert of_port() == []  # bound, no tap yet: nothing to report
    guest = await lab.boot(h1, net, port)
    assert (await lease(guest))["ip"] == "10.4.0.11"
    assert of_port() == [(port.port_id, "h1", "ACTIVE")]


async def test_agent_restart_keeps_connectivity_and_removes_a_stale_bridge(lab: Lab) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.8.0.0/24")
    g1 = await lab.boot(h1, net, lab.port(net, "10.8.0.11", "h1", "r1"))
    g2 = await lab.boot(h1, net, lab.port(net, "10.8.0.12", "h1", "r2"))
    await agent.start()
    await lease(g1)
    await lease(g2)
    dnsmasq_before = dnsmasq_pids(lab.tmp)
    await agent.stop()  # a crash or restart: the data plane stays
    await asyncio.to_thread(_add_bridge, h1.ns, "brqdeadbeef-00")
    assert await hostname_at(g1, "10.8.0.12") == "r2"
    restarted = lab.agent(h1)
    await restarted.start()
    assert "brqdeadbeef-00" not in (await h1.links())
    assert await hostname_at(g1, "10.8.0.12") == "r2"
    assert dnsmasq_pids(lab.tmp) == dnsmasq_before  # reused, not restarted
    status, _ = await metadata(g2.ns, "/openstack/latest/meta_data.json")
    assert status == 200


async def test_guests_on_two_hosts_reach_each_other_over_vxlan_and_a_move_updates_fdb(
    lab: Lab,
) -> None:
    h1, h2, h3 = [await lab.host(n) for n in ("h1", "h2", "h3")]
    agents = [lab.agent(h) for h in (h1, h2, h3)]
    net = lab.network("10.6.0.0/24", vni=4242, dhcp_host="h1")
    p1 = lab.port(net, "10.6.0.11", "h1", "x1")
    p2 = lab.port(net, "10.6.0.12", "h2", "x2")
    g1 = await lab.boot(h1, net, p1)
    g2 = await lab.boot(h2, net, p2)
    for agent in agents:
        await agent.start()
    assert (await lease(g1))["ip"] == "10.6.0.11"
    assert (await lease(g2))["mtu"] == 1450  # DHCP served from h1, across the tunnel
    assert await hostname_at(g2, "10.6.0.11") == "x1"
    assert (p2.mac, h2.vtep) in (await h1.fdb("vxlan-4242"))
    assert ("00:00:00:00:00:00", h2.vtep) in (await h1.fdb("vxlan-4242"))
    assert "vxlan-4242" not in (await h3.links())  # no port there: nothing made

    # move x2 to h3 (as a migration re-binds its port), then tell every agent
    await lab.unplug(g2)
    lab.guests.remove(g2)
    moved = lab.world.networks[net]
    p2_moved = next(p for p in moved.ports if p.port_id == p2.port_id)
    p2_moved = dataclasses.replace(p2_moved, host="h3")
    lab.world.replace_port(net, p2_moved)
    g3 = await lab.boot(h3, net, p2_moved)
    for agent in agents:
        await agent.sync_network(net)
    assert (p2.mac, h3.vtep) in (await h1.fdb("vxlan-4242"))
    assert (p2.mac, h2.vtep) not in (await h1.fdb("vxlan-4242"))
    assert "brq" + net[:11] not in (await h2.links())  # h2 has no port left there
    await lease(g3)
    assert await hostname_at(g3, "10.6.0.11") == "x1"


async def test_deleting_a_network_leaves_nothing_on_the_host(lab: Lab) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    before = await host_objects(lab, [h1])
    net = lab.network("10.5.0.0/24", vni=77)
    g1 = await lab.boot(h1, net, lab.port(net, "10.5.0.11", "h1", "d1"))
    await agent.start()
    await lease(g1)
    during = await host_objects(lab, [h1])
    assert during["dnsmasq"] and f"{h1.ns}-qdhcp-{net}" in during["namespaces"]
    await lab.unplug(g1)  # the guest goes first (compute deletes the server), then the network
    lab.guests.remove(g1)
    del lab.world.networks[net]
    await agent.sync_network(net)
    assert (await host_objects(lab, [h1])) == before
    # removing what is already gone succeeds and changes nothing (a repeated message)
    again = await agent.sync_network(net)
    assert (again.errors, again.removed) == ({}, [])
    assert (await host_objects(lab, [h1])) == before
