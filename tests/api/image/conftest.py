"""One identity + image cloud for the image API tests, with two projects and three roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cloud import ADMIN_PASSWORD, Cloud, running_cloud
from tests.personas import PersonaCloud, make_people, token_of

PASSWORD = "image-test-pw"


@dataclass
class Env(PersonaCloud):
    @property
    def image_url(self) -> str:
        return self.cloud.url("image")

    def http(self, who: str = "admin") -> httpx.Client:
        headers = {"X-Auth-Token": self.token(who)}
        return httpx.Client(base_url=self.image_url, headers=headers, timeout=60)

    def stored_files(self) -> set[str]:
        root = self.cloud.state_dir / "images"
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def make_env(cloud: Cloud) -> Env:
    admin = cloud.connect()
    return Env(
        cloud=cloud,
        admin=admin,
        admin_token=token_of(cloud, "admin", ADMIN_PASSWORD, "admin"),
        people=make_people(cloud, admin, PASSWORD),
    )


@pytest.fixture(scope="session")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("image")
    # web-download may fetch from the test's HTTP server on loopback, nowhere else
    allowed = {"MINISTACK_IMAGE_WEB_DOWNLOAD_ALLOWED_HOSTS": "127.0.0.1"}
    with running_cloud(tmp, services=("identity", "image"), extra_env=allowed) as cloud:
        yield make_env(cloud)
