"""Compute's typed RPC APIs, one module per topic: the only code that names a remote method.

- `conductor`: the API (and agents, for a reschedule) ask the conductor to build or resize;
- `scheduler`: the conductor asks for destinations; agents and admins ask it to refresh;
- `agent`: the API and the conductor tell one host's compute agent what to do.

Callers build an API object on the bus (``ConductorAPI(bus)``, ``ComputeAgentAPI(bus, host)``)
and call typed methods; the endpoints receive versioned payloads (`common.rpc.payload`).
"""
