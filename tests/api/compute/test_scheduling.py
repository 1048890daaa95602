"""Scheduling on 3 fake hosts: "No valid host" explained per filter (in the fault and the
events), anti-affinity, rescheduling after an injected spawn failure, disabled hosts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_quotas import member_token
from tests.api.compute.test_servers import wait_for
from tests.cloud import running_cloud

ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "3",
    "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    "MINISTACK_COMPUTE_FAKE_MEMORY_MB": "2560",
    "MINISTACK_COMPUTE_FAKE_VCPUS": "4",
}


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    """A cloud of its own: 3 hosts of (2560-512)*1.5 = 3072 MB and 64 VCPUs schedulable."""
    tmp: Path = tmp_path_factory.mktemp("sched")
    with running_cloud(tmp, services=SERVICES, extra_env=ENV) as cloud:
        yield prepare(cloud)


def flavor(c: Compute, ram: int) -> str:
    return str(
        c.conn.compute.create_flavor(
            name=f"f{ram}-{uuid.uuid4().hex[:4]}", ram=ram, vcpus=1, disk=1
        ).id
    )


def create(c: Compute, flavor_id: str, **kw: Any) -> Any:
    return c.conn.compute.create_server(
        name=f"s-{uuid.uuid4().hex[:6]}",
        image_id=c.image_id,
        flavor_id=flavor_id,
        networks="none",
        **kw,
    )


def events(c: Compute, server_id: str) -> list[dict[str, Any]]:
    actions = c.api("GET", f"/servers/{server_id}/os-instance-actions").json()
    request_id = actions["instanceActions"][-1]["request_id"]
    detail = c.api("GET", f"/servers/{server_id}/os-instance-actions/{request_id}").json()
    return list(detail["instanceAction"]["events"])


def test_no_valid_host_explains_per_filter(sched: Compute) -> None:
    server = create(sched, flavor(sched, 4096))
    failed = wait_for(sched, server.id, status="ERROR")
    message = failed.fault["message"]
    assert message == (
        "No valid host was found. RamFilter: 3 of 3 hosts have less than 4096 MB free"
    )
    assert any(
        e["traceback"] == message and e["result"] == "Error" for e in events(sched, server.id)
    )
    sched.conn.compute.delete_server(server)
    sched.conn.compute.wait_for_delete(server, wait=30)


def test_anti_affinity_spreads_then_refuses(sched: Compute) -> None:
    group = sched.conn.compute.create_server_group(name="spread", policies=["anti-affinity"])
    small = flavor(sched, 64)
    servers = [create(sched, small, scheduler_hints={"group": group.id}) for _ in range(3)]
    hosts = {wait_for(sched, s.id, status="ACTIVE").compute_host for s in servers}
    assert len(hosts) == 3
    fourth = create(sched, small, scheduler_hints={"group": group.id})
    failed = wait_for(sched, fourth.id, status="ERROR")
    assert "ServerGroupAntiAffinityFilter: 3 of 3 hosts" in failed.fault["message"]
    for server in [*servers, fourth]:
        sched.conn.compute.delete_server(server)


def test_reschedule_after_injected_failure(sched: Compute) -> None:
    hosts = sched.hosts
    good = hosts[2]
    # Make the good host the least attractive (spread), so the build starts on a bad one.
    filler = create(sched, flavor(sched, 1024), availability_zone=f"nova:{good}")
    wait_for(sched, filler.id, status="ACTIVE")
    for bad in hosts[:2]:
        sched.set_fake(bad, fail={"spawn": "injected: disk on fire"})
    try:
        server = create(sched, flavor(sched, 64))
        built = wait_for(sched, server.id, status="ACTIVE")
        assert built.compute_host == good
        failures = [e for e in events(sched, server.id) if e["result"] == "Error"]
        assert len(failures) == 2 and "disk on fire" in failures[0]["traceback"]
    finally:
        for bad in hosts[:2]:
            sched.set_fake(bad)
    sched.conn.compute.delete_server(server)
    sched.conn.compute.delete_server(filler)


def test_retries_exhausted_is_error_with_reason(sched: Compute) -> None:
    for host in sched.hosts:
        sched.set_fake(host, fail={"spawn": "injected failure"})
    try:
        server = create(sched, flavor(sched, 64))
        failed = wait_for(sched, server.id, status="ERROR")
        assert failed.fault["message"].startswith("Exceeded maximum number of retries")
        assert "injected failure" in failed.fault["message"]
    finally:
        for host in sched.hosts:
            sched.set_fake(host)
    sched.conn.compute.delete_server(server)


def test_unbootable_image_is_not_rescheduled(sched: Compute) -> None:
    """ImageUnusable would fail on every host: one attempt, ERROR, the driver's reason."""
    reason = "the image could not be booted: it is a corrupt qcow2 file"
    for host in sched.hosts:
        sched.set_fake(host, fail={"image": reason})
    try:
        server = create(sched, flavor(sched, 64))
        failed = wait_for(sched, server.id, status="ERROR")
    finally:
        for host in sched.hosts:
            sched.set_fake(host)
    assert failed.fault["message"] == f"Build of instance {server.id} aborted: {reason}"
    names = [e["event"] for e in events(sched, server.id)]
    assert names.count("compute__do_build_and_run_instance") == 1
    assert names.count("conductor_schedule_and_build_instances") == 1
    sched.conn.compute.delete_server(server)


def test_member_sees_no_host_names_in_a_fault(sched: Compute) -> None:
    """PROMISES 22: the fake driver's failures name the host; a member's fault does not."""
    _project, token = member_token(sched)
    for host in sched.hosts:
        sched.set_fake(host, fail={"spawn": ""})
    try:
        server = {"name": "m", "imageRef": sched.image_id, "flavorRef": sched.flavor_id}
        made = sched.api(
            "POST",
            "/servers",
            json={"server": {**server, "networks": "none"}},
            headers={"X-Auth-Token": token},
        )
        assert made.status_code == 202, made.text
        server_id = made.json()["server"]["id"]
        wait_for(sched, server_id, status="ERROR")
    finally:
        for host in sched.hosts:
            sched.set_fake(host)
    admin = sched.api("GET", f"/servers/{server_id}").json()["server"]["fault"]
    member = sched.api("GET", f"/servers/{server_id}", headers={"X-Auth-Token": token}).json()[
        "server"
    ]["fault"]
    assert any(h in admin["message"] for h in sched.hosts)
    assert not any(h in member["message"] for h in sched.hosts)
    assert "<host>" in member["message"] and "details" not in member
    sched.api("DELETE", f"/servers/{server_id}")


def test_disabled_host_is_not_scheduled(sched: Compute) -> None:
    hosts = sched.hosts
    for host in hosts[:2]:
        sched.cloud.cli("compute", "service", "set", "--disable", host, "nova-compute")
    try:
        servers = [create(sched, flavor(sched, 64)) for _ in range(2)]
        placed = {wait_for(sched, s.id, status="ACTIVE").compute_host for s in servers}
        assert placed == {hosts[2]}
    finally:
        for host in hosts[:2]:
            sched.cloud.cli("compute", "service", "set", "--enable", host, "nova-compute")
    for server in servers:
        sched.conn.compute.delete_server(server)
