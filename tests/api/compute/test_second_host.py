"""A second compute host in its own process (`ministack compute`), as on another machine: its
own host name, state directory and copy of the configuration, PostgreSQL and RabbitMQ (a vhost
of its own), and no image-service port: it logs in as the nova service user at the
controller's identity URL and finds the image endpoint in the catalog.

It boots a server forced to it, uploads a snapshot over HTTP (byte-identical when saved), shows
in `openstack compute service list`, and once killed is marked down after service_down_time
and no longer chosen by the scheduler. The HTTP image client is also driven directly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ministack.common import errors
from ministack.identity.client import ServiceSession
from ministack.image import client as image_client
from ministack.image.client import HttpImageClient
from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.api.compute.test_servers import wait_for
from tests.cloud import Cloud, running_cloud

DOWN_AFTER = 5


@dataclass
class TwoHosts:
    compute: Compute
    host1: str
    host2: str
    host2_env: dict[str, str]
    host2_dir: Path


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory, vhost: str) -> Iterator[TwoHosts]:  # noqa: F811
    tmp: Path = tmp_path_factory.mktemp("twohosts")
    env = {
        "MINISTACK_MESSAGING_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
        "MINISTACK_COMPUTE_TEST_HOOKS": "1",
        "MINISTACK_COMPUTE_SERVICE_DOWN_TIME": str(DOWN_AFTER),
        "MINISTACK_COMPUTE_HEARTBEAT_INTERVAL": "1",
    }
    with running_cloud(tmp / "controller", "postgresql", SERVICES, env) as cloud:
        host1 = cloud.env["MINISTACK_DEFAULT_HOST"]
        host2 = f"{host1}-h2"
        yield TwoHosts(prepare(cloud), host1, host2, *host2_env(cloud, host2, tmp / "host2"))


def host2_env(cloud: Cloud, host2: str, state: Path) -> tuple[dict[str, str], Path]:
    """What another machine would have: a copy of the controller's configuration file (the
    service passwords), the database and bus URLs, the identity URL; no service ports."""
    state.mkdir()
    shutil.copy(cloud.state_dir / "ministack.toml", state / "ministack.toml")
    env = {
        k: v
        for k, v in cloud.env.items()
        if not k.startswith(("MINISTACK_SERVICES_", "MINISTACK_IDENTITY_"))
    }
    env.update(
        MINISTACK_DEFAULT_STATE_DIR=str(state),
        MINISTACK_CONFIG=str(state / "ministack.toml"),
        MINISTACK_DEFAULT_HOST=host2,
        MINISTACK_IDENTITY_AUTH_URL=cloud.auth_url,
    )
    return env, state


def start_host2(hosts: TwoHosts) -> subprocess.Popen[bytes]:
    with (hosts.host2_dir / "compute.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ministack", "compute"],
            env=hosts.host2_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def service_states(cloud: Cloud) -> dict[str, str]:
    out = cloud.cli("compute", "service", "list", "--service", "nova-compute", "-f", "json")
    return {row["Host"]: row["State"] for row in json.loads(out.stdout)}


def wait_states(hosts: TwoHosts, want: dict[str, str]) -> None:
    for _ in range(120):
        states = service_states(hosts.compute.cloud)
        if all(states.get(h) == s for h, s in want.items()):
            return
        time.sleep(0.5)
    log = (hosts.host2_dir / "compute.log").read_text()[-3000:]
    raise AssertionError(f"compute services never reached {want}: {states}\n{log}")


def cli_boot(cloud: Cloud, image_id: str, flavor_id: str, *extra: str) -> str:
    out = cloud.cli(
        "--os-compute-api-version",
        "2.37",
        "server",
        "create",
        "--image",
        image_id,
        "--flavor",
        flavor_id,
        "--nic",
        "none",
        *extra,
        f"two-{uuid.uuid4().hex[:6]}",
        "-f",
        "json",
    )
    return str(json.loads(out.stdout)["id"])


def delete(c: Compute, *server_ids: str) -> None:
    servers = [c.conn.compute.get_server(server_id) for server_id in server_ids]
    for server in servers:
        c.conn.compute.delete_server(server)
    for server in servers:
        c.conn.compute.wait_for_delete(server, wait=60)


def test_second_host_boots_snapshots_and_goes_down(two_hosts: TwoHosts, tmp_path: Path) -> None:
    c, cloud = two_hosts.compute, two_hosts.compute.cloud
    agent = start_host2(two_hosts)
    try:
        wait_states(two_hosts, {two_hosts.host1: "up", two_hosts.host2: "up"})
        zone = f"nova:{two_hosts.host2}"
        server_id = cli_boot(cloud, c.image_id, c.flavor_id, "--availability-zone", zone)
        server = wait_for(c, server_id, status="ACTIVE")
        assert server.compute_host == two_hosts.host2
        # the fake driver writes a disk naming the guest; host2 uploads it over HTTP
        out = cloud.cli("server", "image", "create", "--name", "snap2", "--wait", server_id)
        assert out.returncode == 0
        snap = c.conn.image.find_image("snap2")
        assert snap is not None and snap.owner == server.project_id, snap
        saved = tmp_path / "snap2.raw"
        cloud.cli("image", "save", "--file", str(saved), snap.id)
        expected = f"fake disk of {server_id}\n".encode().ljust(512, b"\0")
        assert saved.read_bytes() == expected
        c.conn.image.delete_image(snap.id)
        delete(c, server_id)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(30)
    wait_states(two_hosts, {two_hosts.host1: "up", two_hosts.host2: "down"})
    forced = cli_boot(cloud, c.image_id, c.flavor_id, "--availability-zone", zone)
    failed = wait_for(c, forced, status="ERROR")
    assert "No valid host" in failed.fault["message"], failed.fault
    # spread would choose the empty host2 if it were still up
    free = [cli_boot(cloud, c.image_id, c.flavor_id) for _ in range(2)]
    placed = [wait_for(c, s, status="ACTIVE").compute_host for s in free]
    assert placed == [two_hosts.host1] * 2
    delete(c, forced, *free)


def service_password(cloud: Cloud, user: str) -> str:
    with (cloud.state_dir / "ministack.toml").open("rb") as fh:
        return str(tomllib.load(fh)["service_auth"][f"{user}_password"])


def test_init_makes_service_users_with_service_and_admin_roles(two_hosts: TwoHosts) -> None:
    cloud = two_hosts.compute.cloud
    out = cloud.cli("role", "assignment", "list", "--project", "service", "--names", "-f", "json")
    got = {(row["User"], row["Role"]) for row in json.loads(out.stdout)}
    for user in ("nova", "glance", "placement"):
        assert {(f"{user}@Default", "service"), (f"{user}@Default", "admin")} <= got, got
    # init again (as an upgrade would): the passwords written the first time stay
    before = (cloud.state_dir / "ministack.toml").read_text()
    cloud.ministack("init")
    assert (cloud.state_dir / "ministack.toml").read_text() == before
    assert before.count("[service_auth]") == 1 and service_password(cloud, "glance")


async def test_http_image_client_streams_both_ways(two_hosts: TwoHosts, tmp_path: Path) -> None:
    c, cloud = two_hosts.compute, two_hosts.compute.cloud
    session = ServiceSession(cloud.auth_url, "nova", service_password(cloud, "nova"))
    client = HttpImageClient(session)
    project = c.conn.current_project_id
    try:
        source = tmp_path / "disk.raw"
        source.write_bytes(os.urandom(3 << 20) + b"tail")
        image_id = await image_client.create_from_file(client, "http-up", source, "raw", project)
        image = await client.get(image_id)
        assert (image["status"], image["owner"], image["size"]) == ("active", project, 3 << 20 | 4)
        dest = tmp_path / "cache" / "base"
        dest.parent.mkdir()
        await client.download(image_id, dest)
        assert dest.read_bytes() == source.read_bytes()
        # a queued image has no data: an error, and nothing is left in the cache directory
        queued = await client.create_queued("empty", "qcow2", project)
        with pytest.raises(errors.Conflict):
            await client.download(queued, tmp_path / "cache" / "other")
        assert sorted(p.name for p in dest.parent.iterdir()) == ["base"]
        # an upload the image service rejects leaves no image behind
        with pytest.raises(errors.BadRequest):
            await image_client.create_from_file(client, "bad", source, "qcow2", project)
        assert [i.name for i in c.conn.image.images(name="bad")] == []
        # the uploader's disk_format (a driver's snapshot) replaces the queued record's
        await client.upload_file(queued, source, "raw")
        assert (await client.get(queued))["disk_format"] == "raw"
        for gone in (image_id, queued, image_id):
            await client.delete(gone)
        with pytest.raises(errors.NotFound):
            await client.get(image_id)
    finally:
        await session.close()
