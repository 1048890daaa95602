"""Networks: create (with the segment: a VNI claimed from the configured range, a flat
physical network, or local), show, list, update, delete.

Where it sits: called by `api/networks.py` after validation; casts `network_changed` /
`network_deleted` to the agents after the transaction commits. A VNI is claimed by the unique
constraint on (network_type, physical_network, segmentation_id): a concurrent claim of the
same VNI fails in the database and the next free one is tried.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import models as m
from ministack.network import policies, quotas, views
from ministack.network.core import (
    Core,
    drop_tags,
    if_match,
    network_visible,
    not_found,
    tags_of,
    touch,
    trusted,
)
from ministack.network.listing import Kind
from ministack.network.ports import bridge_mappings

VXLAN_OVERHEAD = 50
MAX_VNI = 2**24 - 1
TYPES = ("local", "flat", "vxlan")
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")

KIND = Kind(
    model=m.Network,
    collection="networks",
    filters={
        "id": m.Network.id,
        "name": m.Network.name,
        "description": m.Network.description,
        "status": m.Network.status,
        "admin_state_up": m.Network.admin_state_up,
        "shared": m.Network.shared,
        "router:external": m.Network.external,
        "mtu": m.Network.mtu,
        "port_security_enabled": m.Network.port_security_enabled,
        "is_default": m.Network.is_default,
        "revision_number": m.Network.revision_number,
        "provider:network_type": m.Network.network_type,
        "provider:physical_network": m.Network.physical_network,
        "provider:segmentation_id": m.Network.segmentation_id,
    },
    sorts={
        "id": m.Network.id,
        "name": m.Network.name,
        "status": m.Network.status,
        "mtu": m.Network.mtu,
        "admin_state_up": m.Network.admin_state_up,
        "shared": m.Network.shared,
        "created_at": m.Network.created_at,
        "updated_at": m.Network.updated_at,
        "project_id": m.Network.project_id,
        "tenant_id": m.Network.project_id,
        "revision_number": m.Network.revision_number,
    },
    bools=frozenset(
        {"admin_state_up", "shared", "router:external", "port_security_enabled", "is_default"}
    ),
    ints=frozenset({"mtu", "revision_number", "provider:segmentation_id"}),
)


def vni_range(core: Core) -> tuple[int, int]:
    low, _, high = core.settings.network.vni_ranges.partition(":")
    return int(low), int(high or low)


async def render(
    s: AsyncSession, core: Core, rows: list[m.Network], auth: Auth
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    subnets: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        found = await s.execute(
            select(m.Subnet.network_id, m.Subnet.id).where(m.Subnet.network_id.in_(ids))
        )
        for network_id, subnet_id in found:
            subnets[network_id].append(subnet_id)
    tags = await tags_of(s, ids)
    return [
        views.network(r, subnets[r.id], tags.get(r.id, []), auth.is_admin, core.az) for r in rows
    ]


async def visible(s: AsyncSession, auth: Auth, network_id: str) -> m.Network:
    """The network when the caller may see it; 404 otherwise."""
    row = (
        await s.execute(select(m.Network).where(m.Network.id == network_id, network_visible(auth)))
    ).scalar_one_or_none()
    if row is None:
        raise not_found("Network", network_id)
    return row


def _check_attribute_rules(auth: Auth, verb: str, body: dict[str, Any], project: str) -> None:
    for attr in ("shared", "router:external", "is_default"):
        if attr in body:
            policies.authorize(auth, f"{verb}_network:{attr}", project)
    if any(k in body for k in PROVIDER):
        policies.authorize(auth, f"{verb}_network:provider", project)


def physical_networks(core: Core) -> tuple[str, ...]:
    """The physical networks a flat network may use: [network] flat_networks and those the
    host maps to a bridge ([network_agent] bridge_mappings)."""
    mapped = (p for p, _ in bridge_mappings(core.settings.network_agent.bridge_mappings))
    return tuple(dict.fromkeys((*core.settings.network.flat_networks, *mapped)))


def _segment_fields(core: Core, body: dict[str, Any]) -> tuple[str, str, int | None]:
    """(network_type, physical_network, segmentation_id) as asked; 400 for a bad mix."""
    kind = body.get("provider:network_type") or core.settings.network.tenant_network_type
    physnet = body.get("provider:physical_network") or ""
    seg = body.get("provider:segmentation_id")
    if kind == "vlan":
        raise errors.BadRequest(
            "Invalid input for operation: network_type value 'vlan' not supported: this "
            "cloud's hosts have no VLAN-aware bridges (the kernel lacks bridge VLAN filtering "
            "and 802.1Q); use flat or vxlan."
        )
    if kind not in TYPES:
        raise errors.BadRequest(
            f"Invalid input for operation: network_type value '{kind}' not supported."
        )
    if kind == "flat":
        if not physnet:
            raise errors.BadRequest(
                "Invalid input for operation: physical_network required for flat provider network."
            )
        known = physical_networks(core)
        if physnet not in known:
            raise errors.BadRequest(
                f"Invalid input for operation: physical_network '{physnet}' unknown for flat "
                f"provider network (known: {', '.join(known)})."
            )
    elif physnet:
        raise errors.BadRequest(
            f"Invalid input for operation: physical_network not allowed for {kind} network."
        )
    if seg is not None and kind != "vxlan":
        raise errors.BadRequest(
            f"Invalid input for operation: segmentation_id not allowed for {kind} network."
        )
    if seg is not None and not 1 <= int(seg) <= MAX_VNI:
        raise errors.BadRequest(
            f"Invalid input for operation: segmentation_id {seg} out of range (1 to {MAX_VNI})."
        )
    return kind, physnet, int(seg) if seg is not None else None


async def _claim_segment(s: AsyncSession, core: Core, row: m.Network, asked: int | None) -> None:
    """Insert `row` holding a free segment: the asked VNI (409 when taken) or the lowest
    free VNI of the range (503 when none is left)."""
    if row.network_type == "flat":
        taken = await s.execute(
            select(m.Network.id).where(
                m.Network.network_type == "flat",
                m.Network.physical_network == row.physical_network,
            )
        )
        if taken.first() is not None:
            raise errors.Conflict(
                f"Unable to create the flat network. Physical network {row.physical_network} "
                "is in use.",
                kind="FlatNetworkInUse",
            )
    if row.network_type != "vxlan":
        s.add(row)
        await s.flush()
        return
    if asked is not None:
        row.segmentation_id = asked
        if not await _insert(s, row):
            raise errors.Conflict(
                f"Unable to create the network. The tunnel ID {asked} is in use.",
                kind="TunnelIdInUse",
            )
        return
    low, high = vni_range(core)
    for _ in range(20):
        used = set(
            (
                await s.execute(
                    select(m.Network.segmentation_id).where(m.Network.network_type == "vxlan")
                )
            ).scalars()
        )
        free = next((v for v in range(low, high + 1) if v not in used), None)
        if free is None:
            break
        row.segmentation_id = free
        if await _insert(s, row):
            return
    raise errors.ServiceUnavailable(
        "Unable to create the network. No tenant network is available for allocation "
        f"(VNI range {low}:{high} is used up).",
        kind="NoNetworkAvailable",
    )


async def _insert(s: AsyncSession, row: m.Network) -> bool:
    try:
        async with s.begin_nested():
            s.add(row)
            await s.flush()
    except IntegrityError:
        if row in s:
            s.expunge(row)
        return False
    return True


def _mtu(core: Core, kind: str, asked: int | None) -> int:
    top = core.settings.network.global_physnet_mtu
    top = top - VXLAN_OVERHEAD if kind == "vxlan" else top
    if asked is None:
        return top
    if asked > top:
        raise errors.BadRequest(
            f"Invalid input for operation: Requested MTU is too big, maximum is {top}."
        )
    if asked < 68:
        raise errors.BadRequest("Invalid input for mtu. Reason: '68' is the minimum MTU.")
    return asked


async def create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    project = body.get("project_id") or body.get("tenant_id") or auth.project_id or ""
    policies.authorize(auth, "create_network", project)
    _check_attribute_rules(auth, "create", body, project)
    kind, physnet, seg = _segment_fields(core, body)
    now = utcnow()
    row = m.Network(
        id=str(uuid.uuid4()),
        project_id=project,
        name=body.get("name", ""),
        description=body.get("description", ""),
        admin_state_up=body.get("admin_state_up", True),
        shared=body.get("shared", False),
        external=body.get("router:external", False),
        is_default=body.get("is_default", False),
        mtu=_mtu(core, kind, body.get("mtu")),
        port_security_enabled=body.get("port_security_enabled", True),
        network_type=kind,
        physical_network=physnet,
        dns_domain=body.get("dns_domain", ""),
        availability_zone_hints=orjson.dumps(body.get("availability_zone_hints", [])).decode(),
        revision_number=1,
        created_at=now,
        updated_at=now,
    )
    async with core.db.writer() as s:
        await quotas.claim(s, core.db, core.settings, project, "network")
        await _claim_segment(s, core, row, seg)
        out = (await render(s, core, [row], auth))[0]
    await core.agents.network_changed(row.id)
    return out


async def show(core: Core, auth: Auth, network_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        row = await visible(s, auth, network_id)
        if not (row.shared or row.external):
            policies.authorize(auth, "get_network", row.project_id)
        return (await render(s, core, [row], auth))[0]


async def update(
    core: Core, auth: Auth, network_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        row = await visible(s, auth, network_id)
        policies.authorize(auth, "update_network", row.project_id)
        _check_attribute_rules(auth, "update", body, row.project_id)
        if_match(match, row)
        if any(k in body for k in PROVIDER):
            raise errors.BadRequest(
                "Invalid input for operation: Plugin does not support updating provider attributes."
            )
        if "mtu" in body:
            row.mtu = _mtu(core, row.network_type, body["mtu"])
        simple = ("name", "description", "admin_state_up", "shared", "port_security_enabled")
        for key in simple:
            if key in body:
                setattr(row, key, body[key])
        if "router:external" in body:
            row.external = body["router:external"]
        if "is_default" in body:
            row.is_default = body["is_default"]
        if "dns_domain" in body:
            row.dns_domain = body["dns_domain"]
        touch(row)
        out = (await render(s, core, [row], auth))[0]
    await core.agents.network_changed(network_id)
    return out


async def delete(core: Core, auth: Auth, network_id: str, match: str | None) -> None:
    """Delete a network with its subnets and DHCP ports; 409 NetworkInUse while another
    port is on it."""
    async with core.db.writer() as s:
        row = await visible(s, auth, network_id)
        policies.authorize(auth, "delete_network", row.project_id)
        if_match(match, row)
        ports = (
            (await s.execute(select(m.Port).where(m.Port.network_id == network_id))).scalars().all()
        )
        if any(p.device_owner != "network:dhcp" for p in ports):
            raise errors.Conflict(
                f"Unable to complete operation on network {network_id}. There are one or more "
                "ports still in use on the network.",
                kind="NetworkInUse",
            )
        for port in ports:
            await s.delete(port)
        await s.flush()
        subnets = (
            (await s.execute(select(m.Subnet).where(m.Subnet.network_id == network_id)))
            .scalars()
            .all()
        )
        for subnet in subnets:
            await s.delete(subnet)
        await s.flush()
        await s.delete(row)
        await drop_tags(s, [network_id, *(p.id for p in ports), *(x.id for x in subnets)])
    await core.agents.network_deleted(network_id)


async def all_visible(core: Core, project_id: str) -> list[dict[str, Any]]:
    """Every network a project may use or see (its own, shared, external), for a trusted
    caller choosing on the project's behalf."""
    async with core.db.session() as s:
        query = (
            select(m.Network)
            .where(
                or_(
                    m.Network.project_id == project_id,
                    m.Network.shared.is_(True),
                    m.Network.external.is_(True),
                )
            )
            .order_by(m.Network.created_at, m.Network.id)
        )
        rows = list((await s.execute(query)).scalars())
        return await render(s, core, rows, trusted())
