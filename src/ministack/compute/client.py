"""The typed client other services use to reach compute: external events to instances.

Networking and block storage call this when a port is plugged or a volume attached, so the
compute agent of the instance's host learns about it (Nova's os-server-external-events).
"""

from __future__ import annotations

from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.compute import instances
from ministack.compute.rpcapi.agent import ComputeAgentAPI


class ComputeClient:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    async def external_event(self, instance_uuid: str, name: str, tag: str | None = None) -> bool:
        """Deliver one event to the instance's host; False when the instance is unknown or
        has no host yet."""
        inst = await instances.get(self.db, instance_uuid)
        if inst is None or inst.host is None:
            return False
        await ComputeAgentAPI(self.bus, inst.host).external_event(instance_uuid, name, tag)
        return True
