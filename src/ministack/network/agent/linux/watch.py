"""Links appearing in the host's namespace, as netlink announces them (RTNLGRP_LINK).

A hypervisor plugs a guest's tap after the port was bound; the agent must notice at once
(compute waits for network-vif-plugged), not at its next periodic pass. A thread listens on a
plain netlink socket bound to the link group (parsed here: two attributes are all it needs) and
hands each tap's (name, master index) to the agent's event loop.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading
from collections.abc import Callable

from ministack.network.agent.linux import netns
from ministack.network.agent.linux.bridge import TAP_PREFIX

log = logging.getLogger("ministack.network.agent")

NETLINK_ROUTE = 0
RTMGRP_LINK = 1
RTM_NEWLINK = 16
NLMSG_HEADER = 16
IFINFOMSG = 16
IFLA_IFNAME = 3
IFLA_MASTER = 10
POLL_SECONDS = 0.5

TapSeen = Callable[[str, int], None]
"""(tap name, index of its master or 0); called in the watcher's thread."""


class LinkWatcher:
    def __init__(self, namespace: str | None, seen: TapSeen) -> None:
        self.namespace = namespace
        self.seen = seen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="network-agent-links", daemon=True
        )
        self._thread.start()
        ready.wait(5.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self, ready: threading.Event) -> None:
        try:
            sock = netns.run_in(self.namespace, _link_socket)
        except OSError:
            log.exception("link watcher: no netlink socket in %s", self.namespace)
            ready.set()
            return
        with sock:
            ready.set()
            while not self._stop.is_set():
                readable, _, _ = select.select([sock], [], [], POLL_SECONDS)
                if not readable:
                    continue
                try:
                    data = sock.recv(1 << 16)
                except OSError:  # ENOBUFS after a burst: the periodic pass catches up
                    continue
                for name, master in parse_new_links(data):
                    if name.startswith(TAP_PREFIX):
                        self.seen(name, master)


def _link_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    sock.bind((0, RTMGRP_LINK))
    return sock


def parse_new_links(data: bytes) -> list[tuple[str, int]]:
    """(name, master index) of each RTM_NEWLINK message in a netlink datagram."""
    out = []
    offset = 0
    while offset + NLMSG_HEADER <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < NLMSG_HEADER:
            break
        if kind == RTM_NEWLINK:
            name, master = "", 0
            at = offset + NLMSG_HEADER + IFINFOMSG
            end = offset + length
            while at + 4 <= end:
                rta_len, rta_type = struct.unpack_from("=HH", data, at)
                if rta_len < 4:
                    break
                value = data[at + 4 : at + rta_len]
                if rta_type == IFLA_IFNAME:
                    name = value.split(b"\0", 1)[0].decode(errors="replace")
                elif rta_type == IFLA_MASTER and len(value) >= 4:
                    master = struct.unpack_from("=I", value)[0]
                at += (rta_len + 3) & ~3
            out.append((name, master))
        offset += (length + 3) & ~3
    return out
