"""`ministack down --clean` (`./unstack.sh --clean`): a plain stop leaves the network data plane
running for the guests, `--clean` removes this host's bridges, VXLAN devices, DHCP namespaces
and their dnsmasq (the host is played by a namespace)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import SimHost, dnsmasq_pids

pytestmark = pytest.mark.e2e


async def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.2)


async def test_down_clean_removes_the_data_plane_a_plain_down_leaves(tmp_path: Path) -> None:
    prefix = "n10" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    await asyncio.to_thread(netns.ensure, host_ns)
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
    }
    sim = SimHost("", host_ns, "", tmp_path)
    try:
        with running_cloud(
            tmp_path / "cloud", services=("identity", "network"), extra_env=env
        ) as cloud:
            conn = cloud.connect()
            net = conn.network.create_network(name=f"{prefix}-net")
            conn.network.create_subnet(network_id=net.id, cidr="10.45.0.0/24", ip_version=4)
            dhcp_ns = f"{host_ns}-qdhcp-{net.id}"
            await _wait(lambda: dhcp_ns in netns.names(prefix))
            await _wait(lambda: len(dnsmasq_pids(tmp_path)) == 1)
            cloud.stop()  # a plain stop: the data plane stays for the guests
            assert dhcp_ns in netns.names(prefix)
            assert len(dnsmasq_pids(tmp_path)) == 1
            assert set(await sim.links()) != {"lo"}

            out = cloud.ministack("down", "--clean").stdout
            assert "network data plane removed" in out
            assert netns.names(prefix) == [host_ns]
            await _wait(lambda: dnsmasq_pids(tmp_path) == [])
            assert set(await sim.links()) == {"lo"}
            assert not (tmp_path / "cloud" / "network" / "dhcp").exists()
    finally:
        for pid in dnsmasq_pids(tmp_path):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
