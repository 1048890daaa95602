"""One identity + network cloud for the network API tests, with two projects and two roles
each (member, reader), reached with openstacksdk, the `openstack` CLI and plain HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest

from tests.cloud import ADMIN_PASSWORD, Cloud, password_body, running_cloud

PASSWORD = "network-test-pw"
SERVICES = ("identity", "network")


@dataclass
class Persona:
    name: str
    project: str
    project_id: str
    role: str
    conn: openstack.connection.Connection
    token: str


@dataclass
class Env:
    cloud: Cloud
    admin: openstack.connection.Connection
    admin_token: str
    admin_project_id: str
    people: dict[str, Persona]

    @property
    def url(self) -> str:
        return self.cloud.url("network")

    def http(self, who: str = "admin") -> httpx.Client:
        token = self.admin_token if who == "admin" else self.people[who].token
        return httpx.Client(base_url=self.url, headers={"X-Auth-Token": token}, timeout=60)

    def cli(self, who: str, *args: str, check: bool = True) -> str:
        if who == "admin":
            result = self.cloud.cli(*args, check=check)
        else:
            p = self.people[who]
            result = self.cloud.cli(
                *args, check=check, username=p.name, password=PASSWORD, project=p.project
            )
        return result.stdout if check else result.stdout + result.stderr

    def name(self, prefix: str = "n") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def network(self, who: str = "a_member", **attrs: Any) -> dict[str, Any]:
        with self.http(who) as c:
            resp = c.post("/v2.0/networks", json={"network": {"name": self.name(), **attrs}})
        assert resp.status_code == 201, resp.text
        net: dict[str, Any] = resp.json()["network"]
        return net

    def subnet(self, network_id: str, cidr: str, who: str = "a_member", **attrs: Any) -> Any:
        body = {"network_id": network_id, "cidr": cidr, "ip_version": 4, **attrs}
        with self.http(who) as c:
            resp = c.post("/v2.0/subnets", json={"subnet": body})
        assert resp.status_code == 201, resp.text
        return resp.json()["subnet"]


def token_of(cloud: Cloud, user: str, password: str, project: str) -> str:
    resp = httpx.post(f"{cloud.auth_url}/auth/tokens", json=password_body(user, password, project))
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def make_env(cloud: Cloud) -> Env:
    admin = cloud.connect()
    suffix = uuid.uuid4().hex[:6]
    people: dict[str, Persona] = {}
    for project in ("a", "b"):
        pname = f"proj-{project}-{suffix}"
        proj = admin.identity.create_project(name=pname, domain_id="default")
        for role in ("member", "reader"):
            uname = f"{project}-{role}-{suffix}"
            user = admin.identity.create_user(name=uname, password=PASSWORD, domain_id="default")
            role_obj = admin.identity.find_role(role, ignore_missing=False)
            admin.identity.assign_project_role_to_user(proj, user, role_obj)
            people[f"{project}_{role}"] = Persona(
                name=uname,
                project=pname,
                project_id=proj.id,
                role=role,
                conn=cloud.connect(username=uname, password=PASSWORD, project=pname),
                token=token_of(cloud, uname, PASSWORD, pname),
            )
    return Env(
        cloud=cloud,
        admin=admin,
        admin_token=token_of(cloud, "admin", ADMIN_PASSWORD, "admin"),
        admin_project_id=str(admin.current_project_id),
        people=people,
    )


@pytest.fixture(scope="session")
def net_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("network")
    with running_cloud(tmp, services=SERVICES) as cloud:
        yield make_env(cloud)
