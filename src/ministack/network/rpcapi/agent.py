"""RPC API of the network agents (topic "network-agent", fanout to every host's agent).

The network service casts after it has committed a change; an agent receiving a message
re-derives what its host must hold for that network or port from the database (idempotent),
so a lost or repeated message is harmless and an agent restart re-syncs everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import Payload

TOPIC = "network-agent"


@dataclass(frozen=True)
class NetworkRef(Payload):
    network_id: str


@dataclass(frozen=True)
class PortRef(Payload):
    port_id: str
    network_id: str
    host: str | None = None
    """The host the port is (or was) bound to; None when unbound."""


@dataclass(frozen=True)
class GroupRef(Payload):
    security_group_id: str


@dataclass(frozen=True)
class RouterRef(Payload):
    router_id: str


class NetworkAgentAPI:
    """What the network service tells the agents. Casts return once the bus holds the message;
    with no agent serving, they are dropped (agents re-sync from the database on start)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def network_changed(self, network_id: str) -> None:
        """A network or one of its subnets was created or updated (DHCP options, MTU...)."""
        await self.bus.fanout(TOPIC, "network_changed", payload=NetworkRef(network_id).to_wire())

    async def network_deleted(self, network_id: str) -> None:
        await self.bus.fanout(TOPIC, "network_deleted", payload=NetworkRef(network_id).to_wire())

    async def port_changed(self, port_id: str, network_id: str, host: str | None) -> None:
        """A port was created, updated, bound, re-bound or unbound (`host` = the new host)."""
        payload = PortRef(port_id, network_id, host).to_wire()
        await self.bus.fanout(TOPIC, "port_changed", payload=payload)

    async def port_deleted(self, port_id: str, network_id: str, host: str | None) -> None:
        payload = PortRef(port_id, network_id, host).to_wire()
        await self.bus.fanout(TOPIC, "port_deleted", payload=payload)

    async def security_group_changed(self, group_id: str) -> None:
        """A security group's rules changed, or it was deleted: every host re-applies its
        filters (only the chains and sets that differ are rewritten)."""
        payload = GroupRef(group_id).to_wire()
        await self.bus.fanout(TOPIC, "security_group_changed", payload=payload)

    async def router_changed(self, router_id: str) -> None:
        """A router, one of its interfaces or gateway, or one of its floating IPs changed:
        the host running it re-makes it (its namespace, routes and NAT)."""
        await self.bus.fanout(TOPIC, "router_changed", payload=RouterRef(router_id).to_wire())
