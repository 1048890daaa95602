"""Compute services (/os-services): the agents, conductor and scheduler with up/down, and
the admin's disable, enable and force-down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.common.web import empty_response, json_response
from ministack.compute import servicegroup
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, iso_micro, route, version
from ministack.compute.api.zones import host_zones


def _zone(rec: ServiceRecord, zones: dict[str, str]) -> str:
    return zones.get(rec.host, "nova") if rec.binary == "nova-compute" else "internal"


async def list_services(request: Request) -> Response:
    await caller(request, "os_compute_api:os-services:list")
    api = api_of(request)
    p = request.query_params
    query = select(ServiceRecord).where(ServiceRecord.binary.like("nova-%"))
    if p.get("host"):
        query = query.where(ServiceRecord.host == p["host"])
    if p.get("binary"):
        query = query.where(ServiceRecord.binary == p["binary"])
    async with api.db.session() as s:
        rows = (await s.execute(query.order_by(ServiceRecord.id))).scalars().all()
    zones = await host_zones(api)
    now = utcnow()
    out = []
    for rec in rows:
        body: dict[str, Any] = {
            "id": rec.id,
            "binary": rec.binary,
            "host": rec.host,
            "zone": _zone(rec, zones),
            "status": "disabled" if rec.disabled else "enabled",
            "state": "up"
            if servicegroup.is_up(rec, api.settings.compute.service_down_time, now)
            else "down",
            "updated_at": iso_micro(rec.updated_at),
            "disabled_reason": rec.disabled_reason,
        }
        if version(request) >= (2, 11):
            body["forced_down"] = rec.forced_down
        out.append(body)
    return json_response({"services": out})


async def _update(request: Request, action: str) -> dict[str, Any]:
    await caller(request, "os_compute_api:os-services:update")
    if action == "force-down" and version(request) < (2, 11):
        raise errors.NotFound("The resource could not be found.")
    data = validation.body(request)  # checked by the action's schema
    host, binary = data["host"], data["binary"]
    api = api_of(request)
    async with api.db.writer() as s:
        rec = (
            await s.execute(
                select(ServiceRecord).where(
                    ServiceRecord.host == host, ServiceRecord.binary == binary
                )
            )
        ).scalar_one_or_none()
        if rec is None:
            raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
        out: dict[str, Any] = {"host": host, "binary": binary}
        if action == "force-down":
            forced = data["forced_down"]
            rec.forced_down = forced
            out["forced_down"] = forced
        else:
            rec.disabled = action != "enable"
            rec.disabled_reason = data.get("disabled_reason") if rec.disabled else None
            out["status"] = "disabled" if rec.disabled else "enabled"
            if action == "disable-log-reason":
                out["disabled_reason"] = rec.disabled_reason
    await api.scheduler.refresh()
    return out


async def enable_service(request: Request) -> Response:
    return json_response({"service": await _update(request, "enable")})


async def disable_service(request: Request) -> Response:
    return json_response({"service": await _update(request, "disable")})


async def disable_log_reason(request: Request) -> Response:
    return json_response({"service": await _update(request, "disable-log-reason")})


async def force_down(request: Request) -> Response:
    return json_response({"service": await _update(request, "force-down")})


async def delete_service(request: Request) -> Response:
    await caller(request, "os_compute_api:os-services:delete")
    ident = request.path_params["service_id"]
    api = api_of(request)
    async with api.db.writer() as s:
        result = await s.execute(
            delete(ServiceRecord).where(
                ServiceRecord.id == int(ident) if ident.isdigit() else ServiceRecord.uuid == ident
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise errors.NotFound(f"Service {ident} could not be found.")
    await api.scheduler.refresh()
    return empty_response(204)


ROUTES = [
    Route("/v2.1/os-services", list_services, methods=["GET"]),
    route("/v2.1/os-services/enable", enable_service, "PUT", body=schemas.enable_service),
    route("/v2.1/os-services/disable", disable_service, "PUT", body=schemas.enable_service),
    route(
        "/v2.1/os-services/disable-log-reason",
        disable_log_reason,
        "PUT",
        body=schemas.disable_log_reason,
    ),
    route("/v2.1/os-services/force-down", force_down, "PUT", body=schemas.force_down),
    Route("/v2.1/os-services/{service_id}", delete_service, methods=["DELETE"]),
]
