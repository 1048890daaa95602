"""What happened to a server, step by step: /servers/{id}/os-instance-actions with events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.web import json_response
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, base_url, caller, iso_micro, route, version
from ministack.compute.api.views import host_id


def render_action(a: m.InstanceAction, v: tuple[int, int] = (2, 1)) -> dict[str, Any]:
    """An action; its updated_at from 2.58."""
    body: dict[str, Any] = {
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": iso_micro(a.start_time),
        "user_id": a.user_id,
    }
    if v >= PAGING:
        body["updated_at"] = iso_micro(a.updated_at)
    return body


PAGING = (2, 58)


def render_event(
    e: m.InstanceActionEvent, admin: bool, v: tuple[int, int] = (2, 1), project_id: str = ""
) -> dict[str, Any]:
    """An event: the traceback for admins; from 2.62 the host (admins) and the hostId; from
    2.84 the details (admins; ministack records none beyond the traceback, so null)."""
    body: dict[str, Any] = {
        "event": e.event,
        "start_time": iso_micro(e.start_time),
        "finish_time": iso_micro(e.finish_time),
        "result": e.result,
    }
    if admin:
        body["traceback"] = e.traceback
    if v >= (2, 62):
        if admin:
            body["host"] = e.host
        body["hostId"] = host_id(project_id, e.host)
    if v >= (2, 84) and admin:
        body["details"] = None
    return body


async def _server(request: Request) -> tuple[Any, m.Instance]:
    auth = await caller(request, "os_compute_api:os-instance-actions:list")
    server_id = request.path_params["server_id"]
    inst = await instances.get(api_of(request).db, server_id, deleted=version(request) >= (2, 21))
    if inst is None or (inst.project_id != auth.project_id and not auth.reads_all):
        raise errors.NotFound(f"Instance {server_id} could not be found.")
    return auth, inst


async def list_actions(request: Request) -> Response:
    """The server's actions, newest first; from 2.58 paged by limit and marker (a request
    id) and filtered by changes-since (and changes-before from 2.66) on updated_at."""
    _auth, inst = await _server(request)
    v = version(request)
    query = select(m.InstanceAction).where(m.InstanceAction.instance_uuid == inst.uuid)
    params = validation.query(request) if v >= PAGING else {}
    since = validation.parse_time(params["changes-since"]) if "changes-since" in params else None
    before = validation.parse_time(params["changes-before"]) if "changes-before" in params else None
    if since and before and before < since:
        raise errors.BadRequest(
            "The value of changes-since must be less than or equal to changes-before."
        )
    if since:
        query = query.where(m.InstanceAction.updated_at >= since)
    if before:
        query = query.where(m.InstanceAction.updated_at <= before)
    order = (m.InstanceAction.start_time.desc(), m.InstanceAction.id.desc())
    async with api_of(request).db.session() as s:
        rows = list((await s.execute(query.order_by(*order))).scalars())
    if params.get("marker"):
        ids = [a.request_id for a in rows]
        if params["marker"] not in ids:
            raise errors.BadRequest(f"Marker {params['marker']} could not be found.")
        rows = rows[ids.index(params["marker"]) + 1 :]
    limit = int(params["limit"]) if params.get("limit") is not None else None
    if limit is not None:
        rows = rows[:limit]
    body: dict[str, Any] = {"instanceActions": [render_action(a, v) for a in rows]}
    if limit and len(rows) == limit:
        href = (
            f"{base_url(request)}/v2.1/servers/{inst.uuid}/os-instance-actions"
            f"?limit={limit}&marker={rows[-1].request_id}"
        )
        body["links"] = [{"rel": "next", "href": href}]
    return json_response(body)


async def show_action(request: Request) -> Response:
    auth, inst = await _server(request)
    request_id = request.path_params["request_id"]
    async with api_of(request).db.session() as s:
        action = (
            (
                await s.execute(
                    select(m.InstanceAction).where(
                        m.InstanceAction.instance_uuid == inst.uuid,
                        m.InstanceAction.request_id == request_id,
                    )
                )
            )
            .scalars()
            .first()
        )
        if action is None:
            raise errors.NotFound(
                f"Action for request_id {request_id} on instance {inst.uuid} not found"
            )
        events = (
            (
                await s.execute(
                    select(m.InstanceActionEvent)
                    .where(m.InstanceActionEvent.action_id == action.id)
                    .order_by(m.InstanceActionEvent.id)
                )
            )
            .scalars()
            .all()
        )
    v = version(request)
    body = render_action(action, v)
    if auth.is_admin or v >= (2, 51):  # non-admins see events (no traceback) from 2.51
        body["events"] = [render_event(e, auth.is_admin, v, inst.project_id) for e in events]
    return json_response({"instanceAction": body})


ROUTES = [
    route(
        "/v2.1/servers/{server_id}/os-instance-actions",
        list_actions,
        "GET",
        query=schemas.list_instance_actions,
    ),
    Route(
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}", show_action, methods=["GET"]
    ),
]
