"""Scheduler filters and weighers on in-memory hosts: decisions and explanations in words."""

from __future__ import annotations

import datetime as dt

from ministack.compute import states
from ministack.compute.scheduler import weighers
from ministack.compute.scheduler.filters import (
    AvailabilityZoneFilter,
    ComputeFilter,
    ImagePropertiesFilter,
    RamFilter,
    Request,
    ServerGroupAntiAffinityFilter,
    load_filters,
)
from ministack.compute.scheduler.hosts import HostState
from ministack.config import Settings

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def host(name: str, free_mb: int = 4096, **kw: object) -> HostState:
    state = HostState(
        host=name,
        node=name,
        provider_uuid=name,
        heartbeat=NOW,
        capacity={"VCPU": 16, "MEMORY_MB": free_mb, "DISK_GB": 100},
        used={},
    )
    for key, value in kw.items():
        setattr(state, key, value)
    return state


def request(**kw: object) -> Request:
    req = Request(vcpus=1, memory_mb=2048, disk_gb=1, now=NOW)
    for key, value in kw.items():
        setattr(req, key, value)
    return req


def test_compute_filter_uses_heartbeat_age_and_forced_down() -> None:
    f = ComputeFilter()
    assert f.passes(host("a"), request())
    stale = host("b", heartbeat=NOW - dt.timedelta(seconds=61))
    assert not f.passes(stale, request())
    assert not f.passes(host("c", forced_down=True), request())
    assert not f.passes(host("d", disabled=True), request())


def test_host_down_after_nova_defaults() -> None:
    """A host is down after service_down_time = 60 s without one of its 10 s heartbeats."""
    compute = Settings().compute
    assert (compute.service_down_time, compute.heartbeat_interval) == (60, 10)
    f = ComputeFilter()
    down_after = float(compute.service_down_time)
    fresh = host("a", heartbeat=NOW - dt.timedelta(seconds=60))
    assert f.passes(fresh, request(down_after=down_after))
    stale = host("b", heartbeat=NOW - dt.timedelta(seconds=61))
    assert not f.passes(stale, request(down_after=down_after))


def test_resource_and_zone_filters_explain_themselves() -> None:
    assert not RamFilter().passes(host("a", free_mb=1024), request())
    assert (
        RamFilter().explain(3, 3, request()) == "RamFilter: 3 of 3 hosts have less than "
        "2048 MB free"
    )
    az = AvailabilityZoneFilter()
    assert not az.passes(host("a"), request(availability_zone="az1"))
    assert az.passes(host("a", availability_zone="az1"), request(availability_zone="az1"))


def test_image_properties_and_anti_affinity() -> None:
    image = ImagePropertiesFilter()
    assert not image.passes(host("a"), request(image_properties={"architecture": "aarch64"}))
    assert image.passes(host("a"), request(image_properties={"architecture": "x86_64"}))
    anti = ServerGroupAntiAffinityFilter()
    req = request(group_policy="anti-affinity", group_hosts={"a"})
    assert not anti.passes(host("a"), req) and anti.passes(host("b"), req)


def test_spread_and_pack_weighers() -> None:
    hosts = [host("small", free_mb=2048), host("big", free_mb=8192)]
    assert weighers.best(hosts, request(), "spread")[0].host == "big"
    assert weighers.best(hosts, request(), "pack")[0].host == "small"
    soft = request(group_policy="soft-anti-affinity", group_hosts={"big"})
    assert weighers.best(hosts, soft, "spread")[0].host == "small"


def test_default_filters_load_and_status_map() -> None:
    assert [f.name for f in load_filters()][:3] == [
        "RetryFilter",
        "ForcedHostFilter",
        "ComputeFilter",
    ]
    assert states.status(states.ACTIVE, states.REBOOTING_HARD) == "HARD_REBOOT"
    assert states.status(states.ACTIVE, states.DELETING) == "ACTIVE"
    assert states.status(states.RESIZED, None) == "VERIFY_RESIZE"
