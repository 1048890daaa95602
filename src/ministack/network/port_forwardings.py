"""Floating IP port forwardings (Neutron's floating-ip-port-forwarding): a protocol and port
of a floating IP forwarded to an address and port of a project's port, through the router that
connects that port's subnet to the floating IP's network.

Where it sits: called by `api/port_forwardings.py`; after the commit the hosts running routers
are told (`router_changed`) and the router's namespace gets a DNAT rule per forwarding
(`agent/linux/router.py`). A floating IP holds either one fixed port (1:1 NAT) or port
forwardings, never both: `floatingips._associate` refuses the other way round.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.network import floatingips, policies, ports
from ministack.network import models as m
from ministack.network.core import Core, not_found
from ministack.network.listing import Kind

PROTOCOLS = ("tcp", "udp", "udplite", "sctp", "dccp")

KIND = Kind(
    model=m.PortForwarding,
    collection="port_forwardings",
    filters={
        "id": m.PortForwarding.id,
        "internal_port_id": m.PortForwarding.internal_port_id,
        "external_port": m.PortForwarding.external_port,
        "protocol": m.PortForwarding.protocol,
        "description": m.PortForwarding.description,
    },
    sorts={
        "id": m.PortForwarding.id,
        "external_port": m.PortForwarding.external_port,
        "protocol": m.PortForwarding.protocol,
    },
    ints=frozenset({"external_port"}),
)


def view(row: m.PortForwarding) -> dict[str, Any]:
    return {
        "id": row.id,
        "protocol": row.protocol,
        "internal_ip_address": row.internal_ip_address,
        "internal_port": row.internal_port,
        "internal_port_id": row.internal_port_id,
        "external_port": row.external_port,
        "description": row.description,
    }


async def render(
    s: AsyncSession, rows: list[m.PortForwarding], _auth: Auth
) -> list[dict[str, Any]]:
    return [view(r) for r in rows]


def _bad(message: str) -> errors.BadRequest:
    return errors.BadRequest(f"Bad port_forwarding request: {message}", kind="BadRequest")


async def floating_ip(s: AsyncSession, auth: Auth, fip_id: str, action: str) -> m.FloatingIP:
    """The caller's floating IP (404 otherwise), with `action` authorized on its project."""
    fip = await floatingips.visible(s, auth, fip_id)
    policies.authorize(auth, action, fip.project_id)
    return fip


async def _visible(s: AsyncSession, fip: m.FloatingIP, pf_id: str) -> m.PortForwarding:
    row = await s.get(m.PortForwarding, pf_id)
    if row is None or row.floatingip_id != fip.id:
        raise errors.NotFound(
            f"Port Forwarding {pf_id} could not be found.", kind="PortForwardingNotFound"
        )
    return row


async def _check_target(
    s: AsyncSession, auth: Auth, fip: m.FloatingIP, row: m.PortForwarding
) -> None:
    """The internal port is the caller's, holds the internal address, has no floating IP of
    its own, and a router connects its subnet to the floating IP's network (the one the
    floating IP already uses, if any); the floating IP is bound to no fixed port."""
    if fip.fixed_port_id:
        raise _bad(
            f"The floating IP {fip.id} is associated with port {fip.fixed_port_id}: it cannot "
            "also have port forwardings."
        )
    port = await ports.visible(s, auth, row.internal_port_id)
    if port.project_id != fip.project_id and not auth.is_admin:
        raise not_found("Port", row.internal_port_id)
    addresses = set(
        (
            await s.execute(
                select(m.IPAllocation.ip_address).where(m.IPAllocation.port_id == port.id)
            )
        ).scalars()
    )
    if row.internal_ip_address not in addresses:
        raise _bad(
            f"The internal IP {row.internal_ip_address} is not a fixed IP of port {port.id}."
        )
    if ipaddress.ip_address(row.internal_ip_address).version != 4:
        raise _bad(f"The internal IP {row.internal_ip_address} is not an IPv4 address.")
    bound = await s.execute(select(m.FloatingIP).where(m.FloatingIP.fixed_port_id == port.id))
    if (other := bound.scalars().first()) is not None:
        raise errors.Conflict(
            f"Cannot create port forwarding to floating IP {fip.floating_ip_address} "
            f"({fip.id}) with port {port.id} using fixed IP {row.internal_ip_address}, as that "
            f"port already has a binding floating IP ({other.floating_ip_address}).",
            kind="PortHasBindingFloatingIP",
        )
    router_id = await floatingips.router_for(s, fip, port, row.internal_ip_address)
    if fip.router_id and fip.router_id != router_id:
        raise _bad(
            f"The floating IP {fip.id} is used through router {fip.router_id}; port {port.id} "
            f"is reached through router {router_id}."
        )
    fip.router_id = router_id


