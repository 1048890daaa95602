"""RPC API of the conductor (topic "conductor"): build, resize, live-migrate and evacuate
requests."""

from __future__ import annotations

from dataclasses import dataclass, field

from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import Payload

TOPIC = "conductor"


@dataclass(frozen=True)
class BuildInstances(Payload):
    """Schedule these instances (one request) and hand each to its host."""

    instance_uuids: list[str]
    attempt: int = 1
    tried_hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResizeInstance(Payload):
    """Find a host for the instance's new flavor and move it there."""

    instance_uuid: str


@dataclass(frozen=True)
class UnshelveInstance(Payload):
    """Bring a shelved instance back: on its host when it still has one, else through the
    scheduler (to `availability_zone` when `zone_given`, None unpinning it; to `host`)."""

    instance_uuid: str
    zone_given: bool = False
    availability_zone: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class MoveInstance(Payload):
    """Live-migrate or evacuate the instance (migration `migration_id`) to `host`, or to a
    host the scheduler picks when `host` is None; `force` skips the scheduler's filters."""

    instance_uuid: str
    migration_id: int
    host: str | None = None
    force: bool = False
    block_migration: bool = False


class ConductorAPI:
    """Casts to whichever conductor takes the message; none of them answers."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def build_instances(
        self, instance_uuids: list[str], attempt: int = 1, tried_hosts: list[str] | None = None
    ) -> None:
        """Raises NoConsumer when no conductor runs."""
        payload = BuildInstances(list(instance_uuids), attempt, list(tried_hosts or []))
        await self.bus.cast(TOPIC, "build_instances", payload=payload.to_wire())

    async def resize_instance(self, instance_uuid: str) -> None:
        """Raises NoConsumer when no conductor runs."""
        payload = ResizeInstance(instance_uuid)
        await self.bus.cast(TOPIC, "resize_instance", payload=payload.to_wire())

    async def unshelve_instance(self, req: UnshelveInstance) -> None:
        """Raises NoConsumer when no conductor runs."""
        await self.bus.cast(TOPIC, "unshelve_instance", payload=req.to_wire())

    async def live_migrate_instance(self, req: MoveInstance) -> None:
        """Raises NoConsumer when no conductor runs."""
        await self.bus.cast(TOPIC, "live_migrate_instance", payload=req.to_wire())

    async def evacuate_instance(self, req: MoveInstance) -> None:
        """Raises NoConsumer when no conductor runs."""
        await self.bus.cast(TOPIC, "evacuate_instance", payload=req.to_wire())
