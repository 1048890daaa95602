"""Scheduler filters: each removes hosts that cannot take the instance and says why in words a
user can act on ("RamFilter: 3 of 3 hosts have less than 2048 MB free").

A filter is any object with `name`, `passes(host, request)` and `explain(failed, total,
request)`. The built-ins are below; more can be added through the entry-point group
``ministack.scheduler.filters`` and named in the order they run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from ministack.compute.scheduler.hosts import HostState

ENTRY_POINT_GROUP = "ministack.scheduler.filters"


@dataclass
class Request:
    """What one instance needs from a host."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    now: dt.datetime
    down_after: float = 60.0
    availability_zone: str | None = None
    force_host: str | None = None
    image_properties: dict[str, str] = field(default_factory=dict)
    extra_specs: dict[str, str] = field(default_factory=dict)
    group_policy: str | None = None
    group_hosts: set[str] = field(default_factory=set)
    ignore_hosts: set[str] = field(default_factory=set)

    def resources(self) -> dict[str, int]:
        return {"VCPU": self.vcpus, "MEMORY_MB": self.memory_mb, "DISK_GB": self.disk_gb}


class HostFilter(Protocol):
    name: str

    def passes(self, host: HostState, req: Request) -> bool: ...

    def explain(self, failed: int, total: int, req: Request) -> str: ...


def _of(failed: int, total: int) -> str:
    return f"{failed} of {total} host{'s' if total != 1 else ''}"


class RetryFilter:
    name = "RetryFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return host.host not in req.ignore_hosts

    def explain(self, failed: int, total: int, req: Request) -> str:
        return f"{self.name}: {_of(failed, total)} already failed to build this instance"


class ForcedHostFilter:
    name = "ForcedHostFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return req.force_host is None or host.host == req.force_host

    def explain(self, failed: int, total: int, req: Request) -> str:
        return f"{self.name}: {_of(failed, total)} are not the requested host {req.force_host}"


class ComputeFilter:
    name = "ComputeFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return not host.disabled and host.is_up(req.down_after, req.now)

    def explain(self, failed: int, total: int, req: Request) -> str:
        return f"{self.name}: {_of(failed, total)} are disabled or down"


class AvailabilityZoneFilter:
    name = "AvailabilityZoneFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return not req.availability_zone or host.availability_zone == req.availability_zone

    def explain(self, failed: int, total: int, req: Request) -> str:
        return (
            f"{self.name}: {_of(failed, total)} are not in availability zone "
            f"'{req.availability_zone}'"
        )


class RamFilter:
    name = "RamFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return host.free("MEMORY_MB") >= req.memory_mb

    def explain(self, failed: int, total: int, req: Request) -> str:
        return f"{self.name}: {_of(failed, total)} have less than {req.memory_mb} MB free"


class CoreFilter:
    name = "CoreFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return host.free("VCPU") >= req.vcpus

    def explain(self, failed: int, total: int, req: Request) -> str:
        return f"{self.name}: {_of(failed, total)} have fewer than {req.vcpus} VCPUs free"


class DiskFilter:
    name = "DiskFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return req.disk_gb <= 0 or host.free("DISK_GB") >= req.disk_gb

    def explain(self, failed: int, total: int, req: Request) -> str:
        return f"{self.name}: {_of(failed, total)} have less than {req.disk_gb} GB of disk free"


_IMAGE_PROPS = {
    "architecture": "architecture",
    "hypervisor_type": "hypervisor_type",
    "img_hv_type": "hypervisor_type",
}


class ImagePropertiesFilter:
    name = "ImagePropertiesFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        for prop, attr in _IMAGE_PROPS.items():
            wanted = req.image_properties.get(prop)
            if wanted and str(wanted).lower() != str(getattr(host, attr)).lower():
                return False
        return True

    def explain(self, failed: int, total: int, req: Request) -> str:
        wanted = ", ".join(
            f"{p}={req.image_properties[p]}" for p in _IMAGE_PROPS if req.image_properties.get(p)
        )
        return f"{self.name}: {_of(failed, total)} do not match the image's {wanted}"


class ServerGroupAntiAffinityFilter:
    name = "ServerGroupAntiAffinityFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return req.group_policy != "anti-affinity" or host.host not in req.group_hosts

    def explain(self, failed: int, total: int, req: Request) -> str:
        return (
            f"{self.name}: {_of(failed, total)} already run a member of the anti-affinity "
            "server group"
        )


class ServerGroupAffinityFilter:
    name = "ServerGroupAffinityFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        return req.group_policy != "affinity" or not req.group_hosts or host.host in req.group_hosts

    def explain(self, failed: int, total: int, req: Request) -> str:
        where = ", ".join(sorted(req.group_hosts))
        return (
            f"{self.name}: {_of(failed, total)} are not the host of the affinity server "
            f"group ({where})"
        )


_AGG_PREFIX = "aggregate_instance_extra_specs:"


class AggregateInstanceExtraSpecsFilter:
    name = "AggregateInstanceExtraSpecsFilter"

    def passes(self, host: HostState, req: Request) -> bool:
        for key, value in req.extra_specs.items():
            if not key.startswith(_AGG_PREFIX):
                continue
            meta_key = key[len(_AGG_PREFIX) :]
            if not any(md.get(meta_key) == value for md in host.aggregate_metadata):
                return False
        return True

    def explain(self, failed: int, total: int, req: Request) -> str:
        wanted = ", ".join(
            f"{k[len(_AGG_PREFIX) :]}={v}"
            for k, v in req.extra_specs.items()
            if k.startswith(_AGG_PREFIX)
        )
        return f"{self.name}: {_of(failed, total)} are in no aggregate with {wanted}"


BUILTIN: dict[str, type[Any]] = {
    cls.name: cls
    for cls in (
        RetryFilter,
        ForcedHostFilter,
        ComputeFilter,
        AvailabilityZoneFilter,
        ImagePropertiesFilter,
        ServerGroupAntiAffinityFilter,
        ServerGroupAffinityFilter,
        AggregateInstanceExtraSpecsFilter,
        CoreFilter,
        RamFilter,
        DiskFilter,
    )
}
DEFAULT_FILTERS = tuple(BUILTIN)


def load_filters(names: tuple[str, ...] = DEFAULT_FILTERS) -> list[HostFilter]:
    """Instantiate filters by name: built-ins first, then the entry-point group.
    Raises ValueError naming an unknown filter."""
    plugins = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    out: list[HostFilter] = []
    for name in names:
        if name in BUILTIN:
            out.append(BUILTIN[name]())
        elif name in plugins:
            out.append(plugins[name].load()())
        else:
            raise ValueError(f"unknown scheduler filter {name!r}")
    return out
