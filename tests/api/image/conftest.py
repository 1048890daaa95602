"""One identity + image cloud for the image API tests, with two projects and three roles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openstack.connection
import pytest

from tests.cloud import ADMIN_PASSWORD, Cloud, password_body, running_cloud

PASSWORD = "image-test-pw"


@dataclass
class Persona:
    """A user with one role on one project, and how to reach the cloud as them."""

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
    people: dict[str, Persona]

    @property
    def image_url(self) -> str:
        return self.cloud.url("image")

    def http(self, who: str = "admin") -> httpx.Client:
        token = self.admin_token if who == "admin" else self.people[who].token
        return httpx.Client(base_url=self.image_url, headers={"X-Auth-Token": token}, timeout=60)

    def cli(self, who: str, *args: str, check: bool = True) -> str:
        if who == "admin":
            result = self.cloud.cli(*args, check=check)
        else:
            p = self.people[who]
            result = self.cloud.cli(
                *args, check=check, username=p.name, password=PASSWORD, project=p.project
            )
        return result.stdout if check else result.stdout + result.stderr

    def stored_files(self) -> set[str]:
        root = self.cloud.state_dir / "images"
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _token(cloud: Cloud, user: str, password: str, project: str) -> str:
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
                token=_token(cloud, uname, PASSWORD, pname),
            )
    return Env(
        cloud=cloud,
        admin=admin,
        admin_token=_token(cloud, "admin", ADMIN_PASSWORD, "admin"),
        people=people,
    )


@pytest.fixture(scope="session")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("image")
    # web-download may fetch from the test's HTTP server on loopback, nowhere else
    allowed = {"MINISTACK_IMAGE_WEB_DOWNLOAD_ALLOWED_HOSTS": "127.0.0.1"}
    with running_cloud(tmp, services=("identity", "image"), extra_env=allowed) as cloud:
        yield make_env(cloud)
