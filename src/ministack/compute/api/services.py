"""Compute services (/os-services): the agents, conductor and scheduler with up/down, and
the admin's disable, enable and force-down."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.common.params import to_bool
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
    out = [_render(request, rec, zones) for rec in rows]
    if version(request) < (2, 11):
        for body in out:
            body.pop("forced_down")
    return json_response({"services": out})


def _render(request: Request, rec: ServiceRecord, zones: dict[str, str]) -> dict[str, Any]:
    """A service; its id is the uuid from 2.53."""
    api = api_of(request)
    up = servicegroup.is_up(rec, api.settings.compute.service_down_time, utcnow())
    return {
        "id": rec.uuid if version(request) >= UUIDS else rec.id,
        "binary": rec.binary,
        "host": rec.host,
        "zone": _zone(rec, zones),
        "status": "disabled" if rec.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": iso_micro(rec.updated_at),
        "disabled_reason": rec.disabled_reason,
        "forced_down": rec.forced_down,
    }


async def update_service(request: Request) -> Response:
    """2.53: PUT /os-services/{uuid} with status, disabled_reason and forced_down."""
    ident = request.path_params["service_id"]
    if version(request) < UUIDS:
        await caller(request, "os_compute_api:os-services:update")
        raise errors.NotFound(f"Unknown action {ident}")
    _check_uuid(ident)
    await caller(request, "os_compute_api:os-services:update")
    data = validation.body(request)  # checked by schemas.update_service
    api = api_of(request)
    async with api.db.writer() as s:
        rec = (
            await s.execute(select(ServiceRecord).where(ServiceRecord.uuid == ident))
        ).scalar_one_or_none()
        if rec is None:
            raise errors.NotFound(f"Service {ident} could not be found.")
        if rec.binary != "nova-compute":
            raise errors.BadRequest(
                f"Updating a {rec.binary} service is not supported. Only nova-compute "
                "services can be updated."
            )
        if "status" not in data and "forced_down" not in data:
            raise errors.BadRequest(
                "No updates were requested. Fields 'status' or 'forced_down' should be specified."
            )
        if data.get("status") == "enabled":
            if data.get("disabled_reason"):
                raise errors.BadRequest(
                    "Specifying 'disabled_reason' with status 'enabled' is invalid."
                )
            rec.disabled, rec.disabled_reason = False, None
        elif data.get("status") == "disabled":
            rec.disabled, rec.disabled_reason = True, data.get("disabled_reason")
        if "forced_down" in data:
            rec.forced_down = to_bool(data["forced_down"])
        await s.flush()
        zones = await host_zones(api)
        body = _render(request, rec, zones)
    await api.scheduler.refresh()
    return json_response({"service": body})


UUIDS = (2, 53)


def _check_uuid(ident: str) -> None:
    try:
        uuid.UUID(ident)
    except ValueError:
        raise errors.BadRequest(f"Invalid uuid {ident}") from None


async def _update(request: Request, action: str) -> dict[str, Any]:
    await caller(request, "os_compute_api:os-services:update")
    if version(request) >= UUIDS:  # the action names are no service uuids
        raise errors.BadRequest(f"Invalid uuid {action}")
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
    if version(request) >= UUIDS:
        _check_uuid(ident)
        where = ServiceRecord.uuid == ident
    elif ident.isdigit():
        where = ServiceRecord.id == int(ident)
    else:
        raise errors.BadRequest(f"Invalid ID {ident}")
    api = api_of(request)
    async with api.db.writer() as s:
        result = await s.execute(delete(ServiceRecord).where(where))
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
    route("/v2.1/os-services/{service_id}", update_service, "PUT", body=schemas.update_service),
    Route("/v2.1/os-services/{service_id}", delete_service, methods=["DELETE"]),
]
