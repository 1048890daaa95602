"""The console proxy's listeners, run inside the compute service's process: noVNC on
`[console] novnc_port` (6080, Nova's novncproxy_port) and serial on `[console] serial_port`
(6083, Nova's serialproxy_port), both on `[default] bind_host`.

Where it sits: `compute.service.start` starts it on the controller, next to the API: it opens
the consoles of the hosts whose agents run in this process directly, and reaches those of
hosts in other processes (other machines) at the endpoint their agents offer over RPC
(consoleproxy/app.py, compute/agent/console_relay.py).
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from starlette.types import ASGIApp

from ministack.compute.consoleproxy.app import ProxyDeps, novnc_app, serial_app

log = logging.getLogger("ministack.compute.consoleproxy")


class ConsoleProxy:
    def __init__(self, deps: ProxyDeps) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.servers: list[uvicorn.Server] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Listen on both ports; RuntimeError naming the port when one is taken (the
        listeners already started are stopped)."""
        c = self.settings.console
        try:
            await self._serve("novnc", novnc_app(self.deps), c.novnc_port)
            await self._serve("serial", serial_app(self.deps), c.serial_port)
        except BaseException:
            await self.stop()
            raise

    async def _serve(self, name: str, app: ASGIApp, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=self.settings.default.bind_host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http="httptools",
            ws="websockets",
            loop="none",
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        if server.should_exit:
            raise RuntimeError(f"console proxy ({name}): could not listen on port {port}")
        self.servers.append(server)
        self.tasks.append(asyncio.create_task(server.main_loop(), name=f"console-{name}"))
        log.info("console proxy (%s) on port %d", name, port)

    async def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        for server in self.servers:
            await server.shutdown()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.servers.clear()
        self.tasks.clear()
