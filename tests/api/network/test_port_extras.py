"""Port attributes the conformance audit found untested (docs/conformance-network.md): a MAC
address is unique per network (409 MacAddressInUse, making nothing) but may repeat on another
network, and extra DHCP options are stored and returned as Neutron's extra_dhcp_opt
extension does, through the unmodified CLI."""

from __future__ import annotations

import json

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made

MAC = "fa:16:3e:12:34:56"


def test_a_mac_address_is_unique_per_network_409(net_env: Env) -> None:
    one, two = net_env.network(), net_env.network()
    with net_env.http("a_member") as c:
        first = c.post("/v2.0/ports", json={"port": {"network_id": one["id"], "mac_address": MAC}})
        assert first.status_code == 201, first.text
        with nothing_made(net_env.cloud):
            again = c.post(
                "/v2.0/ports", json={"port": {"network_id": one["id"], "mac_address": MAC}}
            )
        assert again.status_code == 409, again.text
        error = again.json()["NeutronError"]
        assert error["type"] == "MacAddressInUse"
        assert MAC in error["message"]
        elsewhere = c.post(
            "/v2.0/ports", json={"port": {"network_id": two["id"], "mac_address": MAC}}
        )
        assert elsewhere.status_code == 201, elsewhere.text
        for made in (first, elsewhere):
            assert c.delete(f"/v2.0/ports/{made.json()['port']['id']}").status_code == 204


def test_extra_dhcp_options_are_stored_and_returned(net_env: Env) -> None:
    net = net_env.network()
    name = net_env.name("p")
    made = json.loads(
        net_env.cli(
            "a_member",
            "port",
            "create",
            "--network",
            net["id"],
            "--extra-dhcp-option",
            "name=domain-search,value=example.org",
            "--extra-dhcp-option",
            "name=ntp-server,value=192.0.2.123,ip-version=4",
            name,
            "-f",
            "json",
        )
    )
    with net_env.http("a_member") as c:
        port = c.get(f"/v2.0/ports/{made['id']}").json()["port"]
    assert sorted(port["extra_dhcp_opts"], key=lambda o: o["opt_name"]) == [
        {"opt_name": "domain-search", "opt_value": "example.org", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "192.0.2.123", "ip_version": 4},
    ]
    net_env.cli("a_member", "port", "delete", made["id"])
