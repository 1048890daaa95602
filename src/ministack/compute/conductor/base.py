"""What every part of the conductor shares: settings, database, placement and the typed RPC
APIs of the scheduler and of the compute agents."""

from __future__ import annotations

from dataclasses import dataclass

from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.compute.rpcapi.agent import ComputeAgentAPI
from ministack.compute.rpcapi.scheduler import SchedulerAPI
from ministack.config import Settings
from ministack.placement.client import PlacementClient


@dataclass
class ConductorDeps:
    settings: Settings
    db: Database
    bus: Bus
    placement: PlacementClient

    @property
    def scheduler(self) -> SchedulerAPI:
        return SchedulerAPI(self.bus)

    def agent(self, host: str) -> ComputeAgentAPI:
        """The RPC API of `host`'s compute agent."""
        return ComputeAgentAPI(self.bus, host)
