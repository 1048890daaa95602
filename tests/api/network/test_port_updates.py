"""Port updates (re-addressing, address pairs, security groups, port security), binding by an
admin, IPv6 subnets (SLAAC addresses from the MAC, as Neutron) and a subnet without gateway."""

from __future__ import annotations

import ipaddress

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made


def test_readdress_pairs_groups_and_port_security(net_env: Env) -> None:
    conn = net_env.people["a_member"].conn
    net = conn.network.create_network(name=net_env.name("upd"))
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.110.0.0/24")
    port = conn.network.create_port(network_id=net.id)
    old = port.fixed_ips[0]["ip_address"]
    moved = conn.network.update_port(
        port, fixed_ips=[{"subnet_id": sub.id, "ip_address": "10.110.0.77"}]
    )
    assert [ip["ip_address"] for ip in moved.fixed_ips] == ["10.110.0.77"]
    other = conn.network.create_port(
        network_id=net.id, fixed_ips=[{"subnet_id": sub.id, "ip_address": old}]
    )
    assert other.fixed_ips[0]["ip_address"] == old  # the old address was released
    paired = conn.network.update_port(
        port, allowed_address_pairs=[{"ip_address": "10.110.0.200/32"}]
    )
    assert paired.allowed_address_pairs == [
        {"ip_address": "10.110.0.200/32", "mac_address": port.mac_address}
    ]
    with net_env.http("a_member") as c, nothing_made(net_env.cloud):
        refused = c.put(f"/v2.0/ports/{port.id}", json={"port": {"port_security_enabled": False}})
    assert refused.status_code == 409
    bare = conn.network.update_port(
        port, security_groups=[], allowed_address_pairs=[], port_security_enabled=False
    )
    assert (bare.security_group_ids, bare.is_port_security_enabled) == ([], False)
    conn.network.delete_port(other)
    conn.network.delete_port(port)


def test_admin_binds_a_port(net_env: Env) -> None:
    net = net_env.network()
    net_env.subnet(net["id"], "10.111.0.0/24")
    with net_env.http("a_member") as c:
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
        with nothing_made(net_env.cloud):
            refused = c.put(f"/v2.0/ports/{port['id']}", json={"port": {"binding:host_id": "h1"}})
        assert refused.status_code == 403
    net_env.cli("admin", "port", "set", "--host", "h1", port["id"])
    with net_env.http() as c:
        bound = c.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert bound["binding:host_id"] == "h1"
    assert bound["binding:vif_type"] == "bridge"
    assert bound["binding:vif_details"]["bridge_name"] == "brq" + net["id"][:11]


def test_ipv6_slaac_and_no_gateway(net_env: Env) -> None:
    net = net_env.network()
    v6 = net_env.subnet(
        net["id"],
        "fd00:10:1::/64",
        ip_version=6,
        ipv6_address_mode="slaac",
        ipv6_ra_mode="slaac",
    )
    v4 = net_env.subnet(net["id"], "10.112.0.0/24", gateway_ip=None)
    assert v4["gateway_ip"] is None
    assert v4["allocation_pools"] == [{"start": "10.112.0.1", "end": "10.112.0.254"}]
    with net_env.http("a_member") as c:
        port = c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    by_subnet = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    mac = [int(x, 16) for x in port["mac_address"].split(":")]
    mac[0] ^= 2
    eui = bytes([*mac[:3], 0xFF, 0xFE, *mac[3:]])
    expected = ipaddress.IPv6Address(
        int(ipaddress.IPv6Address("fd00:10:1::")) + int.from_bytes(eui, "big")
    )
    assert by_subnet[v6["id"]] == str(expected)
    assert ipaddress.ip_address(by_subnet[v4["id"]]) in ipaddress.ip_network("10.112.0.0/24")
