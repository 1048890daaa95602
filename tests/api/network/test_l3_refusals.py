"""Part 2's API items the conformance audit found untested (docs/conformance-network.md):
extra routes and enable_snat through `openstack router set`, rules by protocol number with
port ranges, remote prefixes, IPv6 and remote groups through the CLI, and each refusal of the
issue's "Bad input and failure" list — a floating IP pool exhausted (409), two floating IPs on
one fixed address (409), a router interface still used by a floating IP (409), a security
group in use (409), a rule with a bad protocol, port range or prefix (400) — each making
nothing (PROMISES 13)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made


def _external(env: Env, cidr: str, **subnet: Any) -> dict[str, Any]:
    with env.http() as c:
        net = c.post(
            "/v2.0/networks",
            json={
                "network": {
                    "name": env.name("ext"),
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
                    "cidr": cidr,
                    "enable_dhcp": False,
                    **subnet,
                }
            },
        )
        assert made.status_code == 201, made.text
    return net


@pytest.fixture(scope="module")
def outside(net_env: Env) -> dict[str, Any]:
    return _external(net_env, "172.30.4.0/24")


def _behind_router(
    env: Env, outside: dict[str, Any], cidr: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(router, subnet, port): a member's subnet on a router gatewayed to `outside`."""
    net = env.network("a_member")
    sub = env.subnet(net["id"], cidr)
    with env.http("a_member") as c:
        router = c.post(
            "/v2.0/routers",
            json={
                "router": {
                    "name": env.name("r"),
                    "external_gateway_info": {"network_id": outside["id"]},
                }
            },
        ).json()["router"]
        added = c.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]}
        )
        assert added.status_code == 200, added.text
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    return router, sub, port


def _fip(c: Any, outside: dict[str, Any], port_id: str | None = None) -> Any:
    body: dict[str, Any] = {"floating_network_id": outside["id"]}
    if port_id is not None:
        body["port_id"] = port_id
    return c.post("/v2.0/floatingips", json={"floatingip": body})


def test_floating_ip_pool_exhausted_409(net_env: Env) -> None:
    small = _external(
        net_env,
        "172.30.9.0/29",
        allocation_pools=[{"start": "172.30.9.2", "end": "172.30.9.3"}],
    )
    with net_env.http("b_member") as c:
        made = [_fip(c, small) for _ in range(2)]
        assert [r.status_code for r in made] == [201, 201], [r.text for r in made]
        addresses = {r.json()["floatingip"]["floating_ip_address"] for r in made}
        assert addresses == {"172.30.9.2", "172.30.9.3"}
        with nothing_made(net_env.cloud):
            full = _fip(c, small)
        assert full.status_code == 409, full.text
        error = full.json()["NeutronError"]
        assert error["type"] == "IpAddressGenerationFailure"
        assert small["id"] in error["message"]
        for r in made:
            assert c.delete(f"/v2.0/floatingips/{r.json()['floatingip']['id']}").status_code == 204
        again = _fip(c, small)  # the freed addresses are handed out again
        assert again.status_code == 201, again.text
        assert c.delete(f"/v2.0/floatingips/{again.json()['floatingip']['id']}").status_code == 204


def test_second_floating_ip_on_a_fixed_address_and_removing_its_interface_409(
    net_env: Env, outside: dict[str, Any]
) -> None:
    router, sub, port = _behind_router(net_env, outside, "10.93.0.0/24")
    with net_env.http("a_member") as c:
        first = _fip(c, outside, port["id"])
        assert first.status_code == 201, first.text
        fip = first.json()["floatingip"]
        spare = _fip(c, outside).json()["floatingip"]
        with nothing_made(net_env.cloud):
            second = _fip(c, outside, port["id"])
            moved = c.put(
                f"/v2.0/floatingips/{spare['id']}", json={"floatingip": {"port_id": port["id"]}}
            )
            strand = c.put(
                f"/v2.0/routers/{router['id']}/remove_router_interface",
                json={"subnet_id": sub["id"]},
            )
        assert second.status_code == 409, second.text
        assert second.json()["NeutronError"]["type"] == "FloatingIPPortAlreadyAssociated"
        assert moved.status_code == 409, moved.text
        assert strand.status_code == 409, strand.text
        error = strand.json()["NeutronError"]
        assert error["type"] == "RouterInterfaceInUseByFloatingIP"
        assert sub["id"] in error["message"]
        # once the floating IP lets go, the same removal goes through
        unset = c.put(f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}})
        assert unset.status_code == 200, unset.text
        removed = c.put(
            f"/v2.0/routers/{router['id']}/remove_router_interface", json={"subnet_id": sub["id"]}
        )
        assert removed.status_code == 200, removed.text
        for f in (fip, spare):
            assert c.delete(f"/v2.0/floatingips/{f['id']}").status_code == 204
        assert c.delete(f"/v2.0/ports/{port['id']}").status_code == 204
        assert c.delete(f"/v2.0/routers/{router['id']}").status_code == 204


def test_deleting_a_security_group_in_use_409(net_env: Env) -> None:
    name = net_env.name("sg")
    group = json.loads(net_env.cli("a_member", "security", "group", "create", name, "-f", "json"))
    net = net_env.network("a_member")
    with net_env.http("a_member") as c:
        port = c.post(
            "/v2.0/ports",
            json={"port": {"network_id": net["id"], "security_groups": [group["id"]]}},
        ).json()["port"]
        with nothing_made(net_env.cloud):
            busy = c.delete(f"/v2.0/security-groups/{group['id']}")
        assert busy.status_code == 409, busy.text
        assert busy.json()["NeutronError"]["type"] == "SecurityGroupInUse"
        assert c.delete(f"/v2.0/ports/{port['id']}").status_code == 204
        assert c.delete(f"/v2.0/security-groups/{group['id']}").status_code == 204


