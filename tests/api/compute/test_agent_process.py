"""Compute agents in their own process (`ministack compute --fake-hosts 1`) over RabbitMQ, in
a virtual host of their own: builds go through the broker, and an agent killed with SIGKILL in
the middle of a spawn leaves the instance ERROR after its restart, never stuck; delete works."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_servers import wait_for
from tests.cloud import Cloud, running_cloud


def rabbitmqctl(*args: str) -> None:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"RabbitMQ on 127.0.0.1:5672 is needed for this test (rabbitmqctl {' '.join(args)}: "
            f"{result.stderr.strip()}); start it: rabbitmq-server -detached"
        )


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    name = f"ministack-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, vhost: str) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("agents")
    env = {
        "MINISTACK_MESSAGING_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "MINISTACK_COMPUTE_FAKE_HOSTS": "0",
        "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    }
    with running_cloud(tmp, services=SERVICES, extra_env=env) as cloud:
        yield prepare(cloud)


def start_agent(cloud: Cloud) -> subprocess.Popen[bytes]:
    with (cloud.state_dir / "agent.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ministack", "compute", "--fake-hosts", "1"],
            env=cloud.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_hosts(c: Compute, count: int) -> list[str]:
    for _ in range(300):
        hosts = c.hosts
        services = {s.host: s.state for s in c.conn.compute.services()}
        if len(hosts) == count and all(services[h] == "up" for h in hosts):
            return hosts
        time.sleep(0.1)
    raise AssertionError(f"agents never registered: {c.cloud.console_log()}")


def create(c: Compute) -> Any:
    return c.conn.compute.create_server(
        name=f"r-{uuid.uuid4().hex[:6]}",
        image_id=c.image_id,
        flavor_id=c.flavor_id,
        networks="none",
    )


def test_agent_process_builds_and_survives_sigkill(remote: Compute) -> None:
    agent = start_agent(remote.cloud)
    try:
        (host,) = wait_hosts(remote, 1)
        built = wait_for(remote, create(remote).id, status="ACTIVE")
        assert built.compute_host == host
        remote.set_fake(host, delay={"spawn": 60.0})
        server = create(remote)
        for _ in range(300):
            if remote.conn.compute.get_server(server.id).task_state == "spawning":
                break
            time.sleep(0.05)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        agent = start_agent(remote.cloud)
        failed = wait_for(remote, server.id, status="ERROR")
        assert "restarted during spawning" in failed.fault["message"]
        for victim in (server, built):
            remote.conn.compute.delete_server(victim)
            remote.conn.compute.wait_for_delete(victim, wait=60)
    finally:
        agent.terminate()
        agent.wait(30)
