"""The compute service as the process runner sees it: the Compute v2.1 API, the conductor,
the scheduler and this process's compute agents (N fake hosts, or the libvirt host).

Request flow: API → (cast) conductor → (call) scheduler, which claims in placement → (cast)
the chosen host's agent → virt driver. The API never calls a driver.
"""

from __future__ import annotations

from ministack.common.runtime import Context, Runtime
from ministack.compute.agent.base import AgentDeps
from ministack.compute.agent.group import AgentGroup, host_names
from ministack.compute.api.app import build
from ministack.compute.api.common import Api
from ministack.compute.conductor import Conductor
from ministack.compute.consoleproxy.app import ProxyDeps
from ministack.compute.consoleproxy.server import ConsoleProxy
from ministack.compute.images import Images
from ministack.compute.scheduler.manager import Scheduler
from ministack.config import SERVICE_USERS, Settings
from ministack.image import client as image_client
from ministack.network import client as network_client
from ministack.network.client import NetworkApi
from ministack.placement.client import PlacementClient
from ministack.volume import client as volume_client
from ministack.volume.client import VolumeApi


def images_for(ctx: Context) -> Images:
    """Compute's way to the image service: in-process when it runs here, else over HTTP as
    the nova service user."""
    return Images(ctx.settings, image_client.for_context(ctx, SERVICE_USERS["compute"]))


def volumes_for(ctx: Context) -> VolumeApi:
    """Compute's way to the volume service (attach, detach, boot from volume): in-process
    when it runs here, else over HTTP as the nova service user."""
    return volume_client.for_context(ctx, SERVICE_USERS["compute"])


def network_for(ctx: Context, *, agent: bool = False) -> NetworkApi | None:
    """Compute's way to the network service: in-process when it runs here. Elsewhere, an
    agent reaches it over HTTP (it only asks for the NICs an API with a network service
    accepted); the API then has none, so servers get no NICs."""
    if not ctx.runs("network") and not agent:
        return None
    return network_client.for_context(ctx, SERVICE_USERS["compute"])


def _host_count(settings: Settings) -> int:
    return settings.compute.fake_hosts if settings.compute.virt_driver == "fake" else 1


async def start_agents(ctx: Context) -> AgentGroup:
    """Start this process's compute agents (also used by `ministack compute`)."""
    settings = ctx.settings
    deps = AgentDeps(
        settings,
        ctx.db,
        ctx.bus,
        PlacementClient(ctx.db),
        images_for(ctx),
        network_for(ctx, agent=True),
        volumes=volumes_for(ctx),
    )
    group = AgentGroup(deps, host_names(settings.hostname, _host_count(settings)))
    await group.start()
    return group


async def start(ctx: Context) -> Runtime:
    """Serve the scheduler and conductor on the bus, start the agents, return the API."""
    settings = ctx.settings
    runs_agents = _host_count(settings) > 0
    # the proxy opens this process's hosts' consoles directly, others' through their agents
    hosts = frozenset(host_names(settings.hostname, _host_count(settings)) if runs_agents else ())
    proxy = ConsoleProxy(ProxyDeps(settings, ctx.db, ctx.bus, hosts))
    if settings.console.enabled:
        await proxy.start()  # first: a taken port fails the start before anything runs
    placement = PlacementClient(ctx.db)
    images = images_for(ctx)
    scheduler = Scheduler(settings, ctx.db, placement)
    await ctx.bus.serve("scheduler", scheduler)
    conductor = Conductor(settings, ctx.db, ctx.bus, placement)
    await ctx.bus.serve("conductor", conductor)
    conductor.start()
    group = None
    if runs_agents:
        group = await start_agents(ctx)
    api = Api(
        settings=settings,
        db=ctx.db,
        bus=ctx.bus,
        placement=placement,
        images=images,
        network=network_for(ctx),
        volumes=volumes_for(ctx),
    )
    app = build(api, ctx.validator, settings.identity.max_request_body_size)

    async def stop() -> None:
        await proxy.stop()
        if group is not None:
            await group.stop()
        await conductor.stop()

    return Runtime(app=app, stop=stop, binaries=("nova-conductor", "nova-scheduler"))
