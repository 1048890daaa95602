"""`ministack seed` makes DevStack's networks: `private` (10.0.0.0/26, DHCP, the admin
project's) and `shared` (192.168.233.0/24, shared), once (a second run changes nothing)."""

from __future__ import annotations

from ministack import config, seed
from tests.api.network.conftest import Env


def test_seed_networks_idempotent(net_env: Env) -> None:
    settings = config.load(env=net_env.cloud.env)
    with seed.admin_client(settings) as http:
        first = seed.ensure_networks(settings, http)
        second = seed.ensure_networks(settings, http)
    assert first == ["private", "private-subnet", "shared", "shared-subnet"]
    assert second == []
    with net_env.http() as c:
        private = c.get("/v2.0/networks", params={"name": "private"}).json()["networks"]
        shared = c.get("/v2.0/networks", params={"name": "shared"}).json()["networks"]
        assert len(private) == len(shared) == 1
        assert private[0]["project_id"] == net_env.admin_project_id
        assert private[0]["shared"] is False and shared[0]["shared"] is True
        subnets = c.get("/v2.0/subnets", params={"network_id": private[0]["id"]}).json()["subnets"]
        assert [(s["cidr"], s["enable_dhcp"]) for s in subnets] == [("10.0.0.0/26", True)]
    with net_env.http("b_member") as c:
        seen = [n["name"] for n in c.get("/v2.0/networks").json()["networks"]]
    assert "shared" in seen and "private" not in seen


def test_seed_public_network_and_router1_idempotent(net_env: Env) -> None:
    """With the network agent running, seed adds DevStack's `public` (flat, external,
    172.24.4.0/24, no DHCP) and `router1` joining `private` to it, once."""
    settings = config.load(env=net_env.cloud.env)
    with seed.admin_client(settings) as http:
        seed.ensure_networks(settings, http)
        first = seed.ensure_public_router(settings, http)
        second = seed.ensure_public_router(settings, http)
    assert first == ["public", "public-subnet", "router1"]
    assert second == []
    with net_env.http() as c:
        public = c.get("/v2.0/networks", params={"name": "public"}).json()["networks"]
        assert len(public) == 1
        assert public[0]["router:external"] is True
        assert public[0]["provider:network_type"] == "flat"
        subnets = c.get("/v2.0/subnets", params={"network_id": public[0]["id"]}).json()["subnets"]
        assert [(s["cidr"], s["gateway_ip"], s["enable_dhcp"]) for s in subnets] == [
            ("172.24.4.0/24", "172.24.4.1", False)
        ]
        routers = c.get("/v2.0/routers", params={"name": "router1"}).json()["routers"]
        assert len(routers) == 1
        assert routers[0]["external_gateway_info"]["network_id"] == public[0]["id"]
        ports = c.get(
            "/v2.0/ports",
            params={"device_id": routers[0]["id"], "device_owner": "network:router_interface"},
        ).json()["ports"]
        assert [p["fixed_ips"][0]["ip_address"] for p in ports] == ["10.0.0.1"]
