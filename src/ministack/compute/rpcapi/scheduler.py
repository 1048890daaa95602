"""RPC API of the scheduler (topic "scheduler"): destinations for instances, and refresh."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import Payload

TOPIC = "scheduler"


@dataclass(frozen=True)
class SelectDestinations(Payload):
    """Claim a host for each instance of one request (`spec` is its request spec)."""

    instance_uuids: list[str]
    spec: dict[str, Any]
    ignore_hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Destination:
    host: str
    node: str
    zone: str | None = None


@dataclass(frozen=True)
class Selection(Payload):
    """The scheduler's answer: one destination per instance in order, or why none fits
    (then nothing was claimed)."""

    hosts: list[Destination] = field(default_factory=list)
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        data = super().to_wire()
        data["hosts"] = [{"host": d.host, "node": d.node, "zone": d.zone} for d in self.hosts]
        return data

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        raw = super().from_wire(data)
        hosts = [
            Destination(str(d["host"]), str(d["node"]), d.get("zone"))
            for d in raw.hosts
            if isinstance(d, Mapping)
        ]
        return cls(hosts=hosts, error=raw.error)


@dataclass(frozen=True)
class Refresh(Payload):
    """Drop the in-memory host view (hosts, aggregates or services changed)."""


class SchedulerAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def select_destinations(
        self, instance_uuids: list[str], spec: dict[str, Any], ignore_hosts: list[str]
    ) -> Selection:
        """Raises RpcError (NoConsumer, RpcTimeout, RemoteError) when the scheduler cannot
        answer."""
        payload = SelectDestinations(list(instance_uuids), spec, list(ignore_hosts))
        answer = await self.bus.call(TOPIC, "select_destinations", payload=payload.to_wire())
        return Selection.from_wire(answer)

    async def refresh(self) -> None:
        """Tell every scheduler to reload its host view. Never fails for want of a scheduler."""
        await self.bus.fanout(TOPIC, "refresh", payload=Refresh().to_wire())
