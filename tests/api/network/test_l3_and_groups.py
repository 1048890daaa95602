"""Routers, floating IPs, security groups and rules as Neutron stores and returns them (part 2
makes them act on packets): the default group per project made on first use with Neutron's
default rules, rule validation, router gateway and interfaces, floating IP association."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made


def test_default_security_group_on_first_use(net_env: Env) -> None:
    groups = json.loads(net_env.cli("b_reader", "security", "group", "list", "-f", "json"))
    default = [g for g in groups if g["Name"] == "default"]
    assert len(default) == 1
    shown = json.loads(
        net_env.cli("b_member", "security", "group", "show", default[0]["ID"], "-f", "json")
    )
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"]) for r in shown["rules"]}
    assert rules == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default[0]["ID"]),
        ("ingress", "IPv6", default[0]["ID"]),
    }
    again = json.loads(net_env.cli("b_member", "security", "group", "list", "-f", "json"))
    assert [g["ID"] for g in again if g["Name"] == "default"] == [default[0]["ID"]]


def test_security_group_and_rules(net_env: Env) -> None:
    name = net_env.name("sg")
    group = json.loads(net_env.cli("a_member", "security", "group", "create", name, "-f", "json"))
    assert len(group["rules"]) == 2
    rule = json.loads(
        net_env.cli(
            "a_member",
            "security",
            "group",
            "rule",
            "create",
            "--protocol",
            "tcp",
            "--dst-port",
            "22",
            "--remote-ip",
            "10.0.0.0/8",
            name,
            "-f",
            "json",
        )
    )
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    with net_env.http("a_member") as c, nothing_made(net_env.cloud):
        base = {"security_group_id": group["id"], "direction": "ingress"}
        dup = c.post(
            "/v2.0/security-group-rules",
            json={
                "security_group_rule": {
                    **base,
                    "protocol": "tcp",
                    "port_range_min": 22,
                    "port_range_max": 22,
                    "remote_ip_prefix": "10.0.0.0/8",
                }
            },
        )
        no_proto = c.post(
            "/v2.0/security-group-rules",
            json={"security_group_rule": {**base, "port_range_min": 22, "port_range_max": 22}},
        )
        mix = c.post(
            "/v2.0/security-group-rules",
            json={
                "security_group_rule": {
                    **base,
                    "ethertype": "IPv6",
                    "remote_ip_prefix": "10.0.0.0/8",
                }
            },
        )
    assert dup.status_code == 409
    assert no_proto.status_code == 400
    assert mix.status_code == 400
    net_env.cli("a_member", "security", "group", "rule", "delete", rule["id"])
    net_env.cli("a_member", "security", "group", "delete", name)


@pytest.fixture(scope="module")
def public(net_env: Env) -> dict[str, Any]:
    with net_env.http() as c:
        net = c.post(
            "/v2.0/networks",
            json={
                "network": {
                    "name": net_env.name("public"),
                    "router:external": True,
                    "provider:network_type": "local",
                }
            },
        ).json()["network"]
        c.post(
            "/v2.0/subnets",
            json={
                "subnet": {
                    "network_id": net["id"],
                    "ip_version": 4,
                    "cidr": "172.24.4.0/24",
                    "enable_dhcp": False,
                }
            },
        )
    return net


def test_router_gateway_interface_and_floating_ip(net_env: Env, public: dict[str, Any]) -> None:
    who = "a_member"
    net = net_env.network(who)
    sub = net_env.subnet(net["id"], "10.90.0.0/24")
    name = net_env.name("r")
    router = json.loads(
        net_env.cli(who, "router", "create", "--external-gateway", public["id"], name, "-f", "json")
    )
    gw = router["external_gateway_info"]
    assert gw["network_id"] == public["id"]
    assert gw["external_fixed_ips"][0]["ip_address"].startswith("172.24.4.")
    net_env.cli(who, "router", "add", "subnet", name, sub["id"])
    with net_env.http(who) as c:
        ports = c.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
        iface = [p for p in ports if p["device_owner"] == "network:router_interface"]
        assert iface[0]["fixed_ips"][0]["ip_address"] == "10.90.0.1"
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    fip = json.loads(
        net_env.cli(
            who, "floating", "ip", "create", "--port", port["id"], public["id"], "-f", "json"
        )
    )
    assert fip["router_id"] == router["id"]
    assert fip["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    with net_env.http(who) as c, nothing_made(net_env.cloud):
        in_use = c.delete(f"/v2.0/routers/{router['id']}")
        twice = c.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]}
        )
    assert in_use.status_code == 409
    assert twice.status_code == 400
    net_env.cli(who, "floating", "ip", "unset", "--port", fip["id"])
    assert (
        json.loads(net_env.cli(who, "floating", "ip", "show", fip["id"], "-f", "json"))["port_id"]
        is None
    )
    net_env.cli(who, "floating", "ip", "delete", fip["id"])
    net_env.cli(who, "router", "remove", "subnet", name, sub["id"])
    net_env.cli(who, "router", "delete", name)


def test_floating_ip_unreachable_404(net_env: Env, public: dict[str, Any]) -> None:
    net = net_env.network("b_member")
    net_env.subnet(net["id"], "10.91.0.0/24", who="b_member")
    with net_env.http("b_member") as c:
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        with nothing_made(net_env.cloud):
            resp = c.post(
                "/v2.0/floatingips",
                json={"floatingip": {"floating_network_id": public["id"], "port_id": port["id"]}},
            )
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["type"] == "ExternalGatewayForFloatingIPNotFound"
