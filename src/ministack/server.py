"""The process runner: starts the enabled services in one asyncio process and stops them cleanly.

Each service module (``ministack.<service>.service``) provides ``async def start(ctx) ->
Runtime``: its API app (served on the service's port) and what to stop on shutdown. The runner
also registers every service in the ``services`` table and keeps its heartbeat, writes the
catalog, and exits cleanly on SIGTERM/SIGINT so committed data is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import uuid

import uvicorn
from sqlalchemy import select
from starlette.types import ASGIApp

from ministack.common import log as mlog
from ministack.common.db import Database, utcnow
from ministack.common.models import ServiceRecord
from ministack.common.origin import PublicOrigin, uvicorn_proxy_options
from ministack.common.rpc.base import Bus
from ministack.common.runtime import Context, Runtime
from ministack.config import Settings

logger = logging.getLogger("ministack.server")

# Services in start order; a service is available when its module exists.
KNOWN_SERVICES = (
    "identity",
    "image",
    "placement",
    "compute",
    "network",
    "volume",
    "object",
    "dashboard",
)
# A service whose package is not named after it ("object" is a poor module name).
PACKAGES = {"object": "objectstore"}
HEARTBEAT_SECONDS = 10.0
SERVICE_DOWN_SECONDS = 60.0


def service_module(name: str) -> str:
    """The module with `start(ctx)` of service `name`."""
    return f"ministack.{PACKAGES.get(name, name)}.service"


def available_services() -> list[str]:
    out = []
    for name in KNOWN_SERVICES:
        try:
            found = importlib.util.find_spec(service_module(name)) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            out.append(name)
    return out


def enabled_services(settings: Settings) -> list[str]:
    """The services this process runs, in start order; ValueError for an unknown name."""
    wanted = settings.services.enabled
    available = available_services()
    if "all" in wanted:
        return available
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise ValueError(
            f"unknown or unavailable service(s) {', '.join(unknown)}; available: "
            f"{', '.join(available)}"
        )
    return [s for s in available if s in wanted]


class Process:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = enabled_services(settings)
        self.db = Database(settings.database_url)
        self.servers: list[uvicorn.Server] = []
        self.runtimes: list[Runtime] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = asyncio.Event()
        self.bus: Bus | None = None
        self.ctx: Context | None = None

    async def start(self) -> None:
        from ministack.common.rpc import make_bus

        bus = self.bus = make_bus(self.settings.messaging.url)
        await bus.start()
        ctx = self.ctx = Context(
            settings=self.settings, db=self.db, bus=bus, services=tuple(self.services)
        )
        if self.settings.identity.auth_url:
            from ministack.identity.client import HttpValidator

            ctx.validator = HttpValidator(
                self.settings.identity.auth_url, self.settings.identity.token_cache_seconds
            )
        for name in self.services:
            module = importlib.import_module(service_module(name))
            runtime: Runtime = await module.start(ctx)
            self.runtimes.append(runtime)
            if runtime.app is not None:
                await self._serve(name, runtime.app)
            logger.info("started %s", name)
        self.tasks.append(asyncio.create_task(self._heartbeat(), name="heartbeat"))

    async def _serve(self, name: str, app: ASGIApp) -> None:
        config = uvicorn.Config(
            PublicOrigin(app, self.settings.endpoint(name)),
            host=self.settings.default.bind_host,
            port=self.settings.port(name),
            log_config=None,
            access_log=False,
            lifespan="off",
            http="httptools",
            loop="none",
            timeout_graceful_shutdown=10,
            **uvicorn_proxy_options(self.settings.default.trusted_proxies),
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        if server.should_exit:
            raise RuntimeError(f"{name}: could not listen on port {self.settings.port(name)}")
        self.servers.append(server)
        self.tasks.append(asyncio.create_task(server.main_loop(), name=f"http-{name}"))

    def binaries(self) -> list[str]:
        names = [f"ministack-{s}" for s in self.services]
        for runtime in self.runtimes:
            names += runtime.binaries
        return names

    async def _heartbeat(self) -> None:
        host = self.settings.hostname
        while not self.stopping.is_set():
            try:
                await beat(self.db, host, self.binaries())
            except Exception:
                logger.exception("heartbeat failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), HEARTBEAT_SECONDS)

    async def stop(self) -> None:
        """Stop accepting requests, let those in flight finish, then stop services."""
        self.stopping.set()
        for server in self.servers:
            server.should_exit = True
        for server in self.servers:
            await server.shutdown()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for runtime in reversed(self.runtimes):
            if runtime.stop is not None:
                try:
                    await runtime.stop()
                except Exception:
                    logger.exception("error while stopping a service")
        close = getattr(self.ctx.validator, "close", None) if self.ctx else None
        if close is not None:
            await close()
        if self.bus is not None:
            await self.bus.stop()
        await self.db.close()


async def beat(db: Database, host: str, binaries: list[str]) -> None:
    """Record that these services on this host are alive now."""
    async with db.writer() as s:
        rows = {
            r.binary: r
            for r in (await s.execute(select(ServiceRecord).where(ServiceRecord.host == host)))
            .scalars()
            .all()
        }
        now = utcnow()
        for binary in binaries:
            row = rows.get(binary)
            if row is None:
                topic = binary.removeprefix("ministack-")
                s.add(
                    ServiceRecord(
                        uuid=str(uuid.uuid4()),
                        host=host,
                        binary=binary,
                        topic=topic,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                row.updated_at = now


async def run(settings: Settings, *, stderr_logs: bool = False) -> None:
    """Run the enabled services until SIGTERM or SIGINT."""
    services = enabled_services(settings)
    mlog.setup(
        settings.state_path / "logs",
        [*services, "server", "rpc"],
        debug=settings.default.debug,
        stderr=stderr_logs,
    )
    process = Process(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await process.start()
    except BaseException:
        logger.exception("start-up failed")
        await process.stop()
        raise
    logger.info("ministack running (pid %d): %s", os.getpid(), ", ".join(services))
    await stop.wait()
    logger.info("stopping")
    await process.stop()
    logger.info("stopped")
