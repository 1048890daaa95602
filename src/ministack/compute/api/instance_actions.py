"""What happened to a server, step by step: /servers/{id}/os-instance-actions with events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.web import json_response
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute.api.common import api_of, caller, iso_micro, version


def render_action(a: m.InstanceAction) -> dict[str, Any]:
    return {
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": iso_micro(a.start_time),
        "user_id": a.user_id,
    }


def render_event(e: m.InstanceActionEvent, admin: bool) -> dict[str, Any]:
    body = {
        "event": e.event,
        "start_time": iso_micro(e.start_time),
        "finish_time": iso_micro(e.finish_time),
        "result": e.result,
    }
    if admin:
        body["traceback"] = e.traceback
    return body


async def _server(request: Request) -> tuple[Any, m.Instance]:
    auth = await caller(request, "os_compute_api:os-instance-actions:list")
    server_id = request.path_params["server_id"]
    inst = await instances.get(api_of(request).db, server_id, deleted=version(request) >= (2, 21))
    if inst is None or (inst.project_id != auth.project_id and not auth.reads_all):
        raise errors.NotFound(f"Instance {server_id} could not be found.")
    return auth, inst


async def list_actions(request: Request) -> Response:
    _auth, inst = await _server(request)
    async with api_of(request).db.session() as s:
        rows = (
            (
                await s.execute(
                    select(m.InstanceAction)
                    .where(m.InstanceAction.instance_uuid == inst.uuid)
                    .order_by(m.InstanceAction.start_time.desc(), m.InstanceAction.id.desc())
                )
            )
            .scalars()
            .all()
        )
    return json_response({"instanceActions": [render_action(a) for a in rows]})


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
    body = render_action(action)
    if auth.is_admin:
        body["events"] = [render_event(e, True) for e in events]
    return json_response({"instanceAction": body})


ROUTES = [
    Route("/v2.1/servers/{server_id}/os-instance-actions", list_actions, methods=["GET"]),
    Route(
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}", show_action, methods=["GET"]
    ),
]
