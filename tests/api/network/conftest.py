"""One identity + network cloud for the network API tests, with two projects and two roles
each (member, reader), reached with openstacksdk, the `openstack` CLI and plain HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloud import ADMIN_PASSWORD, Cloud, running_cloud
from tests.personas import PersonaCloud, make_people, token_of

PASSWORD = "network-test-pw"
SERVICES = ("identity", "network")


@dataclass
class Env(PersonaCloud):
    admin_project_id: str

    @property
    def url(self) -> str:
        return self.cloud.url("network")

    def http(self, who: str = "admin") -> httpx.Client:
        headers = {"X-Auth-Token": self.token(who)}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

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


def make_env(cloud: Cloud) -> Env:
    admin = cloud.connect()
    return Env(
        cloud=cloud,
        admin=admin,
        admin_token=token_of(cloud, "admin", ADMIN_PASSWORD, "admin"),
        admin_project_id=str(admin.current_project_id),
        people=make_people(cloud, admin, PASSWORD),
    )


@pytest.fixture(scope="session")
def net_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("network")
    with running_cloud(tmp, services=SERVICES) as cloud:
        yield make_env(cloud)
