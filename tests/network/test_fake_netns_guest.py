"""The fake driver's namespace guests: spawn plugs a namespace like a VM, destroy leaves
nothing (its namespace, taps and files are gone)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from pyroute2 import IPRoute, netns

from ministack.compute.virt import netns_guest
from ministack.compute.virt.driver import GuestSpec, Vif
from ministack.compute.virt.fake import FakeDriver


def _links(ns: str | None) -> dict[str, str]:
    with IPRoute(netns=ns) if ns else IPRoute() as ipr:
        return {m.get_attr("IFLA_IFNAME"): m.get_attr("IFLA_ADDRESS") for m in ipr.get_links()}


async def test_spawn_makes_a_plugged_namespace_and_destroy_removes_it(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("namespace guests need root")
    driver = FakeDriver("h1", netns_guests=tmp_path)
    guest_id, port_id = str(uuid.uuid4()), str(uuid.uuid4())
    vif = Vif(port_id=port_id, mac="fa:16:3e:12:34:56", mtu=1450)
    spec = GuestSpec(guest_id, "g", "g", 1, 64, 1, None, vifs=(vif,))
    ns, tap = netns_guest.namespace(guest_id), "tap" + port_id[:11]
    try:
        await driver.spawn(spec)
        assert ns in netns.listnetns()
        assert (await asyncio.to_thread(_links, ns))["eth0"] == "fa:16:3e:12:34:56"
        assert tap in await asyncio.to_thread(_links, None)
        assert netns_guest.running(tmp_path / guest_id) is not None
    finally:
        await driver.destroy(guest_id)
    assert ns not in netns.listnetns()
    assert tap not in await asyncio.to_thread(_links, None)
    assert list(tmp_path.iterdir()) == []
