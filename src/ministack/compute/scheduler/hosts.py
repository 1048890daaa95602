"""The scheduler's view of every compute host: capacity and usage from placement, liveness
and enablement from the services table, availability zone and metadata from aggregates.

Loaded in a few queries and kept in memory; claims update it locally, and it is reloaded
when stale, when an agent or an admin change asks for it (fanout "refresh"), and before a
request is answered with "No valid host was found".
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from ministack.common.db import Database, utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import models as m
from ministack.placement.client import PlacementClient

RESOURCE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")


@dataclass
class HostState:
    host: str
    node: str
    provider_uuid: str
    disabled: bool = False
    forced_down: bool = False
    heartbeat: dt.datetime | None = None
    availability_zone: str = "nova"
    aggregate_metadata: list[dict[str, str]] = field(default_factory=list)
    hypervisor_type: str = "fake"
    architecture: str = "x86_64"
    capacity: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)

    def free(self, rc: str) -> int:
        return self.capacity.get(rc, 0) - self.used.get(rc, 0)

    def is_up(self, down_after: float, now: dt.datetime) -> bool:
        if self.forced_down or self.heartbeat is None:
            return False
        return (now - self.heartbeat).total_seconds() <= down_after


class HostCache:
    """Every host's state, reloaded from the database when older than `max_age` seconds."""

    def __init__(
        self, db: Database, placement: PlacementClient, default_az: str, max_age: float = 5.0
    ) -> None:
        self.db = db
        self.placement = placement
        self.default_az = default_az
        self.max_age = max_age
        self.hosts: dict[str, HostState] = {}
        self.loaded_at = 0.0

    def invalidate(self) -> None:
        self.loaded_at = 0.0

    async def current(self) -> dict[str, HostState]:
        if time.monotonic() - self.loaded_at > self.max_age:
            await self.load()
        return self.hosts

    async def load(self) -> None:
        """Reload every host from services, compute nodes, aggregates and placement."""
        async with self.db.session() as s:
            nodes = list((await s.execute(select(m.ComputeNode))).scalars())
            services = {
                r.host: r
                for r in (
                    await s.execute(
                        select(ServiceRecord).where(ServiceRecord.binary == "nova-compute")
                    )
                ).scalars()
            }
            aggregates = list((await s.execute(select(m.Aggregate))).scalars())
        inventories = await self.placement.inventories()
        usages = await self.placement.usages()
        hosts: dict[str, HostState] = {}
        for node in nodes:
            svc = services.get(node.host)
            state = HostState(
                host=node.host,
                node=node.hypervisor_hostname,
                provider_uuid=node.uuid,
                disabled=bool(svc.disabled) if svc else True,
                forced_down=bool(svc.forced_down) if svc else False,
                heartbeat=svc.updated_at if svc else None,
                availability_zone=self.default_az,
                hypervisor_type=node.hypervisor_type,
                architecture=node.architecture,
                capacity={rc: inv.capacity() for rc, inv in inventories.get(node.uuid, {}).items()},
                used=dict(usages.get(node.uuid, {})),
            )
            for agg in aggregates:
                if node.host in agg.hosts:
                    state.aggregate_metadata.append(dict(agg.metadata_))
                    if agg.metadata_.get("availability_zone"):
                        state.availability_zone = agg.metadata_["availability_zone"]
            hosts[node.host] = state
        self.hosts = hosts
        self.loaded_at = time.monotonic()

    @staticmethod
    def now() -> dt.datetime:
        return utcnow()
