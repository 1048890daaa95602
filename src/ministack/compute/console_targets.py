"""What a console's bytes are relayed to: a guest's VNC port (TCP) or its serial pty
(/dev/pts/N, put in raw mode as `virsh console` does).

Where it sits: `consoleproxy.app` opens a target for a claimed token (compute/consoleauth.py)
and relays bytes both ways until either side closes; on a compute host the agent's serial
relay (agent/console_relay.py) opens the guest's pty with it for the controller's proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from typing import Protocol

from ministack.compute.consoleauth import Connection

READ_SIZE = 65536
PTY_PREFIX = "/dev/pts/"


class TargetUnreachable(Exception):
    """The console's host endpoint could not be opened (the guest stopped or moved)."""


class Target(Protocol):
    async def read(self) -> bytes:
        """The next bytes from the console; b"" when it closed."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class TcpTarget:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        return await self.reader.read(READ_SIZE)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class PtyTarget:
    """The slave side of a QEMU serial pty, non-blocking, read and written from the loop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.loop = asyncio.get_running_loop()

    async def _wait(self, add: str, remove: str) -> None:
        ready: asyncio.Future[None] = self.loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        getattr(self.loop, add)(self.fd, wake)
        try:
            await ready
        finally:
            getattr(self.loop, remove)(self.fd)

    async def read(self) -> bytes:
        while True:
            try:
                return os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                await self._wait("add_reader", "remove_reader")
            except OSError:  # EIO: QEMU closed the pty (the guest stopped)
                return b""

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                await self._wait("add_writer", "remove_writer")

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _open_pty(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        tty.setraw(fd)  # no echo, no line editing: bytes pass as typed and as printed
    except BaseException:
        os.close(fd)
        raise
    return fd


async def open_target(conn: Connection, timeout: float = 5.0) -> Target:
    """Connect to the console `conn` names; TargetUnreachable when that fails. Only a pty
    under /dev/pts/ or a TCP port is ever opened, whatever the token row holds."""
    try:
        if conn.port == 0:
            path = conn.internal_access_path or ""
            if not path.startswith(PTY_PREFIX) or ".." in path:
                raise TargetUnreachable(f"not a serial pty: {path!r}")
            return PtyTarget(await asyncio.to_thread(_open_pty, path))
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(conn.host, conn.port), timeout
        )
        return TcpTarget(reader, writer)
    except (OSError, TimeoutError) as exc:
        raise TargetUnreachable(str(exc)) from None
