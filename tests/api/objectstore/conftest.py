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

from tests.cloud import ADMIN_PASSWORD, VENV_BIN, Cloud, running_cloud
from tests.personas import Persona, PersonaCloud, make_people, token_of

PASSWORD = "object-test-pw"
S3_DOMAIN = "s3.localhost"  # virtual-host-style S3: <bucket>.s3.localhost


@dataclass
class Env(PersonaCloud):
    """The personas' keys include "admin" here."""

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
            password=p.password,
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
            password=p.password,
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

    def data_files(self) -> set[str]:
        root = self.cloud.state_dir / "objects"
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def make_env(cloud: Cloud) -> Env:
    admin = cloud.connect()
    admin_project = admin.identity.find_project("admin", ignore_missing=False)
    token = token_of(cloud, "admin", ADMIN_PASSWORD, "admin")
    people = {
        "admin": Persona("admin", "admin", admin_project.id, "admin", ADMIN_PASSWORD, admin, token)
    }
    people.update(make_people(cloud, admin, PASSWORD, project_prefix="obj-", user_prefix="obj-"))
    return Env(cloud=cloud, admin=admin, admin_token=token, people=people)


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
