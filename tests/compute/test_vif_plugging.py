"""A build waits for network-vif-plugged of each port around the spawn (Nova's
wait_for_instance_event): an event that arrives early counts, a port never plugged fails with
a message naming it (vif_plugging_is_fatal) or is let through, and a driver whose guests plug
no taps waits for nothing. The network_data.json and addresses built from the info cache."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, cast

import pytest

from ministack import config
from ministack.compute import network_info
from ministack.compute.agent import networking
from ministack.compute.agent.base import AgentBase, AgentDeps
from ministack.compute.virt.fake import FakeDriver

PORTS = ["p-one", "p-two"]
INFO = [{"port_id": p} for p in PORTS]


def agent(tmp: Path, *, timeout: int = 1, fatal: bool = True, plugs: bool = True) -> AgentBase:
    settings = config.load(env={})
    compute = dataclasses.replace(
        settings.compute, vif_plugging_timeout=timeout, vif_plugging_is_fatal=fatal
    )
    deps = cast(
        AgentDeps,
        dataclasses.make_dataclass("Deps", ["settings"])(
            dataclasses.replace(settings, compute=compute)
        ),
    )
    return AgentBase("h1", FakeDriver("h1", netns_guests=tmp if plugs else None), deps)


async def test_events_arriving_during_the_spawn_complete_the_wait(tmp_path: Path) -> None:
    a = agent(tmp_path, timeout=30)
    async with networking.plugged(a, "u1", INFO):
        assert a.events.deliver("u1", networking.VIF_PLUGGED, "p-one")  # before the spawn ends
        asyncio.get_running_loop().call_soon(a.events.deliver, "u1", "network-vif-plugged", "p-two")
    assert a.events.waiting == {}


async def test_a_port_never_plugged_fails_naming_it(tmp_path: Path) -> None:
    a = agent(tmp_path)
    with pytest.raises(networking.VifPlugTimeout, match="port p-two of instance u1"):
        async with networking.plugged(a, "u1", INFO):
            a.events.deliver("u1", networking.VIF_PLUGGED, "p-one")
    assert a.events.waiting == {}
    assert not a.events.deliver("u1", networking.VIF_PLUGGED, "p-two")  # nobody waits now


async def test_not_fatal_boots_on_and_pretend_guests_wait_for_nothing(tmp_path: Path) -> None:
    async with networking.plugged(agent(tmp_path, fatal=False), "u1", INFO):
        pass
    pretend = agent(tmp_path, timeout=3600, plugs=False)
    async with networking.plugged(pretend, "u1", INFO):
        assert pretend.events.waiting == {}


def _entry(dhcp: bool) -> dict[str, Any]:
    return {
        "port_id": "port-1",
        "network_id": "net-1",
        "network_name": "private",
        "mac": "fa:16:3e:00:00:01",
        "mtu": 1450,
        "bridge": "brqnet-1",
        "tap": "tapport-1",
        "vif_type": "bridge",
        "ips": [{"address": "10.0.0.5", "version": 4, "subnet_id": "s1"}],
        "subnets": {
            "s1": {
                "cidr": "10.0.0.0/26",
                "gateway_ip": "10.0.0.1",
                "dns_nameservers": ["10.0.0.2"],
                "host_routes": [],
                "enable_dhcp": dhcp,
            }
        },
    }


def test_network_data_and_addresses_follow_nova() -> None:
    data = network_info.network_data([_entry(dhcp=False)])
    assert data["links"] == [
        {
            "id": "tapport-1",
            "vif_id": "port-1",
            "type": "bridge",
            "mtu": 1450,
            "ethernet_mac_address": "fa:16:3e:00:00:01",
        }
    ]
    (net,) = data["networks"]
    assert net["type"] == "ipv4" and net["ip_address"] == "10.0.0.5"
    assert net["netmask"] == "255.255.255.192"
    assert net["routes"] == [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]
    assert data["services"] == [{"type": "dns", "address": "10.0.0.2"}]
    dhcp = network_info.network_data([_entry(dhcp=True)])["networks"][0]
    assert dhcp == {
        "id": "network0",
        "link": "tapport-1",
        "network_id": "net-1",
        "type": "ipv4_dhcp",
    }
    assert network_info.addresses([_entry(dhcp=True)]) == {
        "private": [
            {
                "version": 4,
                "addr": "10.0.0.5",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
            }
        ]
    }
