"""Subnet pools (Neutron's subnetpools, subnet_allocation, default-subnetpools and
subnetpool-prefix-ops) through the `openstack` CLI, openstacksdk and plain HTTP: pool CRUD,
subnets carved from a pool (next free block, a prefix length, a range inside the pool, the
default pool), Neutron's refusals with nothing made, and parallel subnet creates from one pool
that never overlap."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.network.conftest import SERVICES, Env, make_env
from tests.cloud import running_cloud
from tests.nothing_made import nothing_made


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("subnetpools-pg")
    with running_cloud(tmp, backend="postgresql", services=SERVICES) as cloud:
        yield make_env(cloud)


def _cli(env: Env, who: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(env.cli(who, *args, "-f", "json"))
    return out


def _listed(value: Any) -> list[str]:
    """A list column of the CLI's JSON output (a list, or text joined by commas)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _pool(env: Env, who: str = "a_member", **attrs: Any) -> dict[str, Any]:
    body = {"name": env.name("pool"), **attrs}
    with env.http(who) as c:
        resp = c.post("/v2.0/subnetpools", json={"subnetpool": body})
    assert resp.status_code == 201, resp.text
    pool: dict[str, Any] = resp.json()["subnetpool"]
    return pool


def _subnet(env: Env, network_id: str, who: str = "a_member", **attrs: Any) -> httpx.Response:
    body = {"network_id": network_id, "ip_version": 4, **attrs}
    with env.http(who) as c:
        return c.post("/v2.0/subnets", json={"subnet": body})


def test_cli_subnet_pool_lifecycle_and_subnets_from_it(net_env: Env) -> None:
    pool = net_env.name("pool")
    made = _cli(
        net_env,
        "a_member",
        *("subnet", "pool", "create", "--pool-prefix", "10.120.0.0/16"),
        *("--default-prefix-length", "24", "--max-prefix-length", "28"),
        *("--description", "for tests", pool),
    )
    assert _listed(made["prefixes"]) == ["10.120.0.0/16"]
    assert (made["ip_version"], made["default_prefixlen"]) == (4, 24)
    assert (made["min_prefixlen"], made["max_prefixlen"]) == (8, 28)
    assert made["shared"] is False and made["is_default"] is False
    assert made["description"] == "for tests"
    net = net_env.name("net")
    net_env.cli("a_member", "network", "create", net)
    create = ("subnet", "create", "--network", net, "--subnet-pool", pool)
    first = _cli(net_env, "a_member", *create, net + "-1")
    second = _cli(net_env, "a_member", *create, "--prefix-length", "26", net + "-2")
    third = _cli(net_env, "a_member", *create, "--subnet-range", "10.120.9.0/24", net + "-3")
    assert (first["cidr"], first["gateway_ip"]) == ("10.120.0.0/24", "10.120.0.1")
    assert second["cidr"] == "10.120.1.0/26"
    assert third["cidr"] == "10.120.9.0/24"
    assert {first["subnetpool_id"], second["subnetpool_id"], third["subnetpool_id"]} == {made["id"]}
    listed = json.loads(
        net_env.cli("a_member", "subnet", "list", "--subnet-pool", pool, "-f", "json")
    )
    assert sorted(s["Subnet"] for s in listed) == [
        "10.120.0.0/24",
        "10.120.1.0/26",
        "10.120.9.0/24",
    ]

    net_env.cli(
        "a_member",
        *("subnet", "pool", "set", "--pool-prefix", "10.121.0.0/16"),
        *("--name", pool + "-x", "--tag", "blue", pool),
    )
    pool += "-x"
    shown = _cli(net_env, "a_member", "subnet", "pool", "show", pool)
    assert _listed(shown["prefixes"]) == ["10.120.0.0/15"]  # adjacent prefixes merged
    assert _listed(shown["tags"]) == ["blue"]
    assert shown["revision_number"] > made["revision_number"]
    pools = json.loads(net_env.cli("a_member", "subnet", "pool", "list", "-f", "json"))
    assert pool in [p["Name"] for p in pools]

    refused = net_env.cli("a_member", "subnet", "pool", "delete", pool, check=False)
    assert "Subnet pool has existing allocations" in refused
    for n in ("-1", "-2", "-3"):
        net_env.cli("a_member", "subnet", "delete", net + n)
    net_env.cli("a_member", "subnet", "pool", "delete", pool)
    with net_env.http("a_member") as c:
        assert c.get(f"/v2.0/subnetpools/{made['id']}").status_code == 404
    net_env.cli("a_member", "network", "delete", net)


