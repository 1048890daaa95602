"""Resize on an all-in-one cloud (one fake host, `allow_resize_to_same_host` at its default):
resize → VERIFY_RESIZE → confirm keeps the new flavor, → revert brings the old one back, and
the host's placement usage is always exactly one flavor's, never both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_servers import boot, wait_for
from tests.api.placement.test_placement import placement
from tests.cloud import running_cloud

ENV = {"MINISTACK_COMPUTE_FAKE_HOSTS": "1", "MINISTACK_COMPUTE_TEST_HOOKS": "1"}


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("single")
    with running_cloud(tmp, services=SERVICES, extra_env=ENV) as cloud:
        yield prepare(cloud)


def usage(c: Compute) -> dict[str, int]:
    (provider,) = placement(c, "/resource_providers").json()["resource_providers"]
    usages: dict[str, int] = placement(c, f"/resource_providers/{provider['uuid']}/usages").json()[
        "usages"
    ]
    return usages


def test_resize_confirm_and_revert_on_the_only_host(single: Compute) -> None:
    conn = single.conn
    bigger = conn.compute.create_flavor(
        name=f"big-{uuid.uuid4().hex[:6]}", ram=128, vcpus=2, disk=2
    )
    small = {"VCPU": 1, "MEMORY_MB": 64, "DISK_GB": 1}
    big = {"VCPU": 2, "MEMORY_MB": 128, "DISK_GB": 2}
    server = boot(single)
    host = server.compute_host
    assert usage(single) == small

    conn.compute.resize_server(server, bigger.id)
    resized = wait_for(single, server.id, status="VERIFY_RESIZE", task_state=None)
    assert resized.compute_host == host and resized.flavor.original_name == bigger.name
    assert usage(single) == big
    conn.compute.revert_server_resize(server)
    reverted = wait_for(single, server.id, status="ACTIVE", task_state=None)
    assert (
        reverted.compute_host == host
        and reverted.flavor.original_name == conn.compute.get_flavor(single.flavor_id).name
    )
    assert reverted.power_state == 1
    assert usage(single) == small

    conn.compute.resize_server(server, bigger.id)
    wait_for(single, server.id, status="VERIFY_RESIZE", task_state=None)
    conn.compute.confirm_server_resize(server)
    confirmed = wait_for(single, server.id, status="ACTIVE", task_state=None)
    assert confirmed.compute_host == host and confirmed.flavor.original_name == bigger.name
    assert confirmed.power_state == 1
    assert usage(single) == big
    shown = single.cloud.cli("server", "show", server.id, "-f", "value", "-c", "flavor").stdout
    assert bigger.name in shown or bigger.id in shown

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60)
    assert not any(usage(single).values())
