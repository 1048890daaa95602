"""A compute cloud for the whole session: identity, image and compute with 3 fake hosts,
the fake-driver test hook enabled, resize to another host only, a public image and small
flavors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest

from tests.cloud import Cloud, running_cloud

SERVICES = ("identity", "image", "placement", "compute")
FAKE_ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "3",
    "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    "MINISTACK_COMPUTE_FAKE_MEMORY_MB": "8192",
    # Nova's default, so a resize here always moves (same-host: test_resize_same_host.py).
    "MINISTACK_COMPUTE_ALLOW_RESIZE_TO_SAME_HOST": "0",
}


@dataclass
class Compute:
    """A running compute cloud with an admin connection, an image and flavors."""

    cloud: Cloud
    conn: openstack.connection.Connection
    image_id: str
    flavor_id: str

    @property
    def hosts(self) -> list[str]:
        return sorted(s.host for s in self.conn.compute.services() if s.binary == "nova-compute")

    def set_fake(self, host: str, **body: Any) -> dict[str, Any]:
        """Set a fake host's delays/failures through the admin test hook; returns the hook's
        answer, which lists the host's guests (uuids) under "guests"."""
        resp = httpx.post(
            f"{self.cloud.url('compute')}/v2.1/os-ministack-fake-hosts/{host}",
            json=body,
            headers={"X-Auth-Token": self.conn.auth_token},
            timeout=30,
        )
        resp.raise_for_status()
        answer: dict[str, Any] = resp.json()
        return answer

    def guests(self, host: str) -> list[str]:
        """The uuids of the guests the fake host holds (this clears its delays and failures)."""
        return list(self.set_fake(host)["guests"])

    def allocations(self, consumer: str) -> dict[str, Any]:
        """Placement's allocations of one consumer (an instance uuid), by provider."""
        resp = httpx.get(
            f"{self.cloud.url('placement')}/allocations/{consumer}",
            headers={"X-Auth-Token": self.conn.auth_token},
            timeout=30,
        )
        resp.raise_for_status()
        return dict(resp.json()["allocations"])

    def usages(self, project_id: str | None = None) -> dict[str, int]:
        """Placement's usages of a project (admin's by default), by resource class."""
        resp = httpx.get(
            f"{self.cloud.url('placement')}/usages",
            params={"project_id": project_id or self.conn.current_project_id},
            headers={
                "X-Auth-Token": self.conn.auth_token,
                "OpenStack-API-Version": "placement 1.9",
            },
            timeout=30,
        )
        resp.raise_for_status()
        return {rc: n for rc, n in resp.json()["usages"].items() if n}

    def quota_used(self, project_id: str | None = None) -> dict[str, int]:
        """Nova's quota usage of a project (admin's by default): in_use per resource."""
        project = project_id or self.conn.current_project_id
        detail = self.api("GET", f"/os-quota-sets/{project}/detail").json()["quota_set"]
        return {k: v["in_use"] for k, v in detail.items() if isinstance(v, dict)}

    def api(self, method: str, path: str, version: str = "2.38", **kw: Any) -> httpx.Response:
        """A raw compute API request as admin at a microversion."""
        headers = {
            "X-Auth-Token": self.conn.auth_token,
            "OpenStack-API-Version": f"compute {version}",
            **kw.pop("headers", {}),
        }
        return httpx.request(
            method, f"{self.cloud.url('compute')}/v2.1{path}", headers=headers, timeout=30, **kw
        )


def prepare(cloud: Cloud) -> Compute:
    conn = cloud.connect()
    image = conn.image.create_image(
        name="fake-image",
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        visibility="public",
    )
    flavor = conn.compute.create_flavor(
        name=f"tiny-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=1
    )
    return Compute(cloud=cloud, conn=conn, image_id=image.id, flavor_id=flavor.id)


@pytest.fixture(scope="session")
def compute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("compute")
    with running_cloud(tmp, services=SERVICES, extra_env=FAKE_ENV) as cloud:
        yield prepare(cloud)


@pytest.fixture(scope="session")
def conn(compute: Compute) -> openstack.connection.Connection:
    return compute.conn
