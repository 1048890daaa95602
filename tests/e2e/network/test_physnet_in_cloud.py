"""Flat networks on a mapped physical bridge, through a running cloud (its host played by a
namespace): with `bridge_mappings = physnet1:<bridge>` (a bridge the test makes inside the
simulated host), a flat network on physnet1 puts its guests' taps, its DHCP port and a
router's gateway leg on that bridge (no `brq` bridge of its own); guests lease their fixed IPs
and reach each other; the DHCP port and the router's ports go ACTIVE; an unknown physical
network and a VLAN network are refused with 400; deleting everything leaves the mapped bridge
in place (the agent never makes or removes it)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import openstack.exceptions
import pytest
from pyroute2 import IPRoute

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import Guest, dnsmasq_pids, hostname_at, lease
from tests.e2e.network.test_agent_in_cloud import _boot, _wait

pytestmark = pytest.mark.e2e

PHYS_BRIDGE = "brphys1"


def _make_bridge(ns: str) -> None:
    with IPRoute(netns=ns) as ipr:
        ipr.link("add", ifname=PHYS_BRIDGE, kind="bridge")
        ipr.link("set", index=ipr.link_lookup(ifname=PHYS_BRIDGE)[0], state="up")


def _masters(ns: str) -> dict[str, str]:
    """Link name → the name of its bridge ('' when in none)."""
    with IPRoute(netns=ns) as ipr:
        links = list(ipr.get_links())
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in links}
    return {
        link.get_attr("IFLA_IFNAME"): names.get(link.get_attr("IFLA_MASTER") or 0, "")
        for link in links
    }


async def _port_status(conn: object, port_id: str, status: str) -> None:
    await _wait(lambda: conn.network.get_port(port_id).status == status)  # type: ignore[attr-defined]


async def test_a_flat_network_on_a_mapped_bridge(tmp_path: Path) -> None:
    prefix = "n12" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    await asyncio.to_thread(_make_bridge, host_ns)
    guests: list[Guest] = []
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
        "MINISTACK_NETWORK_AGENT_BRIDGE_MAPPINGS": f"physnet1:{PHYS_BRIDGE}",
    }
    try:
        with running_cloud(
            tmp_path / "cloud", services=("identity", "network"), extra_env=env
        ) as cloud:
            host = cloud.env["MINISTACK_DEFAULT_HOST"]
            conn = cloud.connect()
            with pytest.raises(openstack.exceptions.BadRequestException, match="physnet9"):
                conn.network.create_network(
                    provider_network_type="flat", provider_physical_network="physnet9"
                )
            with pytest.raises(openstack.exceptions.BadRequestException, match="VLAN"):
                conn.network.create_network(
                    provider_network_type="vlan",
                    provider_physical_network="physnet1",
                    provider_segmentation_id=100,
                )
            assert not [n for n in conn.network.networks() if n.name.startswith(prefix)]
            net = conn.network.create_network(
                name=f"{prefix}-flat",
                is_router_external=True,
                provider_network_type="flat",
                provider_physical_network="physnet1",
            )
            assert net.provider_physical_network == "physnet1"
            subnet = conn.network.create_subnet(
                network_id=net.id, cidr="10.61.0.0/24", ip_version=4, gateway_ip="10.61.0.1"
            )
            ports = [
                conn.network.create_port(network_id=net.id, binding_host_id=host) for _ in range(2)
            ]
            assert ports[0].binding_vif_details["bridge_name"] == PHYS_BRIDGE
            for i, port in enumerate(ports):
                guests.append(await _boot(prefix, host_ns, tmp_path, port, f"p{i}"))
            for guest in guests:
                assert (await lease(guest))["ip"] == guest.ip
            assert await hostname_at(guests[0], guests[1].ip) == "p1"
            masters = await asyncio.to_thread(_masters, host_ns)
            for port in ports:
                assert masters["tap" + port.id[:11]] == PHYS_BRIDGE
                await _port_status(conn, port.id, "ACTIVE")
            assert "brq" + net.id[:11] not in masters
            dhcp = list(conn.network.ports(network_id=net.id, device_owner="network:dhcp"))
            assert len(dhcp) == 1
            assert masters["tap" + dhcp[0].id[:11]] == PHYS_BRIDGE
            await _port_status(conn, dhcp[0].id, "ACTIVE")

            # a router: its gateway leg on the mapped bridge, its interface on a tenant net;
            # both ports go ACTIVE once the router's namespace has them
            private = conn.network.create_network(name=f"{prefix}-private")
            inner = conn.network.create_subnet(
                network_id=private.id, cidr="10.62.0.0/24", ip_version=4
            )
            router = conn.network.create_router(
                name=f"{prefix}-r", external_gateway_info={"network_id": net.id}
            )
            conn.network.add_interface_to_router(router, subnet=inner.id)
            gw = next(conn.network.ports(device_id=router.id, network_id=net.id))
            leg = next(conn.network.ports(device_id=router.id, network_id=private.id))
            await _port_status(conn, gw.id, "ACTIVE")
            await _port_status(conn, leg.id, "ACTIVE")
            masters = await asyncio.to_thread(_masters, host_ns)
            assert masters["tap" + gw.id[:11]] == PHYS_BRIDGE
            assert masters["tap" + leg.id[:11]] == "brq" + private.id[:11]

            conn.network.remove_interface_from_router(router, subnet=inner.id)
            conn.network.update_router(router, external_gateway_info=None)
            conn.network.delete_router(router)
            conn.network.delete_network(private)
            for guest in guests:
                await asyncio.to_thread(
                    netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap]
                )
            guests.clear()
            for port in ports:
                conn.network.delete_port(port)
            conn.network.delete_subnet(subnet)
            conn.network.delete_network(net)

            def only_the_mapped_bridge_is_left() -> bool:
                left = _masters(host_ns)
                ours = [n for n in left if n.startswith(("tap", "brq"))]
                return not ours and not netns.names(f"{host_ns}-q")

            async with asyncio.timeout(30):
                while not await asyncio.to_thread(only_the_mapped_bridge_is_left):
                    await asyncio.sleep(0.2)
            assert PHYS_BRIDGE in await asyncio.to_thread(_masters, host_ns)
    finally:
        for guest in guests:
            await asyncio.to_thread(netns_guest.remove, guest.ns, guest.state, host_ns, [guest.tap])
        for pid in dnsmasq_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
