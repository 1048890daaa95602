"""The typed `NetworkApi` compute uses, both transports against a running cloud: the
in-process client (on the cloud's database) and the HTTP client (as the `neutron` service
user from `ministack init`). A port made for an instance, bound to a host with the bridge
named as the agents name it, listed by device, unbound, deleted twice; `networks: auto`'s
candidates (own unshared, then shared, as Nova); another project's network is NotFound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from ministack import config
from ministack.common import errors
from ministack.common.db import Database
from ministack.common.rpc import make_bus
from ministack.network import client
from tests.api.network.conftest import Env


@asynccontextmanager
async def in_process(env: Env) -> AsyncIterator[client.NetworkApi]:
    settings = config.load(env=env.cloud.env)
    db, bus = Database(settings.database_url), make_bus("memory://")
    await bus.start()
    try:
        yield client.in_process(settings, db, bus)
    finally:
        await bus.stop()
        await db.close()


@asynccontextmanager
async def over_http(env: Env) -> AsyncIterator[client.NetworkApi]:
    settings = config.load(env=env.cloud.env)
    http = client.over_http(settings, config.SERVICE_USERS["network"])
    try:
        yield http
    finally:
        await http.session.close()


async def _exercise(api: client.NetworkApi, env: Env, shared: dict[str, Any]) -> None:
    project = env.people["b_member"].project_id
    device = "00000000-0000-4000-8000-" + shared["id"][-12:]
    # the fixed address first: a port drawn at random before it could take 10.88.0.200
    fixed = await api.create_port(project, shared["id"], fixed_ip="10.88.0.200")
    assert fixed["fixed_ips"][0]["ip_address"] == "10.88.0.200"
    port = await api.create_port(project, shared["id"], fixed_ip=None, device_id=device)
    assert port["project_id"] == project
    bound = await api.bind_port(port["id"], "host-x", device, "nova")
    assert bound["binding:host_id"] == "host-x"
    assert bound["device_owner"] == "compute:nova"
    assert bound["binding:vif_type"] == "bridge"
    assert bound["binding:vif_details"]["bridge_name"] == client.bridge_name(shared["id"])
    assert client.bridge_name(shared["id"]) == "brq" + shared["id"][:11]
    assert client.tap_name(port["id"]) == "tap" + port["id"][:11]
    assert [p["id"] for p in await api.list_ports(device)] == [port["id"]]
    unbound = await api.unbind_port(port["id"])
    assert (unbound["binding:host_id"], unbound["device_id"]) == ("", "")
    assert (await api.get_port(port["id"], project))["id"] == port["id"]
    for _ in range(2):
        await api.delete_port(port["id"])
        await api.delete_port(fixed["id"])
    with pytest.raises(errors.NotFound):
        await api.get_port(port["id"])


@pytest.fixture(scope="module")
def shared(net_env: Env) -> dict[str, Any]:
    net = net_env.network("admin", shared=True)
    net_env.subnet(net["id"], "10.88.0.0/24", who="admin")
    return net


@pytest.mark.parametrize("transport", [in_process, over_http])
def test_network_client(net_env: Env, shared: dict[str, Any], transport: Any) -> None:
    async def go() -> None:
        async with transport(net_env) as api:
            await _exercise(api, net_env, shared)
            private = net_env.network("a_member")
            b_project = net_env.people["b_member"].project_id
            with pytest.raises(errors.NotFound):
                await api.get_network(private["id"], b_project)
            with pytest.raises(errors.NotFound):
                await api.create_port(b_project, private["id"])
            a_project = net_env.people["a_member"].project_id
            mine = [n["id"] for n in await api.available_networks(a_project)]
            assert private["id"] in mine and shared["id"] in mine
            assert mine.index(private["id"]) < mine.index(shared["id"])
            nobody = "f" * 32
            assert shared["id"] in [n["id"] for n in await api.available_networks(nobody)]

    asyncio.run(go())
