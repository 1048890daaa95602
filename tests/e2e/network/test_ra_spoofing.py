"""Anti-spoofing against IPv6 router advertisements: a guest with port security that sends a
router advertisement (ICMPv6 type 134, from its own MAC and link-local address, to all nodes)
reaches no one, while the same guest's other ICMPv6 to all nodes does (so what is dropped is
the advertisement, not the guest's IPv6). Namespace guests on a simulated host."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from ministack.network.agent.firewall import link_local
from tests.e2e.network import packets
from tests.e2e.network.dataplane import Lab, lease
from tests.e2e.network.test_security_groups import group

pytestmark = pytest.mark.e2e

ALL_NODES_MAC = bytes.fromhex("333300000001")


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total >> 16) + (total & 0xFFFF)
    return ~total & 0xFFFF


def icmpv6_frame(src_mac: str, icmp_type: int, body: bytes) -> bytes:
    """An ICMPv6 message from `src_mac`'s link-local address to ff02::1, checksummed (so
    conntrack does not call it invalid)."""
    src = socket.inet_pton(socket.AF_INET6, link_local(src_mac))
    dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
    if len(body) % 2:
        body += b"\0"
    bare = struct.pack("!BBH", icmp_type, 0, 0) + body
    pseudo = src + dst + struct.pack("!I3xB", len(bare), 58)
    payload = bare[:2] + struct.pack("!H", _checksum(pseudo + bare)) + bare[4:]
    header = struct.pack("!IHBB16s16s", 0x60000000, len(payload), 58, 255, src, dst)
    mac = bytes(int(b, 16) for b in src_mac.split(":"))
    return ALL_NODES_MAC + mac + b"\x86\xdd" + header + payload


async def test_a_guests_router_advertisement_is_dropped_and_its_other_icmpv6_is_not(
    lab: Lab,
) -> None:
    h1 = await lab.host("h1")
    agent = lab.agent(h1)
    net = lab.network("10.34.0.0/24")
    guest = await lab.boot(h1, net, lab.port(net, "10.34.0.11", "h1", "x", (group(lab, "x"),)))
    watcher = await lab.boot(h1, net, lab.port(net, "10.34.0.12", "h1", "w"))  # unfiltered
    await agent.start()
    await lease(guest)
    await lease(watcher)
    mac = guest.port.mac
    # RA: hop limit, flags, router lifetime 1800 s, reachable and retransmit times, marker
    advert = icmpv6_frame(mac, 134, struct.pack("!BBHII", 64, 0, 1800, 0, 0) + b"rogue-ra")
    echo = icmpv6_frame(mac, 128, struct.pack("!HH", 1, 1) + b"plain-echo")
    sock = await asyncio.to_thread(packets.catcher, watcher.ns, "eth0")
    try:
        seen = {}
        for marker, frame in ((b"plain-echo", echo), (b"rogue-ra", advert)):
            await asyncio.to_thread(packets.send, guest.ns, "eth0", frame)
            seen[marker] = await asyncio.to_thread(packets.caught, sock, marker)
    finally:
        sock.close()
    assert seen == {b"plain-echo": True, b"rogue-ra": False}
