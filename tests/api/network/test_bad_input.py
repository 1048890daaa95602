"""Bad input creates nothing (PROMISES 13) and answers Neutron's error body naming what was
wrong: overlapping subnets, a gateway or pool outside the CIDR, overlapping pools, a bad MAC,
CIDR or IP version mix (400); a network with ports in use (409 NetworkInUse); a port on
another project's network (404, PROMISES 16)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made


def _subnet(env: Env, body: dict[str, Any]) -> Any:
    with env.http("a_member") as c:
        return c.post("/v2.0/subnets", json={"subnet": body})


@pytest.fixture(scope="module")
def net(net_env: Env) -> dict[str, Any]:
    network = net_env.network()
    net_env.subnet(network["id"], "10.50.0.0/24")
    return network


CASES = {
    "overlapping subnet": ({"cidr": "10.50.0.128/25"}, "overlaps"),
    "gateway outside": ({"cidr": "10.51.0.0/24", "gateway_ip": "10.52.0.1"}, "gateway_ip"),
    "pool outside": (
        {"cidr": "10.53.0.0/24", "allocation_pools": [{"start": "10.53.0.10", "end": "10.54.0.5"}]},
        "allocation pool",
    ),
    "pools overlapping": (
        {
            "cidr": "10.55.0.0/24",
            "allocation_pools": [
                {"start": "10.55.0.10", "end": "10.55.0.50"},
                {"start": "10.55.0.40", "end": "10.55.0.60"},
            ],
        },
        "overlapping allocation pools",
    ),
    "bad cidr": ({"cidr": "10.56.0.0/33"}, "cidr"),
    "version mix": ({"cidr": "fd00::/64", "ip_version": 4}, "cidr"),
    "ipv6 dns on ipv4": ({"cidr": "10.57.0.0/24", "dns_nameservers": ["nope"]}, "dns_nameservers"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_subnet_400_names_the_field(net_env: Env, net: dict[str, Any], case: str) -> None:
    extra, words = CASES[case]
    body = {"network_id": net["id"], "ip_version": 4, **extra}
    with nothing_made(net_env.cloud):
        resp = _subnet(net_env, body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["NeutronError"]
    assert words.lower() in error["message"].lower(), error
    assert set(error) == {"type", "message", "detail"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mac_address", "zz:16:3e:00:00:01"),
        ("mac_address", "01:00:5e:00:00:01"),
        ("fixed_ips", [{"ip_address": "999.1.1.1"}]),
    ],
)
def test_bad_port_400_names_the_field(
    net_env: Env, net: dict[str, Any], field: str, value: Any
) -> None:
    with nothing_made(net_env.cloud), net_env.http("a_member") as c:
        resp = c.post("/v2.0/ports", json={"port": {"network_id": net["id"], field: value}})
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["NeutronError"]["message"]


def test_network_with_ports_in_use_409(net_env: Env) -> None:
    network = net_env.network()
    net_env.subnet(network["id"], "10.60.0.0/24")
    with net_env.http("a_member") as c:
        port = c.post("/v2.0/ports", json={"port": {"network_id": network["id"]}}).json()["port"]
        with nothing_made(net_env.cloud):
            resp = c.delete(f"/v2.0/networks/{network['id']}")
        assert resp.status_code == 409
        assert resp.json()["NeutronError"]["type"] == "NetworkInUse"
        with nothing_made(net_env.cloud):
            in_use = c.delete(f"/v2.0/subnets/{port['fixed_ips'][0]['subnet_id']}")
        assert in_use.status_code == 409
        assert c.delete(f"/v2.0/ports/{port['id']}").status_code == 204
        assert c.delete(f"/v2.0/networks/{network['id']}").status_code == 204


def test_port_on_another_projects_network_404(net_env: Env, net: dict[str, Any]) -> None:
    with nothing_made(net_env.cloud), net_env.http("b_member") as c:
        resp = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
        shown = c.get(f"/v2.0/networks/{net['id']}")
        subnet = c.post(
            "/v2.0/subnets",
            json={"subnet": {"network_id": net["id"], "cidr": "10.61.0.0/24", "ip_version": 4}},
        )
    assert resp.status_code == 404, resp.text
    assert resp.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert shown.status_code == 404
    assert subnet.status_code == 404


def test_unknown_attribute_400(net_env: Env) -> None:
    with nothing_made(net_env.cloud), net_env.http("a_member") as c:
        resp = c.post("/v2.0/networks", json={"network": {"name": "x", "colour": "red"}})
    assert resp.status_code == 400
    assert "colour" in resp.json()["NeutronError"]["message"]