def test_sdk_pool_default_pool_and_prefix_actions(net_env: Env) -> None:
    conn = net_env.admin
    pool = conn.network.create_subnet_pool(
        name=net_env.name("sdk"),
        prefixes=["10.130.0.0/20"],
        default_prefix_length=26,
        minimum_prefix_length=22,
        is_shared=True,
        is_default=True,
    )
    try:
        assert (pool.ip_version, pool.is_default, pool.is_shared) == (4, True, True)
        # a shared default pool serves every project: use_default_subnetpool
        net = net_env.network("b_member")
        resp = _subnet(net_env, net["id"], "b_member", use_default_subnetpool=True)
        assert resp.status_code == 201, resp.text
        sub = resp.json()["subnet"]
        assert (sub["cidr"], sub["subnetpool_id"]) == ("10.130.0.0/26", pool.id)
        assert sub["project_id"] == net_env.people["b_member"].project_id
        # another project sees the shared pool, may not change it
        with net_env.http("b_member") as c:
            assert c.get(f"/v2.0/subnetpools/{pool.id}").status_code == 200
            with nothing_made(net_env.cloud):
                put = c.put(f"/v2.0/subnetpools/{pool.id}", json={"subnetpool": {"name": "x"}})
            assert put.status_code == 403
        # only one default per IP version
        with net_env.http() as c, nothing_made(net_env.cloud):
            second = c.post(
                "/v2.0/subnetpools",
                json={
                    "subnetpool": {"name": "d2", "prefixes": ["10.131.0.0/16"], "is_default": True}
                },
            )
        assert second.status_code == 400
        assert "Only one default may exist per IP family" in second.text

        added = conn.network.put(
            f"/subnetpools/{pool.id}/add_prefixes", json={"prefixes": ["10.130.16.0/20"]}
        ).json()
        assert added == {"prefixes": ["10.130.0.0/19"]}
        with net_env.http() as c:
            in_use = c.put(
                f"/v2.0/subnetpools/{pool.id}/remove_prefixes",
                json={"prefixes": ["10.130.0.0/24"]},
            )
            assert in_use.status_code == 400
            assert in_use.json()["NeutronError"]["type"] == "IllegalSubnetPoolPrefixUpdate"
            removed = c.put(
                f"/v2.0/subnetpools/{pool.id}/remove_prefixes",
                json={"prefixes": ["10.130.16.0/20"]},
            )
            assert removed.json() == {"prefixes": ["10.130.0.0/20"]}
            shrink = c.put(
                f"/v2.0/subnetpools/{pool.id}",
                json={"subnetpool": {"prefixes": ["10.130.0.0/21"]}},
            )
            assert shrink.status_code == 400
            assert "Existing prefixes must be a subset" in shrink.text
        found = conn.network.find_subnet_pool(pool.name)
        assert found is not None and found.id == pool.id
        with net_env.http("b_member") as c:
            assert c.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204
    finally:
        conn.network.delete_subnet_pool(pool.id)
    assert conn.network.find_subnet_pool(pool.id) is None


BAD_POOLS: dict[str, tuple[dict[str, Any], str]] = {
    "no prefixes": ({"prefixes": []}, "EmptySubnetPoolPrefixList"),
    "bad prefix": ({"prefixes": ["10.0.0.0/33"]}, "not a valid IP subnet"),
    "host bits": ({"prefixes": ["10.0.0.1/24"]}, "isn't a recommended CIDR"),
    "mixed versions": ({"prefixes": ["10.0.0.0/24", "fd00::/64"]}, "PrefixVersionMismatch"),
    "min over max": (
        {"prefixes": ["10.0.0.0/16"], "min_prefixlen": 28, "max_prefixlen": 24},
        "Illegal prefix bounds: min_prefixlen=28, max_prefixlen=24.",
    ),
    "default under min": (
        {"prefixes": ["10.0.0.0/16"], "min_prefixlen": 20, "default_prefixlen": 16},
        "Illegal prefix bounds: default_prefixlen=16, min_prefixlen=20.",
    ),
    "max past 32": ({"prefixes": ["10.0.0.0/16"], "max_prefixlen": 33}, "ip_version_max"),
    "address scope": (
        {"prefixes": ["10.0.0.0/16"], "address_scope_id": "7c9b5c0e-2f1a-4f39-9a0e-5d7a3c2b1e00"},
        "address_scope_id",
    ),
    "no name": ({"name": None, "prefixes": ["10.0.0.0/16"]}, "name"),
    "unknown attribute": ({"prefixes": ["10.0.0.0/16"], "color": "red"}, "color"),
}


