"""Routers as Neutron stores, validates and returns them: the external gateway (a port on an
external network), interfaces (a port holding a subnet's gateway address), extra routes.

Where it sits: called by `api/routers.py`. Forwarding and NAT on these routers are the
agents' business (part 2); here a router is what the database says it is, with every check
Neutron makes on the way in.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import fixed_ips, ipam, policies, ports, quotas, views
from ministack.network import models as m
from ministack.network.core import Core, drop_tags, if_match, not_found, own, tags_of, touch
from ministack.network.listing import Kind

GATEWAY = "network:router_gateway"
INTERFACE = "network:router_interface"

KIND = Kind(
    model=m.Router,
    collection="routers",
    filters={
        "id": m.Router.id,
        "name": m.Router.name,
        "description": m.Router.description,
        "status": m.Router.status,
        "admin_state_up": m.Router.admin_state_up,
        "revision_number": m.Router.revision_number,
    },
    sorts={
        "id": m.Router.id,
        "name": m.Router.name,
        "created_at": m.Router.created_at,
        "project_id": m.Router.project_id,
        "tenant_id": m.Router.project_id,
    },
    bools=frozenset({"admin_state_up"}),
    ints=frozenset({"revision_number"}),
)


async def visible(s: AsyncSession, auth: Auth, router_id: str) -> m.Router:
    query = select(m.Router).where(m.Router.id == router_id, own(m.Router, auth))
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("Router", router_id)
    return row


async def _fixed_ips(s: AsyncSession, port_id: str | None) -> list[dict[str, str]]:
    if port_id is None:
        return []
    rows = await s.execute(select(m.IPAllocation).where(m.IPAllocation.port_id == port_id))
    return [{"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in rows.scalars()]


async def render(s: AsyncSession, rows: list[m.Router], auth: Auth) -> list[dict[str, Any]]:
    tags = await tags_of(s, [r.id for r in rows])
    out = []
    for row in rows:
        gateway = None
        if row.gw_network_id is not None:
            gateway = {
                "network_id": row.gw_network_id,
                "enable_snat": row.enable_snat,
                "external_fixed_ips": await _fixed_ips(s, row.gw_port_id),
            }
        body: dict[str, Any] = {
            "id": row.id,
            "name": row.name,
            **views.owner(row),
            "admin_state_up": row.admin_state_up,
            "status": row.status,
            "external_gateway_info": gateway,
            "routes": orjson.loads(row.routes),
            **views.standard(row, tags.get(row.id, [])),
        }
        if auth.is_admin:
            body["distributed"] = row.distributed
            body["ha"] = row.ha
        out.append(body)
    return out


async def _external(s: AsyncSession, network_id: str) -> m.Network:
    network = await s.get(m.Network, network_id)
    if network is None or not network.external:
        raise errors.BadRequest(
            f"Bad router request: Network {network_id} is not a valid external network.",
            kind="BadRequest",
        )
    return network


async def service_port(
    s: AsyncSession, network: m.Network, owner: str, device_id: str, project: str
) -> m.Port:
    """A port the network service owns (gateway, interface, floating IP), not counted
    against the project's port quota (as Neutron's router and floating IP ports)."""
    now = utcnow()
    port = m.Port(
        id=str(uuid.uuid4()),
        project_id=project,
        network_id=network.id,
        mac_address=ports.random_mac(),
        status="DOWN",
        device_id=device_id,
        device_owner=owner,
        port_security_enabled=False,
        revision_number=1,
        created_at=now,
        updated_at=now,
    )
    await ports.insert_port(s, port, False)
    return port


async def _set_gateway(
    s: AsyncSession, auth: Auth, router: m.Router, info: dict[str, Any] | None
) -> None:
    """Replace the router's gateway with `info` (None clears it)."""
    if router.gw_port_id is not None:
        old = await s.get(m.Port, router.gw_port_id)
        if old is not None:
            await ports.delete_row(s, old)
        router.gw_port_id = None
        router.gw_network_id = None
    if not info:
        return
    network = await _external(s, info["network_id"])
    if "enable_snat" in info:
        policies.authorize(auth, "create_router:external_gateway_info:enable_snat", None)
    router.enable_snat = bool(info.get("enable_snat", True))
    port = await service_port(s, network, GATEWAY, router.id, "")
    claims = None
    if info.get("external_fixed_ips"):
        policies.authorize(auth, "create_router:external_gateway_info:external_fixed_ips", None)
        claims = [
            fixed_ips.Claim(f.get("subnet_id"), f.get("ip_address"))
            for f in info["external_fixed_ips"]
        ]
    await fixed_ips.allocate(s, port, claims, await fixed_ips.subnets_of(s, network.id))
    s.add(m.RouterPort(router_id=router.id, port_id=port.id, port_type=GATEWAY))
    router.gw_port_id = port.id
    router.gw_network_id = network.id


