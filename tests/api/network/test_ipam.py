"""IPAM is atomic (PROMISES 8, resource claims): 200 concurrent port creates on one subnet
never hand out one address twice, on SQLite and on PostgreSQL; a full subnet answers 409
IpAddressGenerationFailure; a fixed address in use answers 409.

The ports come from two projects on a shared network, so on PostgreSQL the claims are not
serialised by one project's quota lock and really race for the same addresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.network.conftest import SERVICES, Env, make_env
from tests.cloud import running_cloud
from tests.nothing_made import nothing_made

CONCURRENT = 200


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("network-pg")
    with running_cloud(tmp, backend="postgresql", services=SERVICES) as cloud:
        yield make_env(cloud)


def _race(env: Env, network_id: str, count: int) -> list[httpx.Response]:
    tokens = [env.people["a_member"].token, env.admin_token]

    def create(i: int) -> httpx.Response:
        body = {"port": {"network_id": network_id, "name": f"race-{i}"}}
        headers = {"X-Auth-Token": tokens[i % 2]}
        return httpx.post(f"{env.url}/v2.0/ports", json=body, headers=headers, timeout=120)

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(create, range(count)))


def _no_duplicate_addresses(env: Env) -> None:
    network = env.network("admin", shared=True)
    env.subnet(network["id"], "10.77.0.0/24", who="admin")
    results = _race(env, network["id"], CONCURRENT)
    assert [r.status_code for r in results] == [201] * CONCURRENT, {
        r.status_code: r.text for r in results if r.status_code != 201
    }
    addresses = [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in results]
    macs = [r.json()["port"]["mac_address"] for r in results]
    assert len(set(addresses)) == CONCURRENT
    assert len(set(macs)) == CONCURRENT
    with env.http() as c:
        listed = c.get("/v2.0/ports", params={"network_id": network["id"]}).json()["ports"]
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in listed) == sorted(addresses)


def test_concurrent_port_creates_never_share_an_address_sqlite(net_env: Env) -> None:
    _no_duplicate_addresses(net_env)


def test_concurrent_port_creates_never_share_an_address_postgresql(pg_env: Env) -> None:
    _no_duplicate_addresses(pg_env)


def test_full_subnet_answers_409_and_makes_nothing(net_env: Env) -> None:
    network = net_env.network()
    net_env.subnet(
        network["id"], "10.78.0.0/29", allocation_pools=[{"start": "10.78.0.2", "end": "10.78.0.4"}]
    )
    with net_env.http("a_member") as c:
        for _ in range(3):
            assert (
                c.post("/v2.0/ports", json={"port": {"network_id": network["id"]}}).status_code
                == 201
            )
        with nothing_made(net_env.cloud):
            resp = c.post("/v2.0/ports", json={"port": {"network_id": network["id"]}})
    assert resp.status_code == 409
    assert resp.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"


def test_fixed_ip_in_use_409_outside_subnet_400(net_env: Env) -> None:
    network = net_env.network()
    subnet = net_env.subnet(network["id"], "10.79.0.0/24")
    ask = {"network_id": network["id"], "fixed_ips": [{"ip_address": "10.79.0.10"}]}
    with net_env.http("a_member") as c:
        first = c.post("/v2.0/ports", json={"port": ask})
        assert first.status_code == 201, first.text
        assert first.json()["port"]["fixed_ips"] == [
            {"subnet_id": subnet["id"], "ip_address": "10.79.0.10"}
        ]
        with nothing_made(net_env.cloud):
            taken = c.post("/v2.0/ports", json={"port": ask})
            outside = {"network_id": network["id"], "fixed_ips": [{"ip_address": "10.80.0.10"}]}
            wrong = c.post("/v2.0/ports", json={"port": outside})
            bad = {
                "network_id": network["id"],
                "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.79.1.5"}],
            }
            not_in_subnet = c.post("/v2.0/ports", json={"port": bad})
    assert taken.status_code == 409, taken.text
    assert taken.json()["NeutronError"]["type"] == "IpAddressAlreadyAllocated"
    assert wrong.status_code == 400, wrong.text
    assert not_in_subnet.status_code == 400, not_in_subnet.text
