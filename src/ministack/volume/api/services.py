"""os-services (cinder-scheduler and cinder-volume of each host, up or down by heartbeat)
and availability zones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.common.web import json_response
from ministack.volume.api.common import at_least, caller, core_of, iso, route
from ministack.volume.core import BACKEND

BINARIES = ("cinder-scheduler", "cinder-volume")


def _view(request: Request, row: ServiceRecord, zone: str, down_after: int) -> dict[str, Any]:
    up = not row.forced_down and utcnow() - row.updated_at <= dt.timedelta(seconds=down_after)
    host = f"{row.host}@{BACKEND}" if row.binary == "cinder-volume" else row.host
    body: dict[str, Any] = {
        "binary": row.binary,
        "host": host,
        "zone": zone,
        "status": "disabled" if row.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": iso(row.updated_at),
        "disabled_reason": row.disabled_reason,
    }
    if at_least(request, "3.7"):
        body["cluster"] = None
    if at_least(request, "3.49") and row.binary == "cinder-volume":
        body["backend_state"] = "up" if up else "down"
    return body


async def list_services(request: Request) -> Response:
    await caller(request, "volume_extension:services:index")
    query = validation.query(request)
    core = core_of(request)
    stmt = select(ServiceRecord).where(ServiceRecord.binary.in_(BINARIES))
    if query.get("binary"):
        stmt = stmt.where(ServiceRecord.binary == query["binary"])
    async with core.db.session() as s:
        rows = (await s.execute(stmt.order_by(ServiceRecord.id))).scalars().all()
    zone = core.settings.volume.storage_availability_zone
    down = core.settings.volume.service_down_time
    items = [_view(request, r, zone, down) for r in rows]
    if query.get("host"):
        items = [i for i in items if i["host"].partition("@")[0] == query["host"].partition("@")[0]]
    return json_response({"services": items})


async def update_service(request: Request) -> Response:
    await caller(request, "volume_extension:services:update")
    action = request.path_params["action"]
    if action not in ("enable", "disable", "disable-log-reason"):
        raise errors.NotFound(f"Unknown action {action}.")
    body = validation.body(request)
    host, binary = body.get("host"), body.get("binary")
    if not isinstance(host, str) or binary not in BINARIES:
        raise errors.BadRequest("Invalid input received: host and binary are required.")
    async with core_of(request).db.writer() as s:
        row = (
            (
                await s.execute(
                    select(ServiceRecord).where(
                        ServiceRecord.host == host.partition("@")[0], ServiceRecord.binary == binary
                    )
                )
            )
            .scalars()
            .first()
        )
        if row is None:
            raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
        row.disabled = action != "enable"
        row.disabled_reason = body.get("disabled_reason") if row.disabled else None
    return json_response(
        {
            "host": host,
            "binary": binary,
            "status": "disabled" if row.disabled else "enabled",
            "disabled_reason": row.disabled_reason,
        }
    )


async def list_zones(request: Request) -> Response:
    await caller(request, "volume_extension:availability_zone_list")
    zone = core_of(request).settings.volume.storage_availability_zone
    return json_response(
        {"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": True}}]}
    )


_services_query = {"type": "object"}
ROUTES = [
    route("/v3/{project_id}/os-services", list_services, "GET", query=_services_query),
    route(
        "/v3/{project_id}/os-services/{action}",
        update_service,
        "PUT",
        body={"type": "object"},
    ),
    route("/v3/{project_id}/os-availability-zone", list_zones, "GET"),
]