async def _create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    project = body.get("project_id") or body.get("tenant_id") or auth.project_id or ""
    policies.authorize(auth, "create_router", project)
    for attr in ("distributed", "ha"):
        if attr in body:
            policies.authorize(auth, f"create_router:{attr}", project)
            if body[attr]:
                raise errors.BadRequest(
                    f"Invalid input for operation: {attr} routers are not supported."
                )
    now = utcnow()
    async with core.db.writer() as s:
        await quotas.claim(s, core.db, core.settings, project, "router")
        router = m.Router(
            id=str(uuid.uuid4()),
            project_id=project,
            name=body.get("name", ""),
            description=body.get("description", ""),
            admin_state_up=body.get("admin_state_up", True),
            revision_number=1,
            created_at=now,
            updated_at=now,
        )
        s.add(router)
        await s.flush()
        await _set_gateway(s, auth, router, body.get("external_gateway_info"))
        await s.flush()
        return (await render(s, [router], auth))[0]


async def show(core: Core, auth: Auth, router_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        return (await render(s, [await visible(s, auth, router_id)], auth))[0]


async def _interface_subnets(s: AsyncSession, router_id: str) -> list[m.Subnet]:
    query = (
        select(m.Subnet)
        .join(m.IPAllocation, m.IPAllocation.subnet_id == m.Subnet.id)
        .join(m.RouterPort, m.RouterPort.port_id == m.IPAllocation.port_id)
        .where(m.RouterPort.router_id == router_id, m.RouterPort.port_type == INTERFACE)
    )
    return list((await s.execute(query)).scalars().unique())


async def _check_routes(s: AsyncSession, router_id: str, routes: list[dict[str, str]]) -> list[Any]:
    subnets = await _interface_subnets(s, router_id)
    out = []
    for route in routes:
        dest = ipam.parse_cidr(route["destination"], "routes")
        hop = ipam.parse_ip(route["nexthop"], "routes")
        if not any(hop in ipaddress.ip_network(sub.cidr) for sub in subnets):
            raise errors.BadRequest(
                f"Invalid format for routes: {route}, the nexthop is not connected with router.",
                kind="InvalidRoutes",
            )
        out.append({"destination": str(dest), "nexthop": str(hop)})
    return out


async def _update(
    core: Core, auth: Auth, router_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        router = await visible(s, auth, router_id)
        policies.authorize(auth, "update_router", router.project_id)
        if_match(match, router)
        for key in ("name", "description", "admin_state_up"):
            if key in body:
                setattr(router, key, body[key])
        if "routes" in body:
            router.routes = orjson.dumps(await _check_routes(s, router.id, body["routes"])).decode()
        if "external_gateway_info" in body:
            await _set_gateway(s, auth, router, body["external_gateway_info"])
        touch(router)
        await s.flush()
        return (await render(s, [router], auth))[0]


async def _delete(core: Core, auth: Auth, router_id: str, match: str | None) -> None:
    async with core.db.writer() as s:
        router = await visible(s, auth, router_id)
        policies.authorize(auth, "delete_router", router.project_id)
        if_match(match, router)
        interfaces = await s.execute(
            select(m.RouterPort).where(
                m.RouterPort.router_id == router_id, m.RouterPort.port_type == INTERFACE
            )
        )
        if interfaces.first() is not None:
            raise errors.Conflict(f"Router {router_id} still has ports", kind="RouterInUse")
        floating = await s.execute(
            select(m.FloatingIP.id).where(m.FloatingIP.router_id == router_id)
        )
        if floating.first() is not None:
            raise errors.Conflict(
                f"Router {router_id} still has floating IPs associated through it",
                kind="RouterInUse",
            )
        await _set_gateway(s, auth, router, None)
        await drop_tags(s, [router_id])
        await s.delete(router)


def _interface_info(router: m.Router, port: m.Port, subnet_ids: list[str]) -> dict[str, Any]:
    return {
        "id": router.id,
        **views.owner(router),
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
    }


async def _interface_port_for_subnet(s: AsyncSession, router: m.Router, subnet_id: str) -> m.Port:
    subnet = await s.get(m.Subnet, subnet_id)
    if subnet is None:
        raise not_found("Subnet", subnet_id)
    if subnet.gateway_ip is None:
        raise errors.BadRequest(
            f"Bad router request: Subnet {subnet_id} has no gateway IP.", kind="BadRequest"
        )
    network = await s.get(m.Network, subnet.network_id)
    assert network is not None
    port = await service_port(s, network, INTERFACE, router.id, router.project_id)
    await fixed_ips.allocate(
        s,
        port,
        [fixed_ips.Claim(subnet.id, subnet.gateway_ip)],
        await fixed_ips.subnets_of(s, network.id),
    )
    return port


async def _add_interface(
    core: Core, auth: Auth, router_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with core.db.writer() as s:
        router = await visible(s, auth, router_id)
        policies.authorize(auth, "add_router_interface", router.project_id)
        if "subnet_id" in body:
            sub = (
                await s.execute(select(m.Subnet).where(m.Subnet.id == body["subnet_id"]))
            ).scalar_one_or_none()
            if sub is None or not (auth.is_admin or sub.project_id == auth.project_id):
                raise not_found("Subnet", body["subnet_id"])
            await _no_overlap(s, router.id, [sub])
            port = await _interface_port_for_subnet(s, router, sub.id)
        else:
            port = await ports.visible(s, auth, body["port_id"])
            if port.device_id or port.device_owner:
                raise errors.Conflict(
                    f"Port {port.id} is in use by {port.device_owner or port.device_id}.",
                    kind="PortInUse",
                )
            subs = await s.execute(
                select(m.Subnet)
                .join(m.IPAllocation, m.IPAllocation.subnet_id == m.Subnet.id)
                .where(m.IPAllocation.port_id == port.id)
            )
            found = list(subs.scalars())
            if not found:
                raise errors.BadRequest(
                    "Bad router request: Router port must have at least one fixed IP.",
                    kind="BadRequest",
                )
            await _no_overlap(s, router.id, found)
            port.device_id, port.device_owner = router.id, INTERFACE
        s.add(m.RouterPort(router_id=router.id, port_id=port.id, port_type=INTERFACE))
        touch(router)
        await s.flush()
        subnet_ids = [f["subnet_id"] for f in await _fixed_ips(s, port.id)]
        return _interface_info(router, port, subnet_ids)


async def _no_overlap(s: AsyncSession, router_id: str, new: list[m.Subnet]) -> None:
    existing = await _interface_subnets(s, router_id)
    for sub in new:
        if any(e.id == sub.id for e in existing):
            raise errors.BadRequest(
                f"Bad router request: Router already has a port on subnet {sub.id}.",
                kind="BadRequest",
            )
        clash = ipam.overlapping(ipaddress.ip_network(sub.cidr), existing)
        if clash is not None:
            raise errors.BadRequest(
                f"Bad router request: Cidr {sub.cidr} of subnet {sub.id} overlaps with cidr "
                f"{clash} of another subnet of the router.",
                kind="BadRequest",
            )


async def _no_floating_ips_through(s: AsyncSession, router_id: str, subnet_ids: list[str]) -> None:
    """409 as Neutron when a floating IP reaches a fixed address on these subnets through
    this router (removing the leg would strand it)."""
    used = await s.execute(
        select(m.IPAllocation.subnet_id)
        .join(m.FloatingIP, m.FloatingIP.fixed_port_id == m.IPAllocation.port_id)
        .where(
            m.FloatingIP.router_id == router_id,
            m.FloatingIP.fixed_ip_address == m.IPAllocation.ip_address,
            m.IPAllocation.subnet_id.in_(subnet_ids),
        )
    )
    if (subnet_id := used.scalars().first()) is not None:
        raise errors.Conflict(
            f"Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, "
            "as it is required by one or more floating IPs.",
            kind="RouterInterfaceInUseByFloatingIP",
        )


async def _remove_interface(
    core: Core, auth: Auth, router_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with core.db.writer() as s:
        router = await visible(s, auth, router_id)
        policies.authorize(auth, "remove_router_interface", router.project_id)
        links = list(
            (
                await s.execute(
                    select(m.RouterPort).where(
                        m.RouterPort.router_id == router_id, m.RouterPort.port_type == INTERFACE
                    )
                )
            ).scalars()
        )
        chosen: m.Port | None = None
        for link in links:
            ips = await _fixed_ips(s, link.port_id)
            if link.port_id == body.get("port_id") or any(
                i["subnet_id"] == body.get("subnet_id") for i in ips
            ):
                chosen = await s.get(m.Port, link.port_id)
                break
        if chosen is None:
            what = body.get("port_id") or body.get("subnet_id")
            kind = (
                "RouterInterfaceNotFound"
                if "port_id" in body
                else "RouterInterfaceNotFoundForSubnet"
            )
            raise errors.NotFound(f"Router {router_id} has no interface on {what}.", kind=kind)
        subnet_ids = [f["subnet_id"] for f in await _fixed_ips(s, chosen.id)]
        await _no_floating_ips_through(s, router_id, subnet_ids)
        info = _interface_info(router, chosen, subnet_ids)
        await ports.delete_row(s, chosen)
        touch(router)
        return info


async def create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    """`_create`, then the router's host is told (after the commit)."""
    out = await _create(core, auth, body)
    await core.agents.router_changed(out["id"])
    return out


async def update(
    core: Core, auth: Auth, router_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    """`_update`, then the router's host is told (after the commit)."""
    out = await _update(core, auth, router_id, body, match)
    await core.agents.router_changed(router_id)
    return out


async def delete(core: Core, auth: Auth, router_id: str, match: str | None) -> None:
    """`_delete`, then the router's host is told (after the commit)."""
    await _delete(core, auth, router_id, match)
    await core.agents.router_changed(router_id)


async def add_interface(
    core: Core, auth: Auth, router_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """`_add_interface`, then the router's host is told (after the commit)."""
    out = await _add_interface(core, auth, router_id, body)
    await core.agents.router_changed(router_id)
    return out


async def remove_interface(
    core: Core, auth: Auth, router_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """`_remove_interface`, then the router's host is told (after the commit)."""
    out = await _remove_interface(core, auth, router_id, body)
    await core.agents.router_changed(router_id)
    return out
