"""A compute host's consoles as the controller's console proxy reaches them, possibly from
another machine (Nova's `[vnc] server_proxyclient_address`).

Where it sits: the proxy (compute/consoleproxy/app.py), running on the controller, claims a
token for a server on host H, then asks H's agent `get_console_endpoint` over RPC (this
module answers) and connects to the TCP address and port it gets.

A TCP console the driver already listens on at `[console] proxyclient_address` (libvirt's VNC
screens are defined to listen there; the fake driver's consoles listen on 127.0.0.1, the
default) is handed out as is. Anything else, above all a serial pty (/dev/pts/N, a file of
H's that no other machine can open), is offered through a one-connection relay: the agent
listens on `proxyclient_address` at a fresh port, takes the first connection within
`[console] relay_accept_timeout` seconds, stops listening, and copies bytes between that
connection and the console until either side closes. Why a relay rather than libvirt's
`<serial type='tcp'>`: the pty stays the guest's one serial device, so the console log that
virtlogd writes from it, `virsh console` and guests defined before this change keep working,
and the port is open only for the moment between the proxy's ask and its connect (each
websocket gets its own, after its token was claimed), not for the guest's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ministack.compute.console_targets import READ_SIZE, Target, TargetUnreachable, open_target
from ministack.compute.consoleauth import Connection
from ministack.compute.rpcapi.agent import ConsoleEndpointAnswer
from ministack.compute.virt.driver import ConsoleEndpoint, ConsoleUnavailable, VirtDriver

log = logging.getLogger("ministack.compute.console_relay")
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def refusal(driver: VirtDriver, kind: str) -> str | None:
    """Why this host's driver offers no `kind` console; None when it does."""
    caps = driver.capabilities
    offered = {"vnc": caps.console_url, "serial": caps.serial_console}
    if not offered.get(kind, False):
        return f"this host's driver has no {kind} console"
    return None


class ConsoleRelays:
    """The one-connection relays an agent has open: their listeners, the tasks that close
    them, and the connections being relayed (all ended by `stop`)."""

    def __init__(self) -> None:
        self.servers: set[asyncio.Server] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def offer(self, address: str, console: ConsoleEndpoint, accept_timeout: float) -> int:
        """Listen on `address` at a fresh port for one connection, relayed to `console`;
        the port. The listener closes after the first connection or `accept_timeout`."""
        taken = False
        target = Connection("", "relay", console.host, console.port, console.path)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal taken
            if taken:
                writer.close()
                return
            taken = True
            server.close()
            this = asyncio.current_task()
            if this is not None:
                self.tasks.add(this)
                this.add_done_callback(self.tasks.discard)
            try:
                opened = await open_target(target)
            except TargetUnreachable as exc:
                log.warning("console relay: %s unreachable: %s", console, exc)
                writer.close()
                return
            try:
                await pump(reader, writer, opened)
            finally:
                await opened.close()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

        server = await asyncio.start_server(serve, address, 0)
        self.servers.add(server)
        port: int = server.sockets[0].getsockname()[1]
        task = asyncio.create_task(self._expire(server, accept_timeout))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return port

    async def _expire(self, server: asyncio.Server, after: float) -> None:
        try:
            await asyncio.sleep(after)
        finally:
            server.close()
            self.servers.discard(server)

    async def stop(self) -> None:
        for server in list(self.servers):
            server.close()
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: Target) -> None:
    """Copy bytes both ways between a TCP connection and a console until either closes."""

    async def inbound() -> None:
        while data := await reader.read(READ_SIZE):
            await target.write(data)

    async def outbound() -> None:
        while data := await target.read():
            writer.write(data)
            await writer.drain()

    tasks = [asyncio.create_task(inbound()), asyncio.create_task(outbound())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


async def endpoint(
    driver: VirtDriver,
    relays: ConsoleRelays,
    address: str,
    accept_timeout: float,
    instance_uuid: str,
    kind: str,
) -> ConsoleEndpointAnswer:
    """Where the proxy connects for the guest's `kind` console: the driver's own TCP
    listener when it is at `address`, else a relay there. Raises GuestNotFound."""
    reason = refusal(driver, kind)
    if reason is not None:
        return ConsoleEndpointAnswer(unavailable=reason)
    try:
        found = await driver.get_console(instance_uuid, kind)
    except ConsoleUnavailable as exc:
        return ConsoleEndpointAnswer(unavailable=str(exc))
    if found.port and found.host in WILDCARDS | {address}:
        return ConsoleEndpointAnswer(address=address, port=found.port)
    port = await relays.offer(address, found, accept_timeout)
    log.info("console relay for %s (%s) on %s:%d", instance_uuid, kind, address, port)
    return ConsoleEndpointAnswer(address=address, port=port)
