"""The network service as the process runner sees it: the Networking v2.0 API on port 9696
and the RPC endpoint (topic "network") the hosts' network agents report to.

With `[network_agent] enabled` this process also runs the host's network agent.

Request flow: API handler (validate, authorize) → resource logic (one write transaction: quota
claim, IPAM claim, rows) → commit → cast to the agents (topic "network-agent"), which re-derive
their host's data plane from the database and report port status back here.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from ministack.common.auth import TokenValidator
from ministack.common.runtime import Context, Runtime
from ministack.common.web import make_app
from ministack.network.agent.runner import start_agent
from ministack.network.api import (
    agents,
    availability,
    discovery,
    floatingips,
    networks,
    port_forwardings,
    ports,
    quotas,
    routers,
    security_groups,
    subnetpools,
    subnets,
    tags,
)
from ministack.network.core import Core
from ministack.network.rpcapi.server import TOPIC
from ministack.network.status import NetworkServerEndpoint


def build(core: Core, validator: TokenValidator | None, max_body: int) -> ASGIApp:
    """The network API's ASGI app."""
    routes = (
        discovery.ROUTES
        + networks.ROUTES
        + subnets.ROUTES
        + subnetpools.ROUTES
        + ports.ROUTES
        + tags.ROUTES
        + security_groups.ROUTES
        + routers.ROUTES
        + floatingips.ROUTES
        + port_forwardings.ROUTES
        + quotas.ROUTES
        + agents.ROUTES
        + availability.ROUTES
    )
    state = {"core": core, "validator": validator}
    _app, served = make_app("network", routes, style="neutron", max_body=max_body, state=state)
    return served


async def start(ctx: Context) -> Runtime:
    """Serve the agents' reports on the bus and return the API."""
    core = Core(ctx.settings, ctx.db, ctx.bus)
    await ctx.bus.serve(TOPIC, NetworkServerEndpoint(ctx.db, ctx.bus))
    app = build(core, ctx.validator, ctx.settings.identity.max_request_body_size)
    # this host's data plane (bridges, VXLAN, DHCP, metadata): network/agent/runner.py
    agent = await start_agent(ctx) if ctx.settings.network_agent.enabled else None

    async def stop() -> None:
        if agent is not None:
            await agent.stop()

    return Runtime(app=app, stop=stop, binaries=("neutron-server",))
