"""From every network of the cloud to what one host must hold.

The database mapping (`rows.py`) turns network, subnet and port rows into `NetworkSpec`s with
all their ports; `host_view` keeps the networks the host takes part in — a port bound to it, or
the network's DHCP port — and the VTEPs of the other hosts with ports there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from ministack.network.agent.desired import DHCP_OWNER, HostNetworks, NetworkSpec


def host_view(host: str, networks: Iterable[NetworkSpec], vteps: Mapping[str, str]) -> HostNetworks:
    """The desired state of `host`: each network with a port bound here, with `dhcp_port` set
    when the network's DHCP port is bound here."""
    mine = []
    for net in networks:
        if not any(p.host == host for p in net.ports):
            continue
        dhcp = next((p for p in net.ports if p.device_owner == DHCP_OWNER and p.host == host), None)
        mine.append(dataclasses.replace(net, dhcp_port=dhcp))
    hosts = {p.host for n in mine for p in n.ports if p.host}
    return HostNetworks(
        host, tuple(mine), {h: ip for h, ip in vteps.items() if h in hosts or h == host}
    )
