"""Moving a server between the controller's host and a second host in its own process
(`ministack compute`, PostgreSQL and RabbitMQ, as on another machine; fixtures of
test_second_host.py): a live migration there and back through the CLI, then an evacuation
from the second host once it is killed and marked down by its missing heartbeat (not forced
down), and, when it is started again, its agent reaps the evacuated guest it still holds
(migration completed, its allocation there freed)."""

from __future__ import annotations

import signal
import time
from typing import Any

from ministack.compute.claims import node_uuid
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.api.compute.test_second_host import (  # noqa: F401  (fixture)
    TwoHosts,
    cli_boot,
    start_host2,
    two_hosts,
    wait_states,
)
from tests.api.compute.test_servers import wait_for

V = ("--os-compute-api-version", "2.80")


def last_migration(hosts: TwoHosts, server_id: str, status: str) -> dict[str, Any]:
    c = hosts.compute
    row: dict[str, Any] = {}
    for _ in range(300):
        resp = c.api("GET", "/os-migrations", version="2.80", params={"instance_uuid": server_id})
        row = resp.json()["migrations"][0]  # newest first from 2.59
        if row["status"] == status:
            return row
        time.sleep(0.1)
    raise AssertionError(f"the last migration of {server_id} never became {status}: {row}")


def test_live_migrate_then_evacuate_a_dead_host_and_reap_on_restart(
    two_hosts: TwoHosts,  # noqa: F811
) -> None:
    c, cloud = two_hosts.compute, two_hosts.compute.cloud
    host1, host2 = two_hosts.host1, two_hosts.host2
    agent = start_host2(two_hosts)
    try:
        wait_states(two_hosts, {host1: "up", host2: "up"})
        server_id = cli_boot(cloud, c.image_id, c.flavor_id, "--availability-zone", f"nova:{host1}")
        wait_for(c, server_id, status="ACTIVE")
        cloud.cli(*V, "server", "migrate", "--live-migration", "--host", host2, server_id)
        wait_for(c, server_id, status="ACTIVE", task_state=None, compute_host=host2)
        there = last_migration(two_hosts, server_id, "completed")
        assert (there["source_compute"], there["dest_compute"]) == (host1, host2)
        assert set(c.allocations(server_id)) == {node_uuid(host2)}
        assert server_id in c.guests(host2) and server_id not in c.guests(host1)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(30)
    wait_states(two_hosts, {host1: "up", host2: "down"})
    cloud.cli(*V, "server", "evacuate", server_id)  # the scheduler picks: host1 is left
    wait_for(c, server_id, status="ACTIVE", task_state=None, compute_host=host1)
    evacuated = last_migration(two_hosts, server_id, "done")
    assert evacuated["migration_type"] == "evacuation"
    assert set(c.allocations(server_id)) == {node_uuid(host1), node_uuid(host2)}
    agent = start_host2(two_hosts)
    try:
        wait_states(two_hosts, {host1: "up", host2: "up"})
        last_migration(two_hosts, server_id, "completed")
        assert server_id not in c.guests(host2)
        assert set(c.allocations(server_id)) == {node_uuid(host1)}
        gone = c.conn.compute.get_server(server_id)
        c.conn.compute.delete_server(gone)
        c.conn.compute.wait_for_delete(gone, wait=60)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(30)