@pytest.mark.parametrize("case", sorted(BAD_POOLS))
def test_bad_pool_400_makes_nothing(net_env: Env, case: str) -> None:
    attrs, words = BAD_POOLS[case]
    body = {"name": "bad", **attrs}
    if body["name"] is None:
        del body["name"]
    with net_env.http("a_member") as c, nothing_made(net_env.cloud):
        resp = c.post("/v2.0/subnetpools", json={"subnetpool": body})
    assert resp.status_code == 400, resp.text
    assert words in resp.text


def test_only_admins_share_or_default_a_pool(net_env: Env) -> None:
    with net_env.http("a_member") as c, nothing_made(net_env.cloud):
        shared = c.post(
            "/v2.0/subnetpools",
            json={"subnetpool": {"name": "s", "prefixes": ["10.0.0.0/16"], "shared": True}},
        )
        default = c.post(
            "/v2.0/subnetpools",
            json={"subnetpool": {"name": "d", "prefixes": ["10.0.0.0/16"], "is_default": True}},
        )
    assert (shared.status_code, default.status_code) == (403, 403)
    pool = _pool(net_env, prefixes=["10.140.0.0/16"])
    with net_env.http("a_member") as c:
        assert (
            c.put(
                f"/v2.0/subnetpools/{pool['id']}", json={"subnetpool": {"shared": True}}
            ).status_code
            == 400
        )  # shared cannot be updated (Neutron: allow_put False)
        with net_env.http("b_member") as other:
            assert other.get(f"/v2.0/subnetpools/{pool['id']}").status_code == 404
            assert other.delete(f"/v2.0/subnetpools/{pool['id']}").status_code == 404
            net = net_env.network("b_member")
            from_other = _subnet(net_env, net["id"], "b_member", subnetpool_id=pool["id"])
            assert from_other.status_code == 404
            assert from_other.json()["NeutronError"]["type"] == "SubnetPoolNotFound"
        with net_env.http("a_reader") as reader:
            assert reader.get(f"/v2.0/subnetpools/{pool['id']}").status_code == 200
            assert reader.delete(f"/v2.0/subnetpools/{pool['id']}").status_code == 403
        assert c.delete(f"/v2.0/subnetpools/{pool['id']}").status_code == 204


def test_bad_subnets_from_a_pool_make_nothing(net_env: Env) -> None:
    pool = _pool(
        net_env,
        prefixes=["10.150.0.0/24"],
        default_prefixlen=26,
        min_prefixlen=25,
        max_prefixlen=28,
    )
    v6 = _pool(net_env, prefixes=["fd00:150::/48"])
    net = net_env.network()
    taken = _subnet(net_env, net["id"], subnetpool_id=pool["id"], cidr="10.150.0.0/26")
    assert taken.status_code == 201, taken.text
    pid = pool["id"]
    cases = {
        "overlaps a subnet of the pool": (
            {"subnetpool_id": pid, "cidr": "10.150.0.0/27"},
            400,
            "Cannot allocate requested subnet from the available set of prefixes",
        ),
        "outside the pool": (
            {"subnetpool_id": pid, "cidr": "10.151.0.0/26"},
            400,
            "SubnetAllocationError",
        ),
        "longer than max": ({"subnetpool_id": pid, "prefixlen": 29}, 400, "maximum allowed"),
        "shorter than min": ({"subnetpool_id": pid, "prefixlen": 24}, 400, "minimum allowed"),
        "cidr and prefixlen": (
            {"subnetpool_id": pid, "cidr": "10.150.0.64/26", "prefixlen": 26},
            400,
            "cidr and prefixlen must not be supplied together",
        ),
        "pool and default": (
            {"subnetpool_id": pid, "use_default_subnetpool": True},
            400,
            "cannot both be specified",
        ),
        "no cidr and no pool": ({}, 400, "a subnetpool must be specified"),
        "pools without a cidr": (
            {
                "subnetpool_id": pid,
                "allocation_pools": [{"start": "10.150.0.70", "end": "10.150.0.80"}],
            },
            400,
            "allocation_pools allowed only for specific subnet requests",
        ),
        "version mismatch": (
            {"subnetpool_id": v6["id"]},
            400,
            "Cannot allocate IPv4 subnet from IPv6 subnet pool",
        ),
        "unknown pool": (
            {"subnetpool_id": "7c9b5c0e-2f1a-4f39-9a0e-5d7a3c2b1e00"},
            404,
            "SubnetPoolNotFound",
        ),
        "a plain subnet beside pool subnets": (
            {"cidr": "10.160.0.0/24"},
            400,
            "NetworkSubnetPoolAffinityError",
        ),
    }
    with nothing_made(net_env.cloud):
        got = {name: _subnet(net_env, net["id"], **body) for name, (body, _, _) in cases.items()}
    for name, (_, status, words) in cases.items():
        assert (got[name].status_code, words in got[name].text) == (status, True), (
            name,
            got[name].text,
        )
    # the pool's three other /26 blocks, then exhausted: 409 SubnetAllocationError
    made = [_subnet(net_env, net["id"], subnetpool_id=pid) for _ in range(3)]
    assert [r.status_code for r in made] == [201] * 3
    with nothing_made(net_env.cloud):
        full = _subnet(net_env, net["id"], subnetpool_id=pid)
    assert full.status_code == 409
    assert full.json()["NeutronError"]["type"] == "SubnetAllocationError"
    assert "Insufficient prefix space to allocate subnet size /26" in full.text
    with net_env.http() as c:
        assert c.delete(f"/v2.0/networks/{net['id']}").status_code == 204
        for p in (pool, v6):
            assert c.delete(f"/v2.0/subnetpools/{p['id']}").status_code == 204


