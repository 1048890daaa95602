"""Floating IPs as Neutron stores, validates and returns them: an address claimed on an
external network (through a port the service owns), associated with a project's port whose
network a router connects to that external network.

Where it sits: called by `api/floatingips.py`; NAT for these addresses is the agents'
business (part 2).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import fixed_ips, policies, ports, quotas, routers, views
from ministack.network import models as m
from ministack.network.core import Core, drop_tags, if_match, not_found, own, tags_of, touch
from ministack.network.listing import Kind

OWNER = "network:floatingip"

KIND = Kind(
    model=m.FloatingIP,
    collection="floatingips",
    filters={
        "id": m.FloatingIP.id,
        "floating_ip_address": m.FloatingIP.floating_ip_address,
        "floating_network_id": m.FloatingIP.floating_network_id,
        "router_id": m.FloatingIP.router_id,
        "port_id": m.FloatingIP.fixed_port_id,
        "fixed_ip_address": m.FloatingIP.fixed_ip_address,
        "status": m.FloatingIP.status,
        "description": m.FloatingIP.description,
        "revision_number": m.FloatingIP.revision_number,
    },
    sorts={
        "id": m.FloatingIP.id,
        "floating_ip_address": m.FloatingIP.floating_ip_address,
        "created_at": m.FloatingIP.created_at,
        "project_id": m.FloatingIP.project_id,
        "tenant_id": m.FloatingIP.project_id,
    },
    ints=frozenset({"revision_number"}),
)


async def visible(s: AsyncSession, auth: Auth, fip_id: str) -> m.FloatingIP:
    query = select(m.FloatingIP).where(m.FloatingIP.id == fip_id, own(m.FloatingIP, auth))
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("FloatingIP", fip_id)
    return row


async def render(s: AsyncSession, rows: list[m.FloatingIP]) -> list[dict[str, Any]]:
    tags = await tags_of(s, [r.id for r in rows])
    return [
        {
            "id": row.id,
            **views.owner(row),
            "floating_ip_address": row.floating_ip_address,
            "floating_network_id": row.floating_network_id,
            "router_id": row.router_id,
            "port_id": row.fixed_port_id,
            "fixed_ip_address": row.fixed_ip_address,
            "status": row.status,
            **views.standard(row, tags.get(row.id, [])),
        }
        for row in rows
    ]


async def router_for(s: AsyncSession, fip: m.FloatingIP, port: m.Port, fixed: str) -> str:
    """The project's router that connects the fixed address's subnet to the floating
    network; 404 ExternalGatewayForFloatingIPNotFound when there is none."""
    alloc = (
        await s.execute(
            select(m.IPAllocation).where(
                m.IPAllocation.port_id == port.id, m.IPAllocation.ip_address == fixed
            )
        )
    ).scalar_one()
    candidates = await s.execute(
        select(m.Router)
        .join(m.RouterPort, m.RouterPort.router_id == m.Router.id)
        .join(m.IPAllocation, m.IPAllocation.port_id == m.RouterPort.port_id)
        .where(
            m.RouterPort.port_type == routers.INTERFACE,
            m.IPAllocation.subnet_id == alloc.subnet_id,
            m.Router.gw_network_id == fip.floating_network_id,
        )
    )
    router = candidates.scalars().first()
    if router is None:
        raise errors.NotFound(
            f"External network {fip.floating_network_id} is not reachable from subnet "
            f"{alloc.subnet_id}.  Therefore, cannot associate Port {port.id} with a Floating IP.",
            kind="ExternalGatewayForFloatingIPNotFound",
        )
    return router.id


async def _associate(
    s: AsyncSession, auth: Auth, fip: m.FloatingIP, port_id: str | None, fixed: str | None
) -> None:
    forwarded = await s.execute(
        select(m.PortForwarding.id).where(m.PortForwarding.floatingip_id == fip.id)
    )
    if port_id is None:
        fip.fixed_port_id = fip.fixed_ip_address = None
        if forwarded.first() is None:
            fip.router_id = None
        return
    if forwarded.first() is not None:
        raise errors.Conflict(
            f"Floating IP {fip.id} in use by Port Forwarding resources.",
            kind="FipInUseByPortForwarding",
        )
    port = await ports.visible(s, auth, port_id)
    has_pf = await s.execute(
        select(m.PortForwarding.id).where(m.PortForwarding.internal_port_id == port_id)
    )
    if has_pf.first() is not None:
        raise errors.BadRequest(
            f"Cannot associate floating IP to port {port_id} because it already has a Port "
            "Forwarding binding.",
            kind="PortHasPortForwarding",
        )
    if port.project_id != fip.project_id and not auth.is_admin:
        raise not_found("Port", port_id)
    addresses = [
        a.ip_address
        for a in (
            await s.execute(select(m.IPAllocation).where(m.IPAllocation.port_id == port.id))
        ).scalars()
        if ipaddress.ip_address(a.ip_address).version == 4
    ]
    if fixed is None:
        if len(addresses) != 1:
            raise errors.BadRequest(
                f"Bad floatingip request: Port {port_id} has {len(addresses)} IPv4 addresses; "
                "give fixed_ip_address.",
                kind="BadRequest",
            )
        fixed = addresses[0]
    elif fixed not in addresses:
        raise errors.BadRequest(
            f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed}.",
            kind="BadRequest",
        )
    taken = await s.execute(
        select(m.FloatingIP.id).where(
            m.FloatingIP.fixed_port_id == port.id,
            m.FloatingIP.fixed_ip_address == fixed,
            m.FloatingIP.id != fip.id,
        )
    )
    if (other := taken.scalar_one_or_none()) is not None:
        raise errors.Conflict(
            f"Cannot associate floating IP {fip.floating_ip_address} ({fip.id}) with port "
            f"{port_id} using fixed IP {fixed}, as that fixed IP already has a floating IP on "
            f"external network {fip.floating_network_id}: {other}.",
            kind="FloatingIPPortAlreadyAssociated",
        )
    fip.router_id = await router_for(s, fip, port, fixed)
    fip.fixed_port_id, fip.fixed_ip_address = port.id, fixed


async def _create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    project = body.get("project_id") or body.get("tenant_id") or auth.project_id or ""
    policies.authorize(auth, "create_floatingip", project)
    if "floating_ip_address" in body:
        policies.authorize(auth, "create_floatingip:floating_ip_address", project)
    now = utcnow()
    async with core.db.writer() as s:
        network = await s.get(m.Network, body["floating_network_id"])
        if network is None or not network.external:
            raise errors.BadRequest(
                f"Bad floatingip request: Network {body['floating_network_id']} is not a valid "
                "external network.",
                kind="BadRequest",
            )
        await quotas.claim(s, core.db, core.settings, project, "floatingip")
        fip_id = str(uuid.uuid4())
        port = await routers.service_port(s, network, OWNER, fip_id, "")
        claim = None
        if body.get("floating_ip_address") or body.get("subnet_id"):
            claim = [fixed_ips.Claim(body.get("subnet_id"), body.get("floating_ip_address"))]
        await fixed_ips.allocate(s, port, claim, await fixed_ips.subnets_of(s, network.id))
        address = (
            (
                await s.execute(
                    select(m.IPAllocation.ip_address).where(m.IPAllocation.port_id == port.id)
                )
            )
            .scalars()
            .first()
        )
        if address is None:
            raise errors.BadRequest(
                f"Bad floatingip request: Network {network.id} has no subnet to take an "
                "address from.",
                kind="BadRequest",
            )
        fip = m.FloatingIP(
            id=fip_id,
            project_id=project,
            floating_ip_address=address,
            floating_network_id=network.id,
            floating_port_id=port.id,
            description=body.get("description", ""),
            status="DOWN",
            revision_number=1,
            created_at=now,
            updated_at=now,
        )
        s.add(fip)
        await s.flush()
        await _associate(s, auth, fip, body.get("port_id"), body.get("fixed_ip_address"))
        await s.flush()
        return (await render(s, [fip]))[0]


async def show(core: Core, auth: Auth, fip_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        return (await render(s, [await visible(s, auth, fip_id)]))[0]


async def _update(
    core: Core, auth: Auth, fip_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        fip = await visible(s, auth, fip_id)
        policies.authorize(auth, "update_floatingip", fip.project_id)
        if_match(match, fip)
        if "description" in body:
            fip.description = body["description"]
        if "port_id" in body:
            await _associate(s, auth, fip, body["port_id"], body.get("fixed_ip_address"))
        touch(fip)
        await s.flush()
        return (await render(s, [fip]))[0]


async def _delete(core: Core, auth: Auth, fip_id: str, match: str | None) -> None:
    async with core.db.writer() as s:
        fip = await visible(s, auth, fip_id)
        policies.authorize(auth, "delete_floatingip", fip.project_id)
        if_match(match, fip)
        port = await s.get(m.Port, fip.floating_port_id)
        await drop_tags(s, [fip_id])
        await s.delete(fip)
        await s.flush()
        if port is not None:
            await ports.delete_row(s, port)


async def create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    """`_create`, then the hosts running routers are told (after the commit; the agent
    re-makes every router it runs, so a disassociated address goes too)."""
    out = await _create(core, auth, body)
    await core.agents.router_changed(out.get("router_id") or "")
    return out


async def update(
    core: Core, auth: Auth, fip_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    """`_update`, then the hosts running routers are told (after the commit; the agent
    re-makes every router it runs, so a disassociated address goes too)."""
    out = await _update(core, auth, fip_id, body, match)
    await core.agents.router_changed(out.get("router_id") or "")
    return out


async def delete(core: Core, auth: Auth, fip_id: str, match: str | None) -> None:
    """`_delete`, then the hosts running routers are told (after the commit; the agent
    re-makes every router it runs, so a disassociated address goes too)."""
    await _delete(core, auth, fip_id, match)
    await core.agents.router_changed("")
