"""Availability zones (/os-availability-zone): the default zone plus every zone an aggregate
names, each with whether it has a usable compute host."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common.db import utcnow
from ministack.common.web import json_response
from ministack.compute import models as m
from ministack.compute import servicegroup
from ministack.compute.api.common import Api, api_of, caller, iso_micro


async def host_zones(api: Api) -> dict[str, str]:
    """Each compute host's availability zone (aggregate metadata, else the default)."""
    default = api.settings.compute.default_availability_zone
    services = await servicegroup.compute_services(api.db)
    zones = dict.fromkeys(services, default)
    async with api.db.session() as s:
        for agg in (await s.execute(select(m.Aggregate))).scalars():
            zone = (agg.metadata_ or {}).get("availability_zone")
            if zone:
                for host in agg.hosts:
                    if host in zones:
                        zones[host] = zone
    return zones


async def zone_names(api: Api) -> set[str]:
    return set((await host_zones(api)).values()) | {api.settings.compute.default_availability_zone}


async def _zones(request: Request, detail: bool) -> Response:
    api = api_of(request)
    zones = await host_zones(api)
    services = await servicegroup.compute_services(api.db)
    now = utcnow()
    down_after = api.settings.compute.service_down_time
    info: dict[str, dict[str, Any]] = {}
    for host, zone in sorted(zones.items()):
        rec = services[host]
        up = servicegroup.is_up(rec, down_after, now)
        entry = info.setdefault(
            zone,
            {"zoneName": zone, "zoneState": {"available": False}, "hosts": {} if detail else None},
        )
        if up and not rec.disabled:
            entry["zoneState"]["available"] = True
        if detail:
            entry["hosts"][host] = {
                "nova-compute": {
                    "available": up,
                    "active": not rec.disabled,
                    "updated_at": iso_micro(rec.updated_at),
                }
            }
    return json_response({"availabilityZoneInfo": list(info.values())})


async def list_zones(request: Request) -> Response:
    await caller(request, "os_compute_api:os-availability-zone:list")
    return await _zones(request, detail=False)


async def list_zones_detail(request: Request) -> Response:
    await caller(request, "os_compute_api:os-availability-zone:detail")
    return await _zones(request, detail=True)


ROUTES = [
    Route("/v2.1/os-availability-zone", list_zones, methods=["GET"]),
    Route("/v2.1/os-availability-zone/detail", list_zones_detail, methods=["GET"]),
]
