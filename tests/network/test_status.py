"""The network service's RPC endpoint (topic "network"): a host's agent reporting a port's
status through the typed `NetworkServerAPI` sets it on a port bound to that host, ignores a
report from another host, and the agents' `report_agent` keeps one row per (type, host)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ministack import config
from ministack.common.db import Database, upgrade
from ministack.common.rpc import make_bus
from ministack.network import agents, ports
from ministack.network import models as m
from ministack.network.core import Core, trusted
from ministack.network.networks import create as create_network
from ministack.network.rpcapi.server import TOPIC, NetworkServerAPI, PortStatus
from ministack.network.status import NetworkServerEndpoint
from ministack.network.subnets import create as create_subnet


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db, bus = Database(url), make_bus("memory://")
    await bus.start()
    try:
        yield Core(config.Settings(), db, bus)
    finally:
        await bus.stop()
        await db.close()


async def _status(db: Database, port_id: str) -> str:
    async with db.session() as s:
        return str((await s.execute(select(m.Port.status).where(m.Port.id == port_id))).scalar())


async def _wait_for(db: Database, port_id: str, status: str) -> None:
    for _ in range(500):
        if await _status(db, port_id) == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"port {port_id} never became {status}")


async def test_port_status_reports(core: Core) -> None:
    auth = trusted("p1")
    net = await create_network(core, auth, {"name": "n"})
    await create_subnet(
        core, auth, {"network_id": net["id"], "cidr": "10.1.0.0/24", "ip_version": 4}
    )
    port = await ports.create(core, auth, {"network_id": net["id"]})
    await ports.bind(core, port["id"], "host-a", "dev-1", "compute:nova")
    endpoint = NetworkServerEndpoint(core.db, core.bus)
    await endpoint.port_status(PortStatus(port["id"], "host-b", "ACTIVE").to_wire())
    assert await _status(core.db, port["id"]) == "DOWN"  # not bound there: ignored
    await endpoint.port_status(PortStatus(port["id"], "host-a", "NONSENSE").to_wire())
    assert await _status(core.db, port["id"]) == "DOWN"
    await core.bus.serve(TOPIC, endpoint)
    await NetworkServerAPI(core.bus).port_status(port["id"], "host-a", "ACTIVE")
    await _wait_for(core.db, port["id"], "ACTIVE")


async def test_report_agent_is_idempotent(core: Core) -> None:
    first = await agents.report_agent(core.db, "h", agents.DHCP, "neutron-dhcp-agent", start=True)
    again = await agents.report_agent(core.db, "h", agents.DHCP, "neutron-dhcp-agent")
    other = await agents.report_agent(core.db, "h", agents.METADATA, "neutron-metadata-agent")
    assert first == again != other
    async with core.db.session() as s:
        rows = list((await s.execute(select(m.Agent))).scalars())
    assert len(rows) == 2
    assert all(agents.alive(r, 75) for r in rows)
