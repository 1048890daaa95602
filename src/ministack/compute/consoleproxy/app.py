"""The console proxy's two ASGI apps: noVNC (its pages from Debian's novnc package and the
VNC websocket) and the serial console (a small page and the serial websocket).

A websocket is accepted only when (1) its `Origin`, if the browser sent one, is one of
`consoleauth.allowed_origins` (PROMISES 23: a page of another site cannot drive a console
with a token it got hold of), (2) its token is claimed: known, unexpired, unused, of this
proxy's console type, (3) the server is still ACTIVE on a host, and (4) that host's agent
still reports the console where the token says (Nova's validate_console_port: a guest
restarted since may have left its VNC port to another guest). Otherwise the handshake is
answered 403 and nothing is opened on the host. Then bytes are relayed both ways until either
side closes.

Where the proxy connects: for a host whose agent runs in this process, to the console itself
(its loopback port or its serial pty); for a host elsewhere (a `ministack compute` process on
another machine), to the TCP address and port its agent answers `get_console_endpoint` with,
on that host's `[console] proxyclient_address` (compute/agent/console_relay.py). A host that
does not answer (down) is refused like a bad token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ministack.common.db import Database
from ministack.common.rpc.base import Bus, RpcError
from ministack.compute import consoleauth, instances, states
from ministack.compute.console_targets import Target, TargetUnreachable, open_target
from ministack.compute.consoleproxy import serial_page
from ministack.compute.rpcapi.agent import ComputeAgentAPI
from ministack.config import Settings

log = logging.getLogger("ministack.compute.consoleproxy")
POLICY_VIOLATION = 1008  # closing before accept: the server answers the handshake 403
HOST_TIMEOUT = 4.0
"""Seconds the proxy waits for a host's agent per question: both questions must fit in the
websocket server's 10 s opening handshake, so a host that is down gets its 403 in time."""


@dataclass(frozen=True)
class ProxyDeps:
    """What the proxy reaches: the database (tokens, instances), the bus (the agents) and
    the hosts whose agents run in this process (their consoles are opened directly)."""

    settings: Settings
    db: Database
    bus: Bus
    local_hosts: frozenset[str]


class Proxy:
    """One console type's websocket endpoint (novnc or serial)."""

    def __init__(self, deps: ProxyDeps, console_type: str) -> None:
        self.deps = deps
        self.db = deps.db
        self.console_type = console_type
        self.origins = consoleauth.allowed_origins(deps.settings)

    async def _connection(self, ws: WebSocket) -> tuple[consoleauth.Connection, str] | None:
        """The claimed token's connection and the server's host; None: refuse."""
        origin = ws.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.origins:
            log.warning("console websocket refused: foreign Origin %s", origin[:200])
            return None
        token = ws.query_params.get("token", "")
        conn = await consoleauth.claim(self.db, token, self.console_type) if token else None
        if conn is None:
            log.info("console websocket refused: unknown, used or expired token")
            return None
        inst = await instances.get(self.db, conn.instance_uuid)
        if inst is None or inst.vm_state != states.ACTIVE or inst.host is None:
            log.info("console websocket refused: server %s is not active", conn.instance_uuid)
            return None
        moved = await self._moved(inst.host, conn)
        if moved is not None:
            log.info("console websocket refused: the console of %s %s", inst.uuid, moved)
            return None
        return conn, inst.host

    async def _moved(self, host: str, conn: consoleauth.Connection) -> str | None:
        """Why the host's agent no longer reports the console where the token points (it
        does not answer, the console is gone or elsewhere); None when it is still there."""
        kind = consoleauth.CONSOLE_KINDS[conn.console_type]
        agent = ComputeAgentAPI(self.deps.bus, host)
        try:
            now = await agent.get_console(conn.instance_uuid, kind, HOST_TIMEOUT)
        except RpcError as exc:
            return f"is unreachable: its host {host} does not answer ({exc})"
        if now.unavailable is not None:
            return f"is gone: {now.unavailable}"
        if (now.host, now.port, now.path) != (conn.host, conn.port, conn.internal_access_path):
            return "moved"
        return None

    async def _where(self, host: str, conn: consoleauth.Connection) -> consoleauth.Connection:
        """Where to connect: the token's place on a host of this process, else the TCP
        endpoint the host's agent offers; TargetUnreachable when it offers none."""
        if host in self.deps.local_hosts:
            return conn
        kind = consoleauth.CONSOLE_KINDS[conn.console_type]
        agent = ComputeAgentAPI(self.deps.bus, host)
        try:
            found = await agent.get_console_endpoint(conn.instance_uuid, kind, HOST_TIMEOUT)
        except RpcError as exc:
            raise TargetUnreachable(f"host {host} does not answer: {exc}") from None
        if found.unavailable is not None or not found.port:
            raise TargetUnreachable(f"host {host}: {found.unavailable}")
        return consoleauth.Connection(
            conn.instance_uuid, conn.console_type, found.address, found.port
        )

    async def handle(self, ws: WebSocket) -> None:
        claimed = await self._connection(ws)
        if claimed is None:
            await ws.close(POLICY_VIOLATION)
            return
        conn, host = claimed
        try:
            target = await open_target(await self._where(host, conn))
        except TargetUnreachable as exc:
            log.warning("console of %s unreachable: %s", conn.instance_uuid, exc)
            await ws.close(POLICY_VIOLATION)
            return
        wanted = ws.scope.get("subprotocols", [])
        await ws.accept(subprotocol="binary" if "binary" in wanted else None)
        log.info("console %s of %s connected", self.console_type, conn.instance_uuid)
        try:
            await relay(ws, target)
        finally:
            await target.close()
            log.info("console %s of %s closed", self.console_type, conn.instance_uuid)


