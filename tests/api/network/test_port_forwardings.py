"""Floating IP port forwardings through the API (no data plane): made, shown, updated and
deleted with the `openstack floating ip port forwarding` CLI; bad input is 400, a port no
router connects to the floating IP's network 404, another project's floating IP 404, a reader
403, each making nothing; the floating IP takes the router while it has forwardings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made


@pytest.fixture(scope="module")
def outside(net_env: Env) -> dict[str, Any]:
    with net_env.http() as c:
        net = c.post(
            "/v2.0/networks",
            json={
                "network": {
                    "name": net_env.name("pf-public"),
                    "router:external": True,
                    "provider:network_type": "local",
                }
            },
        ).json()["network"]
        made = c.post(
            "/v2.0/subnets",
            json={
                "subnet": {
                    "network_id": net["id"],
                    "ip_version": 4,
                    "cidr": "172.25.5.0/24",
                    "enable_dhcp": False,
                }
            },
        )
        assert made.status_code == 201, made.text
    return net


def test_port_forwardings_crud_and_refusals(net_env: Env, outside: dict[str, Any]) -> None:
    who = "a_member"
    net = net_env.network(who)
    sub = net_env.subnet(net["id"], "10.93.0.0/24")
    name = net_env.name("r")
    router = json.loads(
        net_env.cli(
            who, "router", "create", "--external-gateway", outside["id"], name, "-f", "json"
        )
    )
    net_env.cli(who, "router", "add", "subnet", name, sub["id"])
    lonely = net_env.network(who)
    net_env.subnet(lonely["id"], "10.94.0.0/24")
    with net_env.http(who) as c:
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        far = c.post("/v2.0/ports", json={"port": {"network_id": lonely["id"]}}).json()["port"]
        fip = c.post(
            "/v2.0/floatingips", json={"floatingip": {"floating_network_id": outside["id"]}}
        ).json()["floatingip"]
    ip = port["fixed_ips"][0]["ip_address"]
    pfs = f"/v2.0/floatingips/{fip['id']}/port_forwardings"

    def body(**extra: Any) -> dict[str, Any]:
        return {
            "port_forwarding": {
                "internal_port_id": port["id"],
                "internal_ip_address": ip,
                "internal_port": 22,
                "external_port": 2222,
                "protocol": "tcp",
                **extra,
            }
        }

    with net_env.http(who) as c, nothing_made(net_env.cloud):
        not_its_ip = c.post(pfs, json=body(internal_ip_address="10.93.0.250"))
        bad_port = c.post(pfs, json=body(external_port=70000))
        bad_proto = c.post(pfs, json=body(protocol="gre"))
        unreachable = c.post(
            pfs,
            json=body(
                internal_port_id=far["id"], internal_ip_address=far["fixed_ips"][0]["ip_address"]
            ),
        )
    assert not_its_ip.status_code == 400, not_its_ip.text
    assert bad_port.status_code == 400
    assert bad_proto.status_code == 400
    assert unreachable.status_code == 404
    assert unreachable.json()["NeutronError"]["type"] == "ExternalGatewayForFloatingIPNotFound"
    with net_env.http("b_member") as c, nothing_made(net_env.cloud):
        other_project = c.post(pfs, json=body())
        other_list = c.get(pfs)
    assert other_project.status_code == 404
    assert other_list.status_code == 404
    with net_env.http("a_reader") as c, nothing_made(net_env.cloud):
        reader = c.post(pfs, json=body())
    assert reader.status_code == 403

    made = json.loads(
        net_env.cli(
            who,
            "floating",
            "ip",
            "port",
            "forwarding",
            "create",
            "--internal-ip-address",
            ip,
            "--port",
            port["id"],
            "--internal-protocol-port",
            "22",
            "--external-protocol-port",
            "2222",
            "--protocol",
            "tcp",
            "--description",
            "ssh",
            fip["id"],
            "-f",
            "json",
        )
    )
    assert made["description"] == "ssh"
    with net_env.http(who) as c:
        assert (
            c.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["router_id"]
            == (router["id"])
        )
    net_env.cli(
        who,
        "floating",
        "ip",
        "port",
        "forwarding",
        "set",
        "--external-protocol-port",
        "2022",
        fip["id"],
        made["id"],
    )
    shown = json.loads(
        net_env.cli(
            who, "floating", "ip", "port", "forwarding", "show", fip["id"], made["id"], "-f", "json"
        )
    )
    assert (shown["external_port"], shown["internal_port"]) == (2022, 22)
    with net_env.http(who) as c:
        assert c.get(f"{pfs}/{made['id']}-x").status_code == 404
        assert [
            p["id"] for p in c.get(pfs, params={"external_port": 2022}).json()["port_forwardings"]
        ] == [made["id"]]
        assert c.get(pfs, params={"external_port": 2222}).json()["port_forwardings"] == []
    net_env.cli(who, "floating", "ip", "port", "forwarding", "delete", fip["id"], made["id"])
    with net_env.http(who) as c:
        assert c.get(pfs).json()["port_forwardings"] == []
        assert c.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["router_id"] is None
        extension = c.get("/v2.0/extensions/floating-ip-port-forwarding")
    assert extension.status_code == 200