def _apply(row: m.PortForwarding, body: dict[str, Any]) -> None:
    for key in ("internal_port_id", "internal_ip_address", "protocol", "description"):
        if key in body:
            setattr(row, key, body[key])
    for key in ("internal_port", "external_port"):
        if key in body:
            setattr(row, key, int(body[key]))


async def _flush(s: AsyncSession, row: m.PortForwarding) -> None:
    """Write `row`; 400 naming the clashing values when either end is already forwarded."""
    try:
        async with s.begin_nested():
            s.add(row)
            await s.flush()
    except IntegrityError:
        clash = {
            "floatingip_id": row.floatingip_id,
            "external_port": row.external_port,
            "protocol": row.protocol,
        }
        raise _bad(
            "A duplicate port forwarding entry with same attributes already exists, "
            f"conflicting values are {clash}."
        ) from None


async def _create(core: Core, auth: Auth, fip_id: str, body: dict[str, Any]) -> dict[str, Any]:
    async with core.db.writer() as s:
        fip = await floating_ip(s, auth, fip_id, "create_floatingip_port_forwarding")
        row = m.PortForwarding(id=str(uuid.uuid4()), floatingip_id=fip.id, description="")
        _apply(row, body)
        await _check_target(s, auth, fip, row)
        await _flush(s, row)
        return view(row)


async def show(core: Core, auth: Auth, fip_id: str, pf_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        fip = await floating_ip(s, auth, fip_id, "get_floatingip_port_forwarding")
        return view(await _visible(s, fip, pf_id))


async def _update(
    core: Core, auth: Auth, fip_id: str, pf_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with core.db.writer() as s:
        fip = await floating_ip(s, auth, fip_id, "update_floatingip_port_forwarding")
        row = await _visible(s, fip, pf_id)
        _apply(row, body)
        if "internal_port_id" in body and "internal_ip_address" not in body:
            raise _bad("A new internal_port_id needs its internal_ip_address.")
        if body.keys() & {"internal_port_id", "internal_ip_address"}:
            await _check_target(s, auth, fip, row)
        await _flush(s, row)
        return view(row)


async def _delete(core: Core, auth: Auth, fip_id: str, pf_id: str) -> None:
    async with core.db.writer() as s:
        fip = await floating_ip(s, auth, fip_id, "delete_floatingip_port_forwarding")
        row = await _visible(s, fip, pf_id)
        await s.delete(row)
        await s.flush()
        left = await s.execute(
            select(m.PortForwarding.id).where(m.PortForwarding.floatingip_id == fip.id)
        )
        if left.first() is None and not fip.fixed_port_id:
            fip.router_id = None  # the last forwarding gone: the address is free again


async def create(core: Core, auth: Auth, fip_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`_create`, then the hosts running routers are told (after the commit)."""
    out = await _create(core, auth, fip_id, body)
    await core.agents.router_changed("")
    return out


async def update(
    core: Core, auth: Auth, fip_id: str, pf_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    out = await _update(core, auth, fip_id, pf_id, body)
    await core.agents.router_changed("")
    return out


async def delete(core: Core, auth: Auth, fip_id: str, pf_id: str) -> None:
    await _delete(core, auth, fip_id, pf_id)
    await core.agents.router_changed("")
