"""A router's extra routes (extraroute) and enable_snat on the data plane, with namespace
guests and a client namespace on the external bridge (no uplink; nothing leaves the test's
namespaces): an extra route appears in and leaves the router's namespace as the router's
routes change; metadata answers a guest behind the router; with SNAT off the outside sees
the guest's own address (it has a route back through the router), with SNAT on the
router's gateway address."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

import pytest

from ministack.network.agent.desired import RouterSpec
from ministack.network.agent.linux import netns
from tests.e2e.network import packets
from tests.e2e.network.dataplane import Lab, lease, metadata
from tests.e2e.network.test_routers import Whoami, external, leg, outside, seen_as

pytestmark = pytest.mark.e2e


async def test_extra_routes_and_enable_snat_follow_the_router(lab: Lab) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    ext = external(lab)
    private = lab.network("10.41.0.0/24")
    router_id = str(uuid.uuid4())
    inside = leg(lab, private, "10.41.0.1", "network:router_interface", router_id)
    gateway = leg(lab, ext, "172.24.4.11", "network:router_gateway", router_id)
    g1 = await lab.boot(h1, private, lab.port(private, "10.41.0.11", "h1", "g1"))
    route = ("10.200.0.0/16", "10.41.0.5")
    spec = RouterSpec(router_id, (inside,), gateway, "172.24.4.1", False, (route,), ())
    lab.world.routers[router_id] = spec
    await agent.start()
    await lease(g1)
    out_ns = await asyncio.to_thread(outside, lab, h1, ext)
    # the outside (a namespace of this test) routes the private subnet back via the router
    packets.host_run(out_ns, "ip", "route", "add", "10.41.0.0/24", "via", "172.24.4.11")
    qrouter = [n for n in netns.names(lab.prefix) if n.endswith("qrouter-" + router_id)]
    assert len(qrouter) == 1, netns.names(lab.prefix)
    assert "10.200.0.0/16 via 10.41.0.5" in packets.host_run(qrouter[0], "ip", "-4", "route")
    # metadata keeps working behind the router (DHCP routes 169.254.169.254 to its own port)
    status, body = await metadata(g1.ns, "/openstack/latest/meta_data.json")
    assert (status, json.loads(body)["hostname"]) == (200, "g1")
    world = await asyncio.to_thread(Whoami, out_ns)
    try:
        assert await seen_as(g1.ns, "172.24.4.100") == "10.41.0.11"  # SNAT off
        lab.world.routers[router_id] = dataclasses.replace(spec, enable_snat=True, routes=())
        await agent.sync_network(private)
        assert await seen_as(g1.ns, "172.24.4.100") == "172.24.4.11"  # SNAT on
        assert "10.200.0.0/16" not in packets.host_run(qrouter[0], "ip", "-4", "route")
    finally:
        await asyncio.to_thread(world.close)
