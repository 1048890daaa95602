"""The agent's one-connection console relay (compute/agent/console_relay.py): a serial pty
offered on a TCP port for the controller's console proxy, which takes exactly one connection
and copies bytes both ways in raw mode."""

from __future__ import annotations

import asyncio
import os

import pytest

from ministack.compute.agent.console_relay import ConsoleRelays, endpoint
from ministack.compute.virt.driver import ConsoleEndpoint, GuestSpec
from ministack.compute.virt.fake import FakeDriver

ADDRESS = "127.0.0.2"
UUID = "6f1c3a0e-2222-4222-8333-944455556666"


async def _read_master(fd: int, want: bytes) -> bytes:
    got = b""
    while not got.endswith(want):
        try:
            got += os.read(fd, 4096)
        except BlockingIOError:
            await asyncio.sleep(0.01)
    return got


async def test_a_pty_is_relayed_to_one_connection_only() -> None:
    master, slave = os.openpty()
    os.set_blocking(master, False)
    relays = ConsoleRelays()
    try:
        path = os.ttyname(slave)
        port = await relays.offer(ADDRESS, ConsoleEndpoint(ADDRESS, 0, path), 30.0)
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        writer.write(b"root\r")
        await writer.drain()
        # raw mode: the carriage return reaches the guest as typed, no echo added
        assert await asyncio.wait_for(_read_master(master, b"\r"), 10) == b"root\r"
        os.write(master, b"guest login: ")
        assert await asyncio.wait_for(reader.readexactly(13), 10) == b"guest login: "
        # the listener closed with the first connection: a second one is refused
        with pytest.raises(OSError):
            await asyncio.open_connection(ADDRESS, port)
        writer.close()
    finally:
        await relays.stop()
        os.close(master)
        os.close(slave)


async def test_a_relay_nobody_takes_stops_listening() -> None:
    relays = ConsoleRelays()
    port = await relays.offer(ADDRESS, ConsoleEndpoint("127.0.0.1", 1), 0.05)
    await asyncio.gather(*relays.tasks)
    assert not relays.servers
    with pytest.raises(OSError):
        await asyncio.open_connection(ADDRESS, port)
    await relays.stop()


async def test_only_a_pty_or_a_tcp_port_is_opened() -> None:
    relays = ConsoleRelays()
    try:
        port = await relays.offer(ADDRESS, ConsoleEndpoint("", 0, "/etc/passwd"), 30.0)
        reader, writer = await asyncio.open_connection(ADDRESS, port)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing read
        writer.close()
    finally:
        await relays.stop()


async def test_endpoint_is_the_drivers_own_listener_or_a_relay() -> None:
    """The fake's consoles listen on 127.0.0.1: handed out as they are when that is the
    proxyclient address; through a relay on the address otherwise; refusals are answers."""
    driver = FakeDriver("h1")
    await driver.spawn(
        GuestSpec(
            uuid=UUID, name="vm", hostname="vm", vcpus=1, memory_mb=64, root_gb=1, image_id=None
        )
    )
    relays = ConsoleRelays()
    try:
        own = await endpoint(driver, relays, "127.0.0.1", 30.0, UUID, "vnc")
        direct = await driver.get_console(UUID, "vnc")
        assert (own.address, own.port, own.unavailable) == ("127.0.0.1", direct.port, None)
        assert not relays.servers
        relayed = await endpoint(driver, relays, ADDRESS, 30.0, UUID, "vnc")
        assert relayed.address == ADDRESS and relayed.port != direct.port
        reader, writer = await asyncio.open_connection(ADDRESS, relayed.port)
        assert await asyncio.wait_for(reader.readexactly(12), 10) == b"RFB 003.008\n"
        writer.write_eof()  # the relay closes both its connections in turn
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        spice = await endpoint(driver, relays, ADDRESS, 30.0, UUID, "spice")
        assert spice.unavailable == "this host's driver has no spice console"
        await driver.power_off(UUID)
        stopped = await endpoint(driver, relays, ADDRESS, 30.0, UUID, "serial")
        assert stopped.unavailable is not None and "not running" in stopped.unavailable
    finally:
        await relays.stop()
        await driver.destroy(UUID)
