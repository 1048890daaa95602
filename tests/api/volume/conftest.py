"""One identity + image + volume cloud for the volume API tests, with two projects (a member
and a reader each), and helpers to wait for a volume's status and read a volume's bytes."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloud import ADMIN_PASSWORD, Cloud, running_cloud
from tests.personas import PersonaCloud, make_people, token_of

PASSWORD = "volume-test-pw"
LATEST = {"OpenStack-API-Version": "volume 3.71"}


@dataclass
class Env(PersonaCloud):
    admin_project_id: str

    def http(self, who: str = "admin", version: str = "3.71") -> httpx.Client:
        """A client at /v3/<project> of `who`, asking for microversion `version`."""
        if who == "admin":
            token, project = self.admin_token, self.admin_project_id
        else:
            token, project = self.people[who].token, self.people[who].project_id
        return httpx.Client(
            base_url=f"{self.cloud.url('volume')}/v3/{project}",
            headers={"X-Auth-Token": token, "OpenStack-API-Version": f"volume {version}"},
            timeout=60,
        )

    def wait(
        self,
        volume_id: str,
        *statuses: str,
        who: str = "admin",
        kind: str = "volumes",
        timeout: float = 60,
    ) -> dict[str, Any]:
        """Poll until the volume (or snapshot) has one of `statuses`; 'deleted' waits for 404."""
        deadline = time.monotonic() + timeout
        with self.http(who) as http:
            while True:
                resp = http.get(f"/{kind}/{volume_id}")
                if resp.status_code == 404 and "deleted" in statuses:
                    return {}
                body: dict[str, Any] = resp.json()
                item = body.get(kind[:-1], {})
                if item.get("status") in statuses:
                    return item
                assert time.monotonic() < deadline, f"{kind} {volume_id}: {body}"
                time.sleep(0.1)

    @property
    def volumes_dir(self) -> Path:
        return self.cloud.state_dir / "volumes"

    def volume_files(self) -> set[str]:
        return {p.name for p in self.volumes_dir.iterdir()} if self.volumes_dir.exists() else set()

    def write(self, volume_id: str, pattern: int, offset: int = 0, length: int = 1 << 20) -> None:
        """Write `length` bytes of `pattern` into the volume's file (as a guest would)."""
        path = self.volumes_dir / f"volume-{volume_id}"
        cmd = f"write -P {pattern} {offset} {length}"
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", cmd, str(path)], check=True, capture_output=True
        )

    def read(self, volume_id: str, length: int = 1 << 20, offset: int = 0) -> bytes:
        """The volume's bytes as a guest reads them."""
        return read_volume(self.cloud, volume_id, length, offset)


def read_volume(cloud: Cloud, volume_id: str, length: int = 1 << 20, offset: int = 0) -> bytes:
    """The bytes of `cloud`'s volume `volume_id` as a guest reads them (its qcow2 file
    converted to raw, read while the volume may be in use)."""
    path = cloud.state_dir / "volumes" / f"volume-{volume_id}"
    out = cloud.state_dir / f"read-{uuid.uuid4().hex}.raw"
    try:
        subprocess.run(
            ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-U", str(path), str(out)],
            check=True,
            capture_output=True,
        )
        with out.open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)
    finally:
        out.unlink(missing_ok=True)


def make_env(cloud: Cloud) -> Env:
    admin = cloud.connect()
    return Env(
        cloud=cloud,
        admin=admin,
        admin_token=token_of(cloud, "admin", ADMIN_PASSWORD, "admin"),
        admin_project_id=str(admin.current_project_id),
        people=make_people(cloud, admin, PASSWORD, project_prefix="vproj-", user_prefix="v"),
    )


@pytest.fixture(scope="session")
def volume_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("volume")
    with running_cloud(tmp, services=("identity", "image", "volume")) as cloud:
        yield make_env(cloud)
