"""Hand a guest's taps to a namespaced data plane (`[network_agent] host_netns`).

Where it sits: the libvirt driver calls `hand_over` after libvirt started a domain or
hot-plugged a NIC whose tap it made outside any bridge (`own_taps` in xml.py). The tap keeps
QEMU's file descriptor across the move; the network agent of that namespace sees it appear
(netlink), enslaves it to its network's bridge and reports the port plugged. The kernel removes
the tap when QEMU closes it, wherever it is, so nothing is left to delete.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError


def hand_over(taps: Sequence[str], netns: str) -> list[str]:
    """Move each of `taps` still in this namespace into `netns`; idempotent (a tap already
    moved, or gone with its guest, is skipped). Returns the taps moved. Raises NetlinkError
    when the namespace does not exist."""
    moved: list[str] = []
    with IPRoute() as ipr:
        for tap in taps:
            found = ipr.link_lookup(ifname=tap)
            if not found:
                continue
            try:
                ipr.link("set", index=found[0], net_ns_fd=netns)
            except NetlinkError as exc:
                if exc.code == 19:  # ENODEV: the guest went away meanwhile
                    continue
                raise
            moved.append(tap)
    return moved