async def relay(ws: WebSocket, target: Target) -> None:
    """Copy websocket messages to the target and the target's bytes to the websocket until
    either side closes."""

    async def inbound() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes") or (message.get("text") or "").encode()
                if data:
                    await target.write(data)

    async def outbound() -> None:
        while data := await target.read():
            await ws.send_bytes(data)
        with contextlib.suppress(Exception):
            await ws.close()

    tasks = [asyncio.create_task(inbound()), asyncio.create_task(outbound())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class PageHeaders:
    """Headers on every page the proxy serves: the token is in the URL, so no Referer leaves
    it; only this proxy and the dashboard may frame the pages; nothing is cached."""

    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app = app
        self.headers = [
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            (b"content-security-policy", f"frame-ancestors {frame_ancestors}".encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _ancestors(settings: Settings) -> str:
    """Who may frame the pages: the proxy itself and the dashboard."""
    return " ".join(["'self'", consoleauth._origin(settings.endpoint("dashboard"))])


def novnc_app(deps: ProxyDeps) -> ASGIApp:
    """noVNC's files (vnc_lite.html, vnc.html and their modules) and its websocket, which
    noVNC opens at `/<path>`: `/?token=...` with Nova's URLs, `/websockify` by default."""
    settings = deps.settings
    proxy = Proxy(deps, "novnc")
    directory = Path(settings.console.novnc_dir)
    routes: list[BaseRoute] = [
        WebSocketRoute("/", proxy.handle),
        WebSocketRoute("/websockify", proxy.handle),
    ]
    if directory.is_dir():
        routes.append(Mount("/", StaticFiles(directory=directory, follow_symlink=True)))
    else:
        log.warning("noVNC not found at %s: install Debian's novnc package", directory)

        async def missing(request: Request) -> Response:
            return PlainTextResponse(f"noVNC is not installed at {directory}", status_code=404)

        routes.append(Route("/{path:path}", missing))
    return PageHeaders(Starlette(routes=routes), _ancestors(settings))


def serial_app(deps: ProxyDeps) -> ASGIApp:
    """The serial websocket at `/?token=...` (Nova's URL) and a page that shows it,
    `/serial.html?token=...`, for browsers."""
    proxy = Proxy(deps, "serial")
    routes: list[BaseRoute] = [
        WebSocketRoute("/", proxy.handle),
        Route("/serial.html", serial_page.page),
        Route("/serial.js", serial_page.script),
    ]
    return PageHeaders(Starlette(routes=routes), _ancestors(deps.settings))
