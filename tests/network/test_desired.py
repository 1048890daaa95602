"""The agent's pure parts: a host's view of the cloud, L2 population entries, dnsmasq's files."""

from __future__ import annotations

from ministack.network.agent.derive import host_view
from ministack.network.agent.desired import DHCP_OWNER, NetworkSpec, PortSpec, SubnetSpec
from ministack.network.agent.linux.dnsmasq import render

SUBNET = SubnetSpec("s1", "10.0.0.0/26", "10.0.0.1", host_routes=(("192.168.9.0/24", "10.0.0.9"),))
DHCP = PortSpec("d" * 36, "fa:16:3e:00:00:02", (("s1", "10.0.0.2"),), "", "dhcp", DHCP_OWNER, "h1")
VM1 = PortSpec(
    "a" * 36, "FA:16:3E:00:00:11", (("s1", "10.0.0.11"),), "vm1", "i1", "compute:nova", "h1"
)
VM2 = PortSpec(
    "b" * 36, "fa:16:3e:00:00:12", (("s1", "10.0.0.12"),), "", "i2", "compute:nova", "h2"
)
UNBOUND = PortSpec("c" * 36, "fa:16:3e:00:00:13", (("s1", "10.0.0.13"),))
NET = NetworkSpec("n" * 36, 1450, 9, (SUBNET,), (DHCP, VM1, VM2, UNBOUND))
VTEPS = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3"}


def test_a_host_holds_the_networks_it_has_ports_on_and_dhcp_where_its_port_is() -> None:
    h1 = host_view("h1", [NET], VTEPS)
    assert [n.network_id for n in h1.networks] == [NET.network_id]
    assert h1.networks[0].dhcp_port == DHCP
    assert h1.local_ports(h1.networks[0]) == (VM1,)
    h2 = host_view("h2", [NET], VTEPS)
    assert h2.networks[0].dhcp_port is None
    assert host_view("h3", [NET], VTEPS).networks == ()  # no port there: nothing to make


def test_l2_population_floods_to_and_forwards_at_the_hosts_with_ports() -> None:
    h1 = host_view("h1", [NET], VTEPS)
    assert h1.remote_fdb(h1.networks[0]) == {
        ("00:00:00:00:00:00", "192.0.2.2"),
        ("fa:16:3e:00:00:12", "192.0.2.2"),
    }
    h2 = host_view("h2", [NET], VTEPS)
    assert h2.remote_fdb(h2.networks[0]) == {
        ("00:00:00:00:00:00", "192.0.2.1"),
        ("fa:16:3e:00:00:02", "192.0.2.1"),
        ("fa:16:3e:00:00:11", "192.0.2.1"),
    }


def test_dnsmasq_knows_every_port_and_routes_metadata_via_the_dhcp_port() -> None:
    files = render(host_view("h1", [NET], VTEPS).networks[0], {"s1": "10.0.0.2"})
    assert files.hosts.splitlines() == [
        "fa:16:3e:00:00:11,10.0.0.11,vm1",
        "fa:16:3e:00:00:12,10.0.0.12,host-10-0-0-12",
        "fa:16:3e:00:00:13,10.0.0.13,host-10-0-0-13",
    ]
    assert "10.0.0.11\tvm1.openstacklocal vm1" in files.addn_hosts.splitlines()
    assert files.opts.splitlines() == [
        "tag:subnet-s1,option:router,10.0.0.1",
        "tag:subnet-s1,option:dns-server,10.0.0.2",
        "tag:subnet-s1,option:classless-static-route,169.254.169.254/32,10.0.0.2,"
        "192.168.9.0/24,10.0.0.9,0.0.0.0/0,10.0.0.1",
    ]


def test_a_subnet_without_gateway_gets_no_default_route_and_its_own_dns() -> None:
    subnet = SubnetSpec("s2", "10.1.0.0/24", None, dns_nameservers=("10.1.0.53",))
    net = NetworkSpec("m" * 36, subnets=(subnet,))
    opts = render(net, {"s2": "10.1.0.2"}).opts.splitlines()
    assert opts == [
        "tag:subnet-s2,option:router",
        "tag:subnet-s2,option:dns-server,10.1.0.53",
        "tag:subnet-s2,option:classless-static-route,169.254.169.254/32,10.1.0.2",
    ]