def test_pool_prefix_quota(net_env: Env) -> None:
    # default_quota counts /32s: 128 lets a project take two /26 blocks, not a third
    pool = _pool(net_env, prefixes=["10.170.0.0/24"], default_prefixlen=26, default_quota=128)
    net = net_env.network()
    ok = [_subnet(net_env, net["id"], subnetpool_id=pool["id"]) for _ in range(2)]
    assert [r.status_code for r in ok] == [201, 201]
    with nothing_made(net_env.cloud):
        over = _subnet(net_env, net["id"], subnetpool_id=pool["id"])
    assert over.status_code == 409
    assert "Per-tenant subnet pool prefix quota exceeded" in over.text
    with net_env.http() as c:
        c.delete(f"/v2.0/networks/{net['id']}")
        assert c.delete(f"/v2.0/subnetpools/{pool['id']}").status_code == 204


def _race_for_blocks(env: Env) -> None:
    """20 parallel subnet creates from one shared /22 pool (16 blocks of /26) by two projects,
    so on PostgreSQL no project quota lock serialises them: only the pool's row lock does."""
    pool = _pool(env, "admin", prefixes=["10.180.0.0/22"], default_prefixlen=26, shared=True)
    who = ("a_member", "b_member")
    nets = [env.network(who[i % 2]) for i in range(4)]

    def create(i: int) -> httpx.Response:
        body = {"network_id": nets[i % 4]["id"], "ip_version": 4, "subnetpool_id": pool["id"]}
        return httpx.post(
            f"{env.url}/v2.0/subnets",
            json={"subnet": body},
            headers={"X-Auth-Token": env.people[who[i % 2]].token},
            timeout=120,
        )

    with ThreadPoolExecutor(10) as workers:
        results = list(workers.map(create, range(20)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 16 + [409] * 4, [r.text for r in results if r.status_code != 201]
    cidrs = [ipaddress.ip_network(r.json()["subnet"]["cidr"]) for r in results if r.is_success]
    assert len(set(cidrs)) == 16
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])
    with env.http() as c:
        for net in nets:
            assert c.delete(f"/v2.0/networks/{net['id']}").status_code == 204
        assert c.delete(f"/v2.0/subnetpools/{pool['id']}").status_code == 204


def test_parallel_subnets_from_one_pool_never_overlap_sqlite(net_env: Env) -> None:
    _race_for_blocks(net_env)


def test_parallel_subnets_from_one_pool_never_overlap_postgresql(pg_env: Env) -> None:
    _race_for_blocks(pg_env)


def test_extensions_list_subnet_pools(net_env: Env) -> None:
    with net_env.http("a_reader") as c:
        aliases = {e["alias"] for e in c.get("/v2.0/extensions").json()["extensions"]}
    assert {"subnet_allocation", "default-subnetpools", "subnetpool-prefix-ops"} <= aliases
    assert net_env.admin.network.find_extension("subnet_allocation") is not None
