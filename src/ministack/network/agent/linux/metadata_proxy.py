"""The metadata proxy: one asyncio listener on 169.254.169.254:80 inside each DHCP namespace,
all in the agent's process (no process per network).

A request's source address is the guest's fixed IP on that network; the proxy maps
(network, address) → port → device_id, signs the instance id and hands the request to the
`MetadataService`. An address that belongs to no port, or a port with no device, gets 404.
The guest reaches 169.254.169.254 through the DHCP port (a classless route DHCP hands out).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from http import HTTPStatus

from ministack.network.agent.desired import METADATA_IP, PortSpec
from ministack.network.agent.linux import netns
from ministack.network.agent.metadata import NOT_FOUND, MetadataService, Reply, Signer

log = logging.getLogger("ministack.network.agent")

PORT = 80
MAX_HEADER = 8192
READ_TIMEOUT = 10.0

Identify = Callable[[str, str], tuple[str, tuple[PortSpec, ...]] | None]
"""(network id, source address) → (instance id, the instance's ports), or None."""


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((METADATA_IP, PORT))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class MetadataProxy:
    """The listeners of every DHCP namespace on this host, by network id."""

    def __init__(self, service: MetadataService, signer: Signer, identify: Identify) -> None:
        self.service = service
        self.signer = signer
        self.identify = identify
        self.servers: dict[str, asyncio.Server] = {}

    async def ensure(self, network_id: str, namespace: str) -> None:
        """Listen in `namespace` for `network_id` (its DHCP device must hold METADATA_IP)."""
        if network_id in self.servers:
            return
        sock = await asyncio.to_thread(netns.run_in, namespace, _listening_socket)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._handle(network_id, reader, writer)

        self.servers[network_id] = await asyncio.start_server(handle, sock=sock)

    async def remove(self, network_id: str) -> None:
        server = self.servers.pop(network_id, None)
        if server is not None:
            server.close()

    async def stop(self) -> None:
        for network_id in list(self.servers):
            await self.remove(network_id)

    async def _handle(
        self, network_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            reply = await self._reply(network_id, head, writer.get_extra_info("peername"))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            reply = Reply(400, b"400 Bad Request\n")
        except Exception:
            log.exception("metadata request on network %s failed", network_id)
            reply = Reply(500, b"500 Internal Server Error\n")
        try:
            reason = HTTPStatus(reply.status).phrase
            writer.write(
                f"HTTP/1.0 {reply.status} {reason}\r\nContent-Type: {reply.content_type}\r\n"
                f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n".encode()
                + reply.body
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _reply(self, network_id: str, head: bytes, peer: tuple[str, int] | None) -> Reply:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
            return Reply(405, b"405 Method Not Allowed\n")
        found = self.identify(network_id, peer[0]) if peer else None
        if found is None:
            log.info("metadata: no instance at %s on network %s", peer, network_id)
            return NOT_FOUND
        instance_id, ports = found
        signature = self.signer.sign(instance_id)
        return await self.service.answer(instance_id, signature, parts[1], ports)
