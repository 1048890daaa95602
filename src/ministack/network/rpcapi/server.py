"""RPC API of the network service (topic "network"), called by the hosts' network agents.

When an agent has wired a port up on its host (tap in the bridge, DHCP entry live) it reports
`port_status(..., "ACTIVE")`; the network service records it and, for a port whose device is an
instance, sends compute the `network-vif-plugged` external event (as Neutron's Nova notifier).
"""

from __future__ import annotations

from dataclasses import dataclass

from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import Payload

TOPIC = "network"


@dataclass(frozen=True)
class PortStatus(Payload):
    port_id: str
    host: str
    status: str
    """ACTIVE (wired up on `host`), DOWN (unplugged) or ERROR (could not be wired up)."""
    reason: str = ""


@dataclass(frozen=True)
class FloatingIPStatus(Payload):
    floating_ip_address: str
    router_id: str
    status: str
    """ACTIVE (its NAT is in place in the router's namespace) or DOWN (taken out)."""


class NetworkServerAPI:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def port_status(self, port_id: str, host: str, status: str, reason: str = "") -> None:
        payload = PortStatus(port_id, host, status, reason).to_wire()
        await self.bus.cast(TOPIC, "port_status", payload=payload)

    async def floatingip_status(self, address: str, router_id: str, status: str) -> None:
        payload = FloatingIPStatus(address, router_id, status).to_wire()
        await self.bus.cast(TOPIC, "floatingip_status", payload=payload)
