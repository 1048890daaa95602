"""`ministack compute`: run compute agents (N fake hosts, or this host's libvirt) in their own
process against the configured database and message bus (RabbitMQ: the in-process bus cannot
reach another process).

On another host it needs only [database] url, [messaging] url, the controller's
[identity] auth_url and the [service_auth] passwords: no image service runs here, so the
agents reach it over HTTP as the nova service user, at the image endpoint in the catalog."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal

from ministack.common import log as mlog
from ministack.common.db import Database
from ministack.common.rpc import make_bus
from ministack.common.runtime import Context
from ministack.compute.service import start_agents
from ministack.config import SERVICE_USERS, Settings

logger = logging.getLogger("ministack.compute.agent")


def with_fake_hosts(settings: Settings, fake_hosts: int | None) -> Settings:
    if fake_hosts is None:
        return settings
    compute = dataclasses.replace(settings.compute, fake_hosts=fake_hosts)
    return dataclasses.replace(settings, compute=compute)


async def run_agents(settings: Settings, *, stderr_logs: bool = True) -> None:
    """Run the agents until SIGTERM or SIGINT. ValueError when the bus is memory://."""
    if settings.messaging.url.startswith("memory://"):
        raise ValueError(
            "compute agents in their own process need a shared bus: set [messaging] url to "
            "amqp://user:password@host:5672/ in this process and in `ministack up`"
        )
    mlog.setup(
        settings.state_path / "logs",
        ["compute", "rpc"],
        debug=settings.default.debug,
        stderr=stderr_logs,
    )
    db = Database(settings.database_url)
    bus = make_bus(settings.messaging.url)
    await bus.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not settings.service_auth.password(SERVICE_USERS["compute"]):
        logger.warning(
            "[service_auth] nova_password is not set: this host cannot download images or "
            "upload snapshots (copy [service_auth] from the controller's ministack.toml)"
        )
    # Only compute runs in this process: other services are reached over HTTP.
    ctx = Context(settings=settings, db=db, bus=bus, services=("compute",))
    group = await start_agents(ctx)
    logger.info("compute agents running for %d host(s)", len(group.agents))
    try:
        await stop.wait()
    finally:
        await group.stop()
        await bus.stop()
        await db.close()
