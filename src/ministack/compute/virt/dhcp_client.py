"""A minimal DHCPv4 client for the fake driver's namespace guests (no dhclient or udhcpc is
installed on these machines): DISCOVER → OFFER → REQUEST → ACK on one interface, then the
address, routes (classless option 121, else the router) and MTU are set over netlink.

It runs inside the guest's namespace (`netns_guest.py`'s program), so a real DHCP server — the
network's dnsmasq — is what it talks to; nothing here is a stand-in for the server.
"""

from __future__ import annotations

import ipaddress
import os
import random
import select
import socket
import struct
import time
from dataclasses import dataclass, field

from pyroute2 import IPRoute

MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6
WANTED_OPTIONS = bytes([1, 3, 6, 12, 15, 26, 28, 42, 119, 121])


@dataclass
class Lease:
    ip: str
    prefixlen: int
    server: str
    routes: list[tuple[str, str]] = field(default_factory=list)
    """(destination CIDR, gateway) pairs."""
    dns: list[str] = field(default_factory=list)
    mtu: int | None = None
    hostname: str | None = None
    domain: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    """Every option of the ACK as hex by its code (a port's extra DHCP options among them)."""


def _packet(kind: int, xid: int, mac: bytes, extra: bytes = b"") -> bytes:
    head = struct.pack("!BBBBIHH4s4s4s4s", 1, 1, 6, 0, xid, 0, 0x8000, *([bytes(4)] * 4))
    chaddr = mac.ljust(16, b"\0")
    options = bytes([53, 1, kind, 55, len(WANTED_OPTIONS)]) + WANTED_OPTIONS + extra + b"\xff"
    return head + chaddr + bytes(192) + MAGIC + options


def _options(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    i = 240
    while i < len(data) and data[i] != 255:
        code = data[i]
        if code == 0:
            i += 1
            continue
        length = data[i + 1]
        out[code] = out.get(code, b"") + data[i + 2 : i + 2 + length]
        i += 2 + length
    return out


def _classless(raw: bytes) -> list[tuple[str, str]]:
    routes, i = [], 0
    while i < len(raw):
        width = raw[i]
        size = (width + 7) // 8
        dest = raw[i + 1 : i + 1 + size].ljust(4, b"\0")
        gateway = raw[i + 1 + size : i + 5 + size]
        routes.append((f"{socket.inet_ntoa(dest)}/{width}", socket.inet_ntoa(gateway)))
        i += 5 + size
    return routes


def _lease(data: bytes, opts: dict[int, bytes]) -> Lease:
    ip = socket.inet_ntoa(data[16:20])
    mask = socket.inet_ntoa(opts.get(1, b"\xff\xff\xff\x00"))
    lease = Lease(
        ip=ip,
        prefixlen=ipaddress.ip_network(f"0.0.0.0/{mask}").prefixlen,
        server=socket.inet_ntoa(opts[54]) if 54 in opts else "",
        options={str(code): value.hex() for code, value in sorted(opts.items())},
    )
    if 121 in opts:
        lease.routes = _classless(opts[121])
    elif 3 in opts:
        lease.routes = [("0.0.0.0/0", socket.inet_ntoa(opts[3][:4]))]
    if 6 in opts:
        lease.dns = [socket.inet_ntoa(opts[6][i : i + 4]) for i in range(0, len(opts[6]), 4)]
    if 26 in opts:
        lease.mtu = struct.unpack("!H", opts[26][:2])[0]
    if 12 in opts:
        lease.hostname = opts[12].decode(errors="replace")
    if 15 in opts:
        lease.domain = opts[15].decode(errors="replace").rstrip("\0")
    return lease


def _exchange(sock: socket.socket, packet: bytes, xid: int, want: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    resend = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= resend:
            sock.sendto(packet, ("255.255.255.255", 67))
            resend = time.monotonic() + 1.0
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            continue
        data = sock.recv(4096)
        if len(data) < 240 or struct.unpack("!I", data[4:8])[0] != xid:
            continue
        kind = _options(data).get(53, b"\0")[0]
        if kind == NAK:
            raise RuntimeError("DHCP server refused the request (NAK)")
        if kind == want:
            return data
    raise TimeoutError(f"no DHCP answer within {timeout:g} s")


def obtain(iface: str, timeout: float = 30.0) -> Lease:
    """Run the exchange on `iface` (in this process's namespace); returns the lease."""
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=iface)[0]
        ipr.link("set", index=index, state="up")
        mac_text = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
    mac = bytes.fromhex(mac_text.replace(":", ""))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        sock.bind(("0.0.0.0", 68))
        xid = random.getrandbits(32)
        offer = _exchange(sock, _packet(DISCOVER, xid, mac), xid, OFFER, timeout)
        opts = _options(offer)
        extra = bytes([50, 4]) + offer[16:20] + bytes([54, 4]) + opts.get(54, bytes(4))
        ack = _exchange(sock, _packet(REQUEST, xid, mac, extra), xid, ACK, timeout)
    finally:
        sock.close()
    return _lease(ack, _options(ack))


def configure(iface: str, lease: Lease) -> None:
    """Give `iface` the lease's address, MTU and routes (idempotent)."""
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=iface)[0]
        if lease.mtu:
            ipr.link("set", index=index, mtu=lease.mtu)
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=2)}
        if lease.ip not in have:
            ipr.addr("add", index=index, address=lease.ip, prefixlen=lease.prefixlen)
        for dest, gateway in lease.routes:
            net = ipaddress.ip_network(dest, strict=False)
            try:
                ipr.route(
                    "replace",
                    dst=str(net.network_address),
                    dst_len=net.prefixlen,
                    gateway=gateway,
                    oif=index,
                )
            except Exception as exc:  # an unreachable gateway is the server's mistake
                os.write(2, f"route {dest} via {gateway}: {exc}\n".encode())
