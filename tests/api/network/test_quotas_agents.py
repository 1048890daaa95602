"""Quotas (PROMISES 14: Neutron's defaults; PROMISES 8: parallel creates against a quota make
at most the quota, the others get 409 OverQuota), agents as their heartbeats report them,
network IP availability and availability zones."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import httpx

from ministack import config
from ministack.common.db import Database
from ministack.network import agents
from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made

NEUTRON_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "subnetpool": -1,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}


def test_default_quotas_are_neutrons(net_env: Env) -> None:
    project = net_env.people["b_reader"].project_id
    with net_env.http("b_reader") as c:
        quota = c.get(f"/v2.0/quotas/{project}").json()["quota"]
        details = c.get(f"/v2.0/quotas/{project}/details").json()["quota"]
        forbidden = c.put(f"/v2.0/quotas/{project}", json={"quota": {"network": 1000}})
    assert quota == NEUTRON_DEFAULTS
    assert details["network"]["limit"] == 100
    assert forbidden.status_code == 403
    sdk = net_env.admin.network.get_quota(project)
    assert (sdk.networks, sdk.ports, sdk.security_group_rules) == (100, 500, 100)


def test_parallel_creates_against_quota(net_env: Env) -> None:
    who = net_env.people["b_member"]
    with net_env.http() as admin:
        used = len(
            admin.get("/v2.0/networks", params={"project_id": who.project_id}).json()["networks"]
        )
        resp = admin.put(f"/v2.0/quotas/{who.project_id}", json={"quota": {"network": used + 3}})
        assert resp.status_code == 200, resp.text

    def create(i: int) -> httpx.Response:
        return httpx.post(
            f"{net_env.url}/v2.0/networks",
            json={"network": {"name": f"q-{i}"}},
            headers={"X-Auth-Token": who.token},
            timeout=60,
        )

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(create, range(12)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 3 + [409] * 9
    refused = next(r for r in results if r.status_code == 409)
    assert refused.json()["NeutronError"]["type"] == "OverQuota"
    with net_env.http() as admin:
        for r in results:
            if r.status_code == 201:
                admin.delete(f"/v2.0/networks/{r.json()['network']['id']}")
        assert admin.delete(f"/v2.0/quotas/{who.project_id}").status_code == 204


def test_over_quota_makes_nothing(net_env: Env) -> None:
    who = net_env.people["a_member"]
    with net_env.http() as admin:
        admin.put(f"/v2.0/quotas/{who.project_id}", json={"quota": {"router": 0}})
    try:
        with nothing_made(net_env.cloud), net_env.http("a_member") as c:
            resp = c.post("/v2.0/routers", json={"router": {"name": "over"}})
        assert resp.status_code == 409
    finally:
        with net_env.http() as admin:
            admin.delete(f"/v2.0/quotas/{who.project_id}")


def _report(env: Env, host: str, agent_type: str, binary: str) -> None:
    async def go() -> None:
        db = Database(config.load(env=env.cloud.env).database_url)
        try:
            await agents.report_agent(db, host, agent_type, binary, {"bridges": 1}, "nova")
        finally:
            await db.close()

    asyncio.run(go())


def test_agents_report_in_and_are_listed(net_env: Env) -> None:
    host = net_env.name("host")
    _report(net_env, host, agents.DHCP, "neutron-dhcp-agent")
    _report(net_env, host, agents.LINUX_BRIDGE, "neutron-linuxbridge-agent")
    _report(net_env, host, agents.DHCP, "neutron-dhcp-agent")
    listed = json.loads(
        net_env.cli("admin", "network", "agent", "list", "--host", host, "-f", "json")
    )
    assert sorted(a["Agent Type"] for a in listed) == [agents.DHCP, agents.LINUX_BRIDGE]
    assert all(a["Alive"] in (True, ":-)") for a in listed)
    with net_env.http("a_member") as c:
        assert c.get("/v2.0/agents").status_code == 403
    zones = json.loads(
        net_env.cli("admin", "availability", "zone", "list", "--network", "-f", "json")
    )
    assert {"Zone Name": "nova", "Zone Status": "available"}.items() <= zones[0].items()


def test_network_ip_availability(net_env: Env) -> None:
    net = net_env.network()
    net_env.subnet(net["id"], "10.95.0.0/28")
    with net_env.http("a_member") as c:
        for _ in range(2):
            c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
    shown = json.loads(net_env.cli("admin", "ip", "availability", "show", net["id"], "-f", "json"))
    assert shown["total_ips"] == 13
    assert shown["used_ips"] == 2


def test_an_agent_silent_past_agent_down_time_is_listed_down(net_env: Env) -> None:
    from sqlalchemy import update

    from ministack.common.db import utcnow
    from ministack.network import models as m

    host = net_env.name("host")
    _report(net_env, host, agents.DHCP, "neutron-dhcp-agent")
    _report(net_env, host, agents.LINUX_BRIDGE, "neutron-linuxbridge-agent")
    down_after = config.load(env=net_env.cloud.env).network.agent_down_time

    async def silence() -> None:  # the DHCP agent's last heartbeat is older than the limit
        db = Database(config.load(env=net_env.cloud.env).database_url)
        try:
            async with db.writer() as s:
                await s.execute(
                    update(m.Agent)
                    .where(m.Agent.host == host, m.Agent.agent_type == agents.DHCP)
                    .values(heartbeat_timestamp=utcnow() - dt.timedelta(seconds=down_after + 5))
                )
        finally:
            await db.close()

    asyncio.run(silence())
    listed = json.loads(
        net_env.cli("admin", "network", "agent", "list", "--host", host, "-f", "json")
    )
    alive = {a["Agent Type"]: a["Alive"] in (True, ":-)") for a in listed}
    assert alive == {agents.DHCP: False, agents.LINUX_BRIDGE: True}
