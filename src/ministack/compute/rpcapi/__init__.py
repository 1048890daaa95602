"""Compute's typed RPC APIs, one module per topic: the only code that names a remote method.

- `conductor`: the API (and agents, for a reschedule) ask the conductor to build or resize;
- `scheduler`: the conductor asks for destinations; agents and admins ask it to refresh;
- `agent`: the API and the conductor tell one host's compute agent what to do.

Callers build an API object on the bus (``ConductorAPI(bus)``, ``ComputeAgentAPI(bus, host)``)
and call typed methods; the endpoints receive versioned payloads (`common.rpc.payload`).
"""

from ministack.common.rpc.base import Bus
from ministack.compute.rpcapi.agent import ComputeAgentAPI
from ministack.compute.rpcapi.conductor import ConductorAPI
from ministack.compute.rpcapi.scheduler import SchedulerAPI


class RpcPeers:
    """Mixed into what a compute component holds (the API's, the conductor's and the agents'
    dependencies) so each reaches the others through the typed RPC APIs on its bus."""

    bus: Bus

    @property
    def conductor(self) -> ConductorAPI:
        return ConductorAPI(self.bus)

    @property
    def scheduler(self) -> SchedulerAPI:
        return SchedulerAPI(self.bus)

    def agent(self, host: str) -> ComputeAgentAPI:
        """The RPC API of `host`'s compute agent."""
        return ComputeAgentAPI(self.bus, host)
