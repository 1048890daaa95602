"""What every part of the conductor shares: settings, database, placement and the typed RPC
APIs of the scheduler and of the compute agents."""

from __future__ import annotations

from dataclasses import dataclass

from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.compute.rpcapi import RpcPeers
from ministack.config import Settings
from ministack.placement.client import PlacementClient


@dataclass
class ConductorDeps(RpcPeers):
    settings: Settings
    db: Database
    bus: Bus
    placement: PlacementClient