BAD_RULES = {
    "unknown protocol name": {"protocol": "bogus"},
    "protocol number past 255": {"protocol": "256"},
    "port range reversed": {"protocol": "tcp", "port_range_min": 30, "port_range_max": 20},
    "port zero": {"protocol": "udp", "port_range_min": 0, "port_range_max": 10},
    "ports without a port protocol": {"protocol": "47", "port_range_min": 1, "port_range_max": 2},
    "icmp type past 255": {"protocol": "icmp", "port_range_min": 300},
    "prefix too long": {"remote_ip_prefix": "10.0.0.0/33"},
    "prefix not an address": {"remote_ip_prefix": "not-a-prefix"},
    "prefix of the other family": {"ethertype": "IPv4", "remote_ip_prefix": "2001:db8::/32"},
}


@pytest.fixture(scope="module")
def group(net_env: Env) -> dict[str, Any]:
    name = net_env.name("sg")
    made: dict[str, Any] = json.loads(
        net_env.cli("a_member", "security", "group", "create", name, "-f", "json")
    )
    return made


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_a_rule_with_a_bad_protocol_port_range_or_prefix_400(
    net_env: Env, group: dict[str, Any], case: str
) -> None:
    body = {"security_group_id": group["id"], "direction": "ingress", **BAD_RULES[case]}
    with nothing_made(net_env.cloud), net_env.http("a_member") as c:
        resp = c.post("/v2.0/security-group-rules", json={"security_group_rule": body})
    assert resp.status_code == 400, resp.text
    assert set(resp.json()["NeutronError"]) == {"type", "message", "detail"}


def _rule(env: Env, group: str, *args: str) -> dict[str, Any]:
    out = env.cli("a_member", "security", "group", "rule", "create", *args, group, "-f", "json")
    rule: dict[str, Any] = json.loads(out)
    return rule


def test_rules_by_protocol_number_range_prefix_ipv6_and_remote_group_through_the_cli(
    net_env: Env, group: dict[str, Any]
) -> None:
    gid = group["id"]
    sctp = _rule(
        net_env, gid, "--protocol", "132", "--dst-port", "5000:5010", "--remote-ip", "192.0.2.0/24"
    )
    assert (sctp["protocol"], sctp["port_range_min"], sctp["port_range_max"]) == ("132", 5000, 5010)
    assert sctp["remote_ip_prefix"] == "192.0.2.0/24"
    gre = _rule(net_env, gid, "--protocol", "47")
    assert (gre["protocol"], gre["port_range_min"]) == ("47", None)
    v6 = _rule(
        net_env,
        gid,
        "--ethertype",
        "IPv6",
        "--protocol",
        "ipv6-icmp",
        "--remote-ip",
        "2001:db8::/32",
    )
    assert (v6["ether_type"], v6["remote_ip_prefix"]) == ("IPv6", "2001:db8::/32")
    peer = _rule(net_env, gid, "--egress", "--protocol", "udp", "--remote-group", gid)
    assert (peer["direction"], peer["remote_group_id"]) == ("egress", gid)
    listed = json.loads(
        net_env.cli("a_member", "security", "group", "rule", "list", gid, "-f", "json")
    )
    assert {sctp["id"], gre["id"], v6["id"], peer["id"]} <= {r["ID"] for r in listed}


def test_router_extra_routes_and_enable_snat_through_the_cli(
    net_env: Env, outside: dict[str, Any]
) -> None:
    name = net_env.name("r")
    net = net_env.network("admin")
    sub = net_env.subnet(net["id"], "10.94.0.0/24", who="admin")
    router = json.loads(net_env.cli("admin", "router", "create", name, "-f", "json"))
    net_env.cli(
        "admin", "router", "set", "--external-gateway", outside["id"], "--disable-snat", name
    )
    shown = json.loads(net_env.cli("admin", "router", "show", name, "-f", "json"))
    assert shown["external_gateway_info"]["enable_snat"] is False
    net_env.cli(
        "admin", "router", "set", "--external-gateway", outside["id"], "--enable-snat", name
    )
    shown = json.loads(net_env.cli("admin", "router", "show", name, "-f", "json"))
    assert shown["external_gateway_info"]["enable_snat"] is True
    net_env.cli("admin", "router", "add", "subnet", name, sub["id"])
    route = "destination=10.200.0.0/16,gateway=10.94.0.5"
    net_env.cli("admin", "router", "set", "--route", route, name)
    shown = json.loads(net_env.cli("admin", "router", "show", name, "-f", "json"))
    assert shown["routes"] == [{"destination": "10.200.0.0/16", "nexthop": "10.94.0.5"}]
    with net_env.http() as c, nothing_made(net_env.cloud):
        stray = c.put(
            f"/v2.0/routers/{router['id']}",
            json={"router": {"routes": [{"destination": "10.201.0.0/16", "nexthop": "10.95.0.5"}]}},
        )
    assert stray.status_code == 400, stray.text
    assert "nexthop" in stray.json()["NeutronError"]["message"]
    net_env.cli("admin", "router", "unset", "--route", route, name)
    shown = json.loads(net_env.cli("admin", "router", "show", name, "-f", "json"))
    assert shown["routes"] == []
    net_env.cli("admin", "router", "remove", "subnet", name, sub["id"])
    net_env.cli("admin", "router", "delete", name)
