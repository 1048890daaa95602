"""User messages (3.3+): why a volume or snapshot went to an error status, read from the
fault the manager recorded (Cinder keeps these in its messages table). Paths and host names
are shown to admins only (PROMISES 22); deleting a message clears the fault."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume.api.common import at_least, caller, core_of, iso, route

_NS = uuid.UUID("6f1c2a8e-7d0b-4b8e-9a55-3c1f0e2d4b6a")
_PATH = re.compile(r"(?:/[\w.@#+-]+){2,}")
EVENTS = {
    "error": ("VOLUME_VOLUME_001_003", "create volume"),
    "error_deleting": ("VOLUME_VOLUME_003_001", "delete volume"),
    "error_extending": ("VOLUME_VOLUME_007_001", "extend volume"),
}


def _text(auth: Auth, fault: str) -> str:
    return fault if auth.is_admin else _PATH.sub("<path>", fault)


def _message(auth: Auth, kind: str, row: Any) -> dict[str, Any]:
    event, action = EVENTS.get(row.status, ("VOLUME_VOLUME_001_003", "volume operation"))
    if kind == "SNAPSHOT":
        event, action = "VOLUME_SNAPSHOT_001_001", f"{row.status} snapshot"
    return {
        "id": str(uuid.uuid5(_NS, f"{kind}:{row.id}")),
        "event_id": event,
        "user_message": f"{action}: {_text(auth, row.fault)}",
        "message_level": "ERROR",
        "resource_type": kind,
        "resource_uuid": row.id,
        "created_at": iso(row.updated_at),
        "guaranteed_until": None,
        "request_id": None,
        "links": [],
    }


async def _all(request: Request, auth: Auth) -> list[tuple[dict[str, Any], Any]]:
    if not at_least(request, "3.3"):
        raise errors.NotFound("The messages API needs microversion 3.3 or later.")
    out = []
    async with core_of(request).db.session() as s:
        for kind, model in (("VOLUME", m.Volume), ("SNAPSHOT", m.Snapshot)):
            stmt = select(model).where(model.fault.is_not(None))
            if not auth.reads_all:
                stmt = stmt.where(model.project_id == auth.project_id)
            for row in (await s.execute(stmt)).scalars():
                out.append((_message(auth, kind, row), row))
    return out


async def list_messages(request: Request) -> Response:
    auth = await caller(request, "message:get_all")
    return json_response({"messages": [msg for msg, _ in await _all(request, auth)]})


async def _one(request: Request, auth: Auth) -> tuple[dict[str, Any], Any]:
    wanted = request.path_params["message_id"]
    for msg, row in await _all(request, auth):
        if msg["id"] == wanted:
            return msg, row
    raise errors.NotFound(f"Message {wanted} could not be found.")


async def show_message(request: Request) -> Response:
    auth = await caller(request, "message:get")
    msg, _ = await _one(request, auth)
    return json_response({"message": msg})


async def delete_message(request: Request) -> Response:
    auth = await caller(request, "message:delete")
    _, row = await _one(request, auth)
    async with core_of(request).db.writer() as s:
        fresh = await s.get(type(row), row.id)
        if fresh is not None:
            fresh.fault = None
    return empty_response(204)


P = "/v3/{project_id}/messages"
ROUTES = [
    route(P, list_messages, "GET"),
    route(P + "/{message_id}", show_message, "GET"),
    route(P + "/{message_id}", delete_message, "DELETE"),
]
