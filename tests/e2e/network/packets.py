"""Packet helpers for the security group tests: a held-open TCP connection between two
namespace guests, raw Ethernet frames sent from one guest and caught in another, and the
host namespace's nftables and conntrack state. Every socket lives in a test's namespace."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import threading
import time

from ministack.network.agent.linux import netns

ECHO_PORT = 7100


class Echo:
    """A TCP echo listener inside namespace `ns` (its socket made there, served here)."""

    def __init__(self, ns: str, port: int = ECHO_PORT, idle: float = 30.0) -> None:
        """`idle`: seconds a connection may stay silent before the listener closes it."""

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.listen(8)
            return sock

        self.server = netns.run_in(ns, make)
        self.server.settimeout(0.2)
        self.idle = idle
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(self.idle)
            with contextlib.suppress(OSError):
                while data := conn.recv(256):
                    conn.sendall(data)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


def connect(ns: str, ip: str, port: int = ECHO_PORT, timeout: float = 2.0) -> socket.socket:
    """A TCP connection from namespace `ns` (raises OSError when refused or dropped)."""

    def make() -> socket.socket:
        return socket.create_connection((ip, port), timeout=timeout)

    return netns.run_in(ns, make)


def echoes(conn: socket.socket, timeout: float = 2.0) -> bool:
    """Whether the echo comes back over `conn` within `timeout` seconds."""
    conn.settimeout(timeout)
    try:
        conn.sendall(b"ping")
        return conn.recv(16) == b"ping"
    except OSError:
        return False


def stops_echoing(conn: socket.socket, within: float) -> bool:
    """Whether an echo over `conn` goes unanswered within `within` seconds of trying."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not echoes(conn, 0.5):
            return True
        time.sleep(0.1)
    return False


async def reachable(ns: str, ip: str, port: int = ECHO_PORT, within: float = 2.0) -> bool:
    """Whether a new TCP connection from `ns` to ip:port echoes within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            conn = await asyncio.to_thread(connect, ns, ip, port, 0.5)
            with conn:
                if await asyncio.to_thread(echoes, conn, 0.5):
                    return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)


def _mac(text: str) -> bytes:
    return bytes(int(b, 16) for b in text.split(":"))


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def udp_frame(src_mac: str, src_ip: str, sport: int, dport: int, marker: bytes) -> bytes:
    """A broadcast IPv4/UDP frame (UDP checksum 0: none)."""
    payload = struct.pack("!HHHH", sport, dport, 8 + len(marker), 0) + marker
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        1,
        0,
        64,
        17,
        0,
        socket.inet_aton(src_ip),
        socket.inet_aton("255.255.255.255"),
    )
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return b"\xff" * 6 + _mac(src_mac) + b"\x08\x00" + header + payload


def arp_reply(src_mac: str, claimed_ip: str, marker_ip: str) -> bytes:
    """A broadcast ARP reply: `claimed_ip` is at `src_mac` (target `marker_ip`)."""
    body = struct.pack(
        "!HHBBH6s4s6s4s",
        1,
        0x0800,
        6,
        4,
        2,
        _mac(src_mac),
        socket.inet_aton(claimed_ip),
        b"\xff" * 6,
        socket.inet_aton(marker_ip),
    )
    return b"\xff" * 6 + _mac(src_mac) + b"\x08\x06" + body


def send(ns: str, device: str, frame: bytes) -> None:
    def go() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((device, 0))
            sock.send(frame)

    netns.run_in(ns, go)


def catcher(ns: str, device: str) -> socket.socket:
    """A raw socket in `ns` receiving every frame on `device`."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        sock.bind((device, 0))
        sock.settimeout(0.1)
        return sock

    return netns.run_in(ns, make)


def caught(sock: socket.socket, marker: bytes, wait: float = 1.0) -> bool:
    """Whether a frame containing `marker` arrives on `sock` within `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            frame = sock.recv(2048)
        except TimeoutError:
            continue
        if marker in frame:
            return True
    return False


def host_run(ns: str, *argv: str) -> str:
    done = subprocess.run(
        list(argv), capture_output=True, preexec_fn=netns.preexec(ns), check=False, text=True
    )
    return done.stdout


def tables(ns: str) -> str:
    """The nftables tables of a (simulated) host namespace."""
    return host_run(ns, "nft", "list", "tables")


def ruleset(ns: str) -> str:
    return host_run(ns, "nft", "list", "ruleset")


def flows(ns: str, address: str) -> list[str]:
    """The conntrack entries of namespace `ns` from or to `address`."""
    out = host_run(ns, "conntrack", "-L", "-f", "ipv4")
    return [line for line in out.splitlines() if f"={address} " in line]
