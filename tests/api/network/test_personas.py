"""Personas (PROMISES 15, 16): a reader may only read; another project's member sees none of
a project's private networks, subnets or ports (404 for GET, PUT and DELETE); shared networks
are visible to every project, their provider details only to admins."""

from __future__ import annotations

from tests.api.network.conftest import Env
from tests.nothing_made import nothing_made


def test_reader_reads_only(net_env: Env) -> None:
    network = net_env.network("a_member")
    subnet = net_env.subnet(network["id"], "10.70.0.0/24")
    with net_env.http("a_reader") as c:
        assert c.get(f"/v2.0/networks/{network['id']}").status_code == 200
        assert c.get(f"/v2.0/subnets/{subnet['id']}").status_code == 200
        assert network["id"] in [n["id"] for n in c.get("/v2.0/networks").json()["networks"]]
        with nothing_made(net_env.cloud):
            writes = [
                c.post("/v2.0/networks", json={"network": {"name": "r"}}),
                c.put(f"/v2.0/networks/{network['id']}", json={"network": {"name": "r"}}),
                c.delete(f"/v2.0/networks/{network['id']}"),
                c.post("/v2.0/ports", json={"port": {"network_id": network["id"]}}),
                c.put(f"/v2.0/networks/{network['id']}/tags/x"),
            ]
    assert [w.status_code for w in writes] == [403] * len(writes)


def test_other_project_sees_nothing(net_env: Env) -> None:
    network = net_env.network("a_member")
    subnet = net_env.subnet(network["id"], "10.71.0.0/24")
    with net_env.http("a_member") as c:
        port = c.post("/v2.0/ports", json={"port": {"network_id": network["id"]}}).json()["port"]
    for who in ("b_member", "b_reader"):
        with net_env.http(who) as c, nothing_made(net_env.cloud):
            for path in (
                f"/v2.0/networks/{network['id']}",
                f"/v2.0/subnets/{subnet['id']}",
                f"/v2.0/ports/{port['id']}",
            ):
                kind = path.split("/")[2][:-1]
                assert c.get(path).status_code == 404
                assert c.put(path, json={kind: {"name": "x"}}).status_code == 404
                assert c.delete(path).status_code == 404
            ids = [p["id"] for p in c.get("/v2.0/ports").json()["ports"]]
            assert port["id"] not in ids


def test_shared_network_visible_and_usable(net_env: Env) -> None:
    shared = net_env.network("admin", shared=True)
    net_env.subnet(shared["id"], "10.72.0.0/24", who="admin")
    with net_env.http("b_member") as c:
        seen = c.get(f"/v2.0/networks/{shared['id']}").json()["network"]
        assert seen["shared"] is True
        assert "provider:network_type" not in seen
        port = c.post("/v2.0/ports", json={"port": {"network_id": shared["id"]}})
        assert port.status_code == 201
        assert port.json()["port"]["project_id"] == net_env.people["b_member"].project_id
        assert "binding:host_id" not in port.json()["port"]
        with nothing_made(net_env.cloud):
            refused = c.put(f"/v2.0/networks/{shared['id']}", json={"network": {"name": "x"}})
        assert refused.status_code == 403
