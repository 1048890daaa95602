"""/v2.0/availability_zones (the zones the agents report, per resource) and
/v2.0/network-ip-availabilities (addresses in use and in total per network and subnet)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common.auth import require_auth
from ministack.common.web import json_response
from ministack.network import agents, ipam, policies
from ministack.network import models as m
from ministack.network.api.common import core_of, path_id, route
from ministack.network.core import not_found
from ministack.network.listing import project_fields

# agent type -> the resource whose zones it makes
ZONE_OF = {agents.DHCP: "network"}


async def list_availability_zones(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "get_availability_zone", auth.project_id)
    core = core_of(request)
    zones: dict[tuple[str, str], bool] = {}
    async with core.db.session() as s:
        for row in (await s.execute(select(m.Agent))).scalars():
            resource = ZONE_OF.get(row.agent_type)
            if resource is None or not row.availability_zone:
                continue
            up = row.admin_state_up and agents.alive(row, core.settings.network.agent_down_time)
            zone = (row.availability_zone, resource)
            zones[zone] = zones.get(zone, False) or up
    params = request.query_params
    items = [
        {"name": name, "resource": resource, "state": "available" if up else "unavailable"}
        for (name, resource), up in sorted(zones.items())
    ]
    for key in ("name", "resource", "state"):
        if key in params:
            items = [i for i in items if i[key] in params.getlist(key)]
    fields = params.getlist("fields")
    return json_response({"availability_zones": [project_fields(i, fields) for i in items]})


async def _availability(s: AsyncSession, networks: list[m.Network]) -> list[dict[str, Any]]:
    ids = [n.id for n in networks]
    subnets: dict[str, list[m.Subnet]] = defaultdict(list)
    used: dict[str, int] = {}
    if ids:
        rows = await s.execute(select(m.Subnet).where(m.Subnet.network_id.in_(ids)))
        for sub in rows.scalars():
            subnets[sub.network_id].append(sub)
        counts = await s.execute(
            select(m.IPAllocation.subnet_id, func.count())
            .where(m.IPAllocation.network_id.in_(ids))
            .group_by(m.IPAllocation.subnet_id)
        )
        used = {subnet_id: int(n) for subnet_id, n in counts}
    out = []
    for net in networks:
        per_subnet: list[dict[str, Any]] = [
            {
                "subnet_id": sub.id,
                "subnet_name": sub.name,
                "cidr": sub.cidr,
                "ip_version": sub.ip_version,
                "total_ips": ipam.pool_size(ipam.subnet_pools(sub)),
                "used_ips": used.get(sub.id, 0),
            }
            for sub in subnets[net.id]
        ]
        out.append(
            {
                "network_id": net.id,
                "network_name": net.name,
                "tenant_id": net.project_id,
                "project_id": net.project_id,
                "total_ips": sum(x["total_ips"] for x in per_subnet),
                "used_ips": sum(x["used_ips"] for x in per_subnet),
                "subnet_ip_availability": per_subnet,
            }
        )
    return out


async def list_ip_availabilities(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "get_network_ip_availability", auth.project_id)
    params = request.query_params
    query = select(m.Network).order_by(m.Network.created_at, m.Network.id)
    if "network_id" in params:
        query = query.where(m.Network.id.in_(params.getlist("network_id")))
    if "network_name" in params:
        query = query.where(m.Network.name.in_(params.getlist("network_name")))
    for key in ("project_id", "tenant_id"):
        if key in params:
            query = query.where(m.Network.project_id.in_(params.getlist(key)))
    if "ip_version" in params:
        versions = [int(v) for v in params.getlist("ip_version") if v.isdigit()]
        query = query.where(
            m.Network.id.in_(select(m.Subnet.network_id).where(m.Subnet.ip_version.in_(versions)))
        )
    async with core_of(request).db.session() as s:
        items = await _availability(s, list((await s.execute(query)).scalars()))
    fields = params.getlist("fields")
    return json_response({"network_ip_availabilities": [project_fields(i, fields) for i in items]})


async def show_ip_availability(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "get_network_ip_availability", auth.project_id)
    async with core_of(request).db.session() as s:
        net = await s.get(m.Network, path_id(request))
        if net is None:
            raise not_found("Network", path_id(request))
        item = (await _availability(s, [net]))[0]
    fields = request.query_params.getlist("fields")
    return json_response({"network_ip_availability": project_fields(item, fields)})


ROUTES: list[BaseRoute] = [
    route("/v2.0/availability_zones", list_availability_zones, "GET"),
    route("/v2.0/network-ip-availabilities", list_ip_availabilities, "GET"),
    route("/v2.0/network-ip-availabilities/{id}", show_ip_availability, "GET"),
]
