"""Nothing stays stuck (PROMISES 1, 2, 4): a process killed in the middle of a build comes
back with the instance in ERROR; a host declared down gets its building instance ERROR and
its deletes done locally; every transitional state has an owner, a timeout and a rule."""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ministack.compute import states
from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_servers import wait_for
from tests.cloud import Cloud, make_cloud

ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
    "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    "MINISTACK_COMPUTE_HEARTBEAT_INTERVAL": "1",
    "MINISTACK_COMPUTE_SYNC_POWER_STATE_INTERVAL": "1",
}


@pytest.fixture(scope="module")
def killable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("recovery")
    cloud = make_cloud(tmp, services=SERVICES, extra_env=ENV)
    cloud.start()
    try:
        yield prepare(cloud)
    finally:
        cloud.stop()


def wait_task(c: Compute, server_id: str, task_state: str) -> Any:
    for _ in range(300):
        server = c.conn.compute.get_server(server_id)
        if server.task_state == task_state:
            return server
        time.sleep(0.05)
    raise AssertionError(f"{server_id} never reached task_state {task_state}")


def restart(cloud: Cloud) -> None:
    cloud.stop(signal.SIGKILL)
    cloud.start()


def test_killed_during_spawn_is_error_after_restart(killable: Compute) -> None:
    host = killable.hosts[0]
    killable.set_fake(host, delay={"spawn": 30.0})
    server = killable.conn.compute.create_server(
        name=f"k-{uuid.uuid4().hex[:6]}",
        image_id=killable.image_id,
        flavor_id=killable.flavor_id,
        networks="none",
    )
    wait_task(killable, server.id, "spawning")
    restart(killable.cloud)
    killable.conn = killable.cloud.connect()
    failed = wait_for(killable, server.id, status="ERROR")
    assert "restarted during spawning" in failed.fault["message"]
    killable.conn.compute.delete_server(server)
    killable.conn.compute.wait_for_delete(server, wait=30)


def test_host_declared_down_errors_build_and_deletes_locally(killable: Compute) -> None:
    host = killable.hosts[0]
    usages, quota = killable.usages(), killable.quota_used()
    killable.set_fake(host, delay={"spawn": 30.0})
    server = killable.conn.compute.create_server(
        name=f"d-{uuid.uuid4().hex[:6]}",
        image_id=killable.image_id,
        flavor_id=killable.flavor_id,
        networks="none",
    )
    wait_task(killable, server.id, "spawning")
    cli = killable.cloud.cli
    cli("compute", "service", "set", "--down", host, "nova-compute")
    try:
        failed = wait_for(killable, server.id, status="ERROR")
        assert "is down" in failed.fault["message"]
        assert killable.allocations(server.id) != {}  # held until the local delete frees it
        killable.conn.compute.delete_server(server)
        killable.conn.compute.wait_for_delete(server, wait=30)
        assert_freed(killable, server.id, usages, quota)
    finally:
        cli("compute", "service", "set", "--up", host, "nova-compute")
        killable.set_fake(host)


def test_delete_on_a_down_host_is_local_and_the_orphan_reaped(killable: Compute) -> None:
    host = killable.hosts[0]
    usages, quota = killable.usages(), killable.quota_used()
    server = killable.conn.compute.create_server(
        name=f"o-{uuid.uuid4().hex[:6]}",
        image_id=killable.image_id,
        flavor_id=killable.flavor_id,
        networks="none",
    )
    wait_for(killable, server.id, status="ACTIVE")
    cli = killable.cloud.cli
    cli("compute", "service", "set", "--down", host, "nova-compute")
    # The fenced host's agent still runs its power sync (every second here) and reaps the
    # orphan as soon as it sees it. Its destroy is held for 20 s, so the guest is still
    # listed while the test looks, and a delete that went through the host (rather than the
    # local delete) could not finish within wait_for_delete's 10 s.
    killable.set_fake(host, delay={"destroy": 20.0})
    try:
        killable.conn.compute.delete_server(server)
        killable.conn.compute.wait_for_delete(server, wait=10)
        assert server.id in guests(killable, host)  # the host was not told (delays cleared)
        assert_freed(killable, server.id, usages, quota)  # ...but the cloud freed everything
    finally:
        cli("compute", "service", "set", "--up", host, "nova-compute")
    for _ in range(400):
        if server.id not in guests(killable, host):
            return
        time.sleep(0.1)
    raise AssertionError("the orphan guest was never reaped")


def guests(c: Compute, host: str) -> list[str]:
    return c.guests(host)


def assert_freed(c: Compute, server_id: str, usages: dict[str, int], quota: dict[str, int]) -> None:
    """The deleted server holds no placement allocation and counts against no quota."""
    assert c.allocations(server_id) == {}
    assert c.usages() == usages
    assert c.quota_used() == quota


def test_every_transitional_state_has_owner_timeout_and_rule() -> None:
    for entry in states.TRANSITIONAL:
        assert entry.owner in ("conductor", "agent")
        assert entry.timeout > 0
        assert entry.restart in ("error", "resume", "clear")
    named = [t.task_state for t in states.TRANSITIONAL]
    assert len(named) == len(set(named))
    assert set(named) == task_state_constants()  # every task_state has its row


def task_state_constants() -> set[str]:
    """The values of the constants in compute/states.py's `# task_state` block."""
    source = Path(states.__file__).read_text().split("# task_state\n", 1)[1]
    block = source.split("\n\n", 1)[0]
    found = set(re.findall(r'^[A-Z_]+ = "([a-z_-]+)"$', block, flags=re.MULTILINE))
    assert len(found) > 10
    return found
