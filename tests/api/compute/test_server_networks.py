"""Servers with NICs through the unmodified `openstack` CLI and openstacksdk (fake driver, the
network service in the same process): create with a network, a fixed IP and a port; the
ports made and bound for the server; `addresses` and the `Networks` column; `auto` and
`none`; each bad request refused with nothing made; delete removes the ports compute made
and keeps (unbound) the one the user passed in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest

from tests.api.compute.conftest import Compute, prepare
from tests.cloud import running_cloud
from tests.nothing_made import nothing_made

SERVICES = ("identity", "image", "placement", "compute", "network")
ENV = {"MINISTACK_COMPUTE_FAKE_HOSTS": "1", "MINISTACK_COMPUTE_TEST_HOOKS": "1"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("servernet")
    with running_cloud(tmp, services=SERVICES, extra_env=ENV) as cloud:
        yield prepare(cloud)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _network(conn: openstack.connection.Connection, cidr: str, **attrs: Any) -> Any:
    net = conn.network.create_network(name=_name("net"), **attrs)
    project = attrs.get("project_id")
    extra = {"project_id": project} if project else {}
    conn.network.create_subnet(network_id=net.id, cidr=cidr, ip_version=4, **extra)
    return net


def _server(env: Compute, *args: str, name: str | None = None) -> dict[str, Any]:
    out = env.cloud.cli(
        "server",
        "create",
        "--flavor",
        env.flavor_id,
        "--image",
        env.image_id,
        *args,
        "--wait",
        "-f",
        "json",
        name or _name("vm"),
    ).stdout
    server: dict[str, Any] = json.loads(out)
    return server


def _delete(env: Compute, server_id: str) -> None:
    env.cloud.cli("server", "delete", "--wait", server_id)


def test_network_fixed_ip_and_port_become_addresses_and_delete_keeps_the_users_port(
    env: Compute,
) -> None:
    conn = env.conn
    net = _network(conn, "10.61.0.0/24")
    user_port = conn.network.create_port(network_id=net.id, name=_name("mine"))
    server = _server(
        env,
        "--network",
        net.name,
        "--nic",
        f"net-id={net.id},v4-fixed-ip=10.61.0.50",
        "--port",
        user_port.id,
    )
    assert server["status"] == "ACTIVE"
    ports = list(conn.network.ports(device_id=server["id"]))
    assert len(ports) == 3
    host = conn.compute.get_server(server["id"]).hypervisor_hostname
    for port in ports:
        assert port.device_owner == "compute:nova"
        assert port.binding_host_id == host
        assert port.binding_vif_type == "bridge"
    shown = conn.compute.get_server(server["id"]).addresses
    addrs = {a["addr"]: a for a in shown[net.name]}
    assert len(addrs) == 3 and "10.61.0.50" in addrs
    assert user_port.fixed_ips[0]["ip_address"] in addrs
    mine = addrs[user_port.fixed_ips[0]["ip_address"]]
    assert mine["OS-EXT-IPS-MAC:mac_addr"] == user_port.mac_address
    assert mine["OS-EXT-IPS:type"] == "fixed" and mine["version"] == 4
    listed = json.loads(env.cloud.cli("server", "list", "-f", "json").stdout)
    row = next(r for r in listed if r["ID"] == server["id"])
    assert "10.61.0.50" in json.dumps(row["Networks"])
    made = {p.id for p in ports} - {user_port.id}
    _delete(env, server["id"])
    left = {p.id: p for p in conn.network.ports(network_id=net.id)}
    assert not made & set(left)
    kept = left[user_port.id]
    assert kept.device_id == "" and kept.binding_host_id in ("", None)


def test_auto_picks_the_single_network_and_none_gives_no_nic(env: Compute) -> None:
    conn = env.conn
    project = conn.identity.create_project(name=_name("auto"), domain_id="default")
    user = conn.identity.create_user(name=_name("u"), password="pw-auto-1", domain_id="default")
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, role)
    as_user = {"username": user.name, "password": "pw-auto-1", "project": project.name}

    def create(networks: Any) -> httpx.Response:
        token = httpx.post(
            f"{env.cloud.auth_url}/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": as_user["username"],
                                "domain": {"id": "default"},
                                "password": as_user["password"],
                            }
                        },
                    },
                    "scope": {"project": {"id": project.id}},
                }
            },
        ).headers["X-Subject-Token"]
        body = {
            "server": {
                "name": _name("auto"),
                "flavorRef": env.flavor_id,
                "imageRef": env.image_id,
                "networks": networks,
            }
        }
        return httpx.post(
            f"{env.cloud.url('compute')}/v2.1/servers",
            json=body,
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.37"},
            timeout=30,
        )

    with nothing_made(env):  # no network at all: auto cannot choose
        refused = create("auto")
    assert refused.status_code == 400, refused.text
    assert "Unable to automatically allocate a network" in refused.text
    net = _network(conn, "10.62.0.0/24", project_id=project.id)
    made = create("auto")
    assert made.status_code == 202, made.text
    server = conn.compute.wait_for_server(conn.compute.get_server(made.json()["server"]["id"]))
    assert [a["addr"].startswith("10.62.0.") for a in server.addresses[net.name]] == [True]
    bare = create("none")
    assert bare.status_code == 202, bare.text
    plain = conn.compute.wait_for_server(conn.compute.get_server(bare.json()["server"]["id"]))
    assert plain.addresses == {}
    _network(conn, "10.63.0.0/24", project_id=project.id)
    with nothing_made(env):
        ambiguous = create("auto")
    assert ambiguous.status_code == 409, ambiguous.text
    assert "Multiple possible networks found" in ambiguous.text
    for sid in (server.id, plain.id):
        _delete(env, sid)
    assert list(conn.network.ports(device_id=server.id)) == []


def _post(env: Compute, networks: Any, **server: Any) -> httpx.Response:
    body = {
        "server": {
            "name": _name("bad"),
            "flavorRef": env.flavor_id,
            "imageRef": env.image_id,
            "networks": networks,
            **server,
        }
    }
    return env.api("POST", "/servers", version="2.37", json=body)


def test_bad_networks_are_refused_and_nothing_is_made(env: Compute) -> None:
    conn = env.conn
    net = _network(conn, "10.64.0.0/24")
    other = conn.identity.create_project(name=_name("other"), domain_id="default")
    theirs = _network(conn, "10.65.0.0/24", project_id=other.id)
    taken = conn.network.create_port(network_id=net.id, device_id=str(uuid.uuid4()))
    free = conn.network.create_port(network_id=net.id)
    cases = [
        ([{"uuid": str(uuid.uuid4())}], {}, 400, "could not be found"),
        ([{"port": str(uuid.uuid4())}], {}, 400, "could not be found"),
        ([{"port": taken.id}], {}, 409, "in use"),
        ([{"uuid": theirs.id}], {}, 400, "could not be found"),
        ([{"port": free.id}], {"max_count": 2}, 400, "single configured port"),
        ([{"uuid": net.id, "fixed_ip": "10.64.0.9"}], {"max_count": 2}, 400, "fixed_ip"),
        ([{"port": free.id}, {"port": free.id}], {}, 400, "duplicated"),
    ]
    for networks, extra, status, words in cases:
        with nothing_made(env):
            resp = _post(env, networks, **extra)
        assert resp.status_code == status, (networks, resp.text)
        assert words in resp.text, resp.text
    assert conn.network.get_port(free.id).device_id == ""


def test_a_fixed_ip_in_use_fails_the_build_and_releases_its_ports(env: Compute) -> None:
    """The address is taken when the host makes the port (the API does not look ahead): the
    build fails on the only host, and the port it had already made for the first NIC is gone."""
    conn = env.conn
    net = _network(conn, "10.66.0.0/24")
    conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.66.0.7"}])
    before = {p.id for p in conn.network.ports(network_id=net.id)}
    resp = _post(
        env, [{"uuid": net.id}, {"uuid": net.id, "fixed_ip": "10.66.0.7"}], name=_name("clash")
    )
    assert resp.status_code == 202, resp.text
    server = conn.compute.wait_for_server(
        conn.compute.get_server(resp.json()["server"]["id"]), status="ERROR", failures=[]
    )
    assert "No valid host" in server.fault["message"]
    events = env.api("GET", f"/servers/{server.id}/os-instance-actions").json()
    assert events["instanceActions"][0]["action"] == "create"
    assert {p.id for p in conn.network.ports(network_id=net.id)} == before
    _delete(env, server.id)


def test_add_and_remove_port_and_network_on_a_running_server(env: Compute) -> None:
    conn = env.conn
    net = _network(conn, "10.67.0.0/24")
    other = _network(conn, "10.68.0.0/24")
    mine = conn.network.create_port(network_id=other.id, name=_name("mine"))
    server = _server(env, "--network", net.name)
    sid = server["id"]
    env.cloud.cli("server", "add", "port", sid, mine.id)
    env.cloud.cli("server", "add", "network", sid, other.id)
    listed = json.loads(env.cloud.cli("port", "list", "--server", sid, "-f", "json").stdout)
    assert len(listed) == 3
    attachments = env.api("GET", f"/servers/{sid}/os-interface").json()["interfaceAttachments"]
    assert {a["port_id"] for a in attachments} == {p["ID"] for p in listed}
    assert {a["net_id"] for a in attachments} == {net.id, other.id}
    shown = conn.compute.get_server(sid).addresses
    assert len(shown[other.name]) == 2 and len(shown[net.name]) == 1
    ours = [a["port_id"] for a in attachments if a["net_id"] == other.id]
    (added,) = set(ours) - {mine.id}
    with nothing_made(env):
        missing = env.api(
            "POST",
            f"/servers/{sid}/os-interface",
            json={"interfaceAttachment": {"port_id": str(uuid.uuid4())}},
        )
        in_use = env.api(
            "POST", f"/servers/{sid}/os-interface", json={"interfaceAttachment": {"port_id": added}}
        )
        no_net = env.api(
            "POST",
            f"/servers/{sid}/os-interface",
            json={"interfaceAttachment": {"net_id": str(uuid.uuid4())}},
        )
    assert (missing.status_code, in_use.status_code, no_net.status_code) == (404, 409, 404)
    env.cloud.cli("server", "remove", "port", sid, mine.id)
    env.cloud.cli("server", "remove", "port", sid, added)
    kept = conn.network.get_port(mine.id)
    assert kept.device_id == "" and kept.binding_host_id in ("", None)
    assert conn.network.find_port(added) is None
    assert list(conn.compute.get_server(sid).addresses) == [net.name]
    _delete(env, sid)
    assert conn.network.get_port(mine.id).device_id == ""


def test_delete_on_a_down_host_releases_the_ports_locally(env: Compute) -> None:
    """Promise 2: with the host down (forced), the API deletes locally and still frees the
    ports — compute's deleted, the user's unbound and kept."""
    conn = env.conn
    net = _network(conn, "10.69.0.0/24")
    mine = conn.network.create_port(network_id=net.id, name=_name("mine"))
    server = _server(env, "--network", net.name, "--port", mine.id)
    made = {p.id for p in conn.network.ports(device_id=server["id"])} - {mine.id}
    assert len(made) == 1
    (host,) = env.hosts
    env.cloud.cli("compute", "service", "set", "--down", host, "nova-compute")
    try:
        conn.compute.delete_server(server["id"])
        assert conn.compute.find_server(server["id"]) is None  # local: gone at once
    finally:
        env.cloud.cli("compute", "service", "set", "--up", host, "nova-compute")
    assert not made & {p.id for p in conn.network.ports(network_id=net.id)}
    assert conn.network.get_port(mine.id).device_id == ""


def test_security_groups_of_the_create_request_are_on_the_ports(env: Compute) -> None:
    """`openstack server create --security-group web` puts the port made for the server in
    that group (by name or id) instead of the default one; a group the project has not is
    400 naming it, with nothing made."""
    conn = env.conn
    net = _network(conn, "10.66.0.0/24")
    web = conn.network.create_security_group(name=_name("web"))
    ssh = conn.network.create_security_group(name=_name("ssh"))
    server = _server(
        env, "--network", net.id, "--security-group", web.name, "--security-group", ssh.id
    )
    ports = list(conn.network.ports(device_id=server["id"]))
    assert len(ports) == 1
    assert sorted(ports[0].security_group_ids) == sorted([web.id, ssh.id])
    plain = _server(env, "--network", net.id)
    default = conn.network.find_security_group("default", project_id=plain["project_id"])
    assert [p.security_group_ids for p in conn.network.ports(device_id=plain["id"])] == [
        [default.id]
    ]
    missing = _name("nosuch")
    with nothing_made(env):
        resp = _post(env, [{"uuid": net.id}], security_groups=[{"name": missing}])
    assert resp.status_code == 400, resp.text
    assert f"Security group {missing} not found" in resp.text
    for made in (server, plain):
        gone = conn.compute.get_server(made["id"])
        conn.compute.delete_server(gone)
        conn.compute.wait_for_delete(gone, wait=60)


def test_server_add_and_remove_floating_ip_through_the_cli(env: Compute) -> None:
    conn = env.conn
    public = conn.network.create_network(
        name=_name("pub"), is_router_external=True, provider_network_type="local"
    )
    conn.network.create_subnet(
        network_id=public.id, cidr="172.29.4.0/24", ip_version=4, is_dhcp_enabled=False
    )
    net = _network(conn, "10.69.0.0/24")
    (subnet,) = conn.network.subnets(network_id=net.id)
    router = conn.network.create_router(
        name=_name("r"), external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    server = _server(env, "--network", net.name)
    sid = server["id"]
    (port,) = conn.network.ports(device_id=sid)
    fip = conn.network.create_ip(floating_network_id=public.id)
    env.cloud.cli("server", "add", "floating", "ip", sid, fip.floating_ip_address)
    got = conn.network.get_ip(fip.id)
    assert (got.port_id, got.fixed_ip_address, got.router_id) == (
        port.id,
        port.fixed_ips[0]["ip_address"],
        router.id,
    )
    env.cloud.cli("server", "remove", "floating", "ip", sid, fip.floating_ip_address)
    assert conn.network.get_ip(fip.id).port_id is None
    conn.network.delete_ip(fip)
    _delete(env, sid)
    conn.network.remove_interface_from_router(router, subnet=subnet.id)
    conn.network.delete_router(router)
