"""Start this host's network agent in the network service's process: `network/service.py`
calls `start_agent(ctx)` when `[network_agent] enabled` is set.

The agent serves topic "network-agent" (fanout and its host's queue) before its first full
pass, so no change committed meanwhile is missed (a message waits for the pass's lock), then
reports its three agents (Linux bridge, DHCP, metadata) into /v2.0/agents every
`report_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from dataclasses import dataclass

from ministack.common.runtime import Context
from ministack.compute.client import ComputeClient
from ministack.config import Settings
from ministack.network.agent.agent import AGENT_TYPES, NetworkAgent
from ministack.network.agent.metadata import MetadataService, Signer
from ministack.network.agent.reconcile import HostConfig
from ministack.network.agent.rows import DatabaseSource
from ministack.network.agents import report_agent
from ministack.network.core import Core
from ministack.network.ports import bridge_mappings
from ministack.network.rpcapi.agent import TOPIC
from ministack.network.rpcapi.server import NetworkServerAPI

log = logging.getLogger("ministack.network.agent")


@dataclass
class AgentRuntime:
    agent: NetworkAgent
    heartbeat: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop reporting and re-syncing; the data plane stays (guests keep their network)."""
        self.heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.heartbeat
        await self.agent.stop()


def host_config(ctx: Context) -> HostConfig:
    return host_config_of(ctx.settings)


def host_config_of(settings: Settings) -> HostConfig:
    """This host's agent configuration (also for `ministack down --clean`, with no agent)."""
    s = settings.network_agent
    return HostConfig(
        host=settings.hostname,
        state_dir=settings.state_path / "network",
        host_netns=s.host_netns or None,
        ns_prefix=f"{s.host_netns}-" if s.host_netns else "",
        local_ip=s.local_ip or None,
        underlay=s.underlay_device or None,
        bridge_mappings=bridge_mappings(s.bridge_mappings),
    )


async def start_agent(ctx: Context) -> AgentRuntime | None:
    """Serve RPC, re-sync the host, start heartbeats. Raises what the first pass raises.
    None (with an error logged) when this process is not root: the API still serves."""
    settings = ctx.settings.network_agent
    if os.geteuid() != 0:
        log.error(
            "the network agent needs root to make bridges and namespaces: not started "
            "(run as root, or set [network_agent] enabled = false)"
        )
        return None
    config = host_config(ctx)
    signer = Signer(settings.metadata_secret.encode() or secrets.token_bytes(32))
    compute = ComputeClient(ctx.db, ctx.bus)
    core = Core(ctx.settings, ctx.db, ctx.bus)
    configurations = {
        "tunneling_ip": config.local_ip or "",
        "tunnel_types": ["vxlan"] if config.local_ip else [],
        "bridge_mappings": {},
    }

    async def report(host: str, agent_type: str, binary: str, alive: bool) -> None:
        await report_agent(ctx.db, host, agent_type, binary, configurations)

    agent = NetworkAgent(
        config,
        DatabaseSource(core, compute, dhcp=settings.dhcp),
        NetworkServerAPI(ctx.bus),
        MetadataService(signer, compute.instance_metadata),
        signer,
        reporter=report,
        resync_interval=settings.resync_interval,
    )
    await agent.heartbeat()  # registered (with its VTEP) before anyone derives from it
    await ctx.bus.serve(TOPIC, agent, server=config.host)
    await agent.start()
    log.info("network agent of %s running (%s)", config.host, ", ".join(AGENT_TYPES))
    return AgentRuntime(agent, asyncio.create_task(_beat(agent, settings.report_interval)))


async def _beat(agent: NetworkAgent, interval: int) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await agent.heartbeat()
        except Exception:
            log.exception("network agent %s: heartbeat failed", agent.host)
