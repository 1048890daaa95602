"""One identity + object cloud for the object storage API tests: two projects, each with a
member and a reader, reached with python-swiftclient, the `swift` CLI and the `openstack` CLI."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import swiftclient
from keystoneauth1 import session
from keystoneauth1.identity import v3

from tests.cloud import ADMIN_PASSWORD, VENV_BIN, Cloud, password_body, running_cloud

PASSWORD = "object-test-pw"
S3_DOMAIN = "s3.localhost"  # virtual-host-style S3: <bucket>.s3.localhost


@dataclass
class Persona:
    name: str
    project: str
    project_id: str
    token: str

    @property
    def account(self) -> str:
        return f"AUTH_{self.project_id}"


@dataclass
class Env:
    cloud: Cloud
    people: dict[str, Persona]

    @property
    def url(self) -> str:
        return self.cloud.url("object")

    def storage_url(self, who: str) -> str:
        return f"{self.url}/v1/{self.people[who].account}"

    def swift(self, who: str = "admin") -> swiftclient.Connection:
        """A python-swiftclient connection that logs in through Keystone v3 as `who` (with a
        keystoneauth session, as openstacksdk-era tools do; the storage URL from the catalog)."""
        p = self.people[who]
        auth = v3.Password(
            auth_url=self.cloud.auth_url,
            username=p.name,
            password=ADMIN_PASSWORD if who == "admin" else PASSWORD,
            project_name=p.project,
            user_domain_id="default",
            project_domain_id="default",
        )
        return swiftclient.Connection(session=session.Session(auth=auth), retries=0)

    def http(self, who: str | None = "admin") -> httpx.Client:
        headers = {"X-Auth-Token": self.people[who].token} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def swift_cli(
        self, who: str, *args: str, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real `swift` command as `who`."""
        p = self.people[who]
        env = self.cloud.cli_env(
            username=p.name,
            password=ADMIN_PASSWORD if who == "admin" else PASSWORD,
            project=p.project,
        )
        result = subprocess.run(
            [str(VENV_BIN / "swift"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"swift {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def cli(self, who: str, *args: str, check: bool = True) -> str:
        if who == "admin":
            result = self.cloud.cli(*args, check=check)
        else:
            p = self.people[who]
            result = self.cloud.cli(
                *args, check=check, username=p.name, password=PASSWORD, project=p.project
            )
        return result.stdout if check else result.stdout + result.stderr

    def data_files(self) -> set[str]:
        root = self.cloud.state_dir / "objects"
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _token(cloud: Cloud, user: str, password: str, project: str) -> str:
    resp = httpx.post(f"{cloud.auth_url}/auth/tokens", json=password_body(user, password, project))
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def make_env(cloud: Cloud) -> Env:
    admin = cloud.connect()
    suffix = uuid.uuid4().hex[:6]
    admin_project = admin.identity.find_project("admin", ignore_missing=False)
    people = {
        "admin": Persona(
            "admin", "admin", admin_project.id, _token(cloud, "admin", ADMIN_PASSWORD, "admin")
        )
    }
    for project in ("a", "b"):
        pname = f"obj-{project}-{suffix}"
        proj = admin.identity.create_project(name=pname, domain_id="default")
        for role in ("member", "reader"):
            uname = f"obj-{project}-{role}-{suffix}"
            user = admin.identity.create_user(name=uname, password=PASSWORD, domain_id="default")
            role_obj = admin.identity.find_role(role, ignore_missing=False)
            admin.identity.assign_project_role_to_user(proj, user, role_obj)
            people[f"{project}_{role}"] = Persona(
                uname, pname, proj.id, _token(cloud, uname, PASSWORD, pname)
            )
    return Env(cloud=cloud, people=people)


@pytest.fixture(scope="session")
def object_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("object")
    fast = {
        "MINISTACK_OBJECT_EXPIRER_INTERVAL": "1",
        "MINISTACK_OBJECT_AUDITOR_INTERVAL": "1",
        "MINISTACK_OBJECT_S3_DOMAIN": S3_DOMAIN,
    }
    with running_cloud(tmp, services=("identity", "object"), extra_env=fast) as cloud:
        yield make_env(cloud)


def unique(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
