"""The attachments API Nova uses (3.27+; complete from 3.44): create (reserve, or with a
connector straight to attaching), update with the connector (connection info from the
volume's manager), complete (in-use), delete (available again when the last one goes)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.web import empty_response, json_response
from ministack.volume import attachments
from ministack.volume import models as m
from ministack.volume.api import schemas, views
from ministack.volume.api.common import at_least, caller, core_of, route


def _since(request: Request, wanted: str) -> None:
    if not at_least(request, wanted):
        raise errors.NotFound(f"The attachments API needs microversion {wanted} or later.")


async def create_attachment(request: Request) -> Response:
    _since(request, "3.27")
    auth = await caller(request, "volume:attachment_create")
    body = validation.body(request)["attachment"]
    att, info = await attachments.create(
        core_of(request),
        auth,
        body["volume_uuid"],
        body.get("instance_uuid"),
        body.get("connector"),
        body.get("mode", "rw"),
    )
    return json_response({"attachment": views.attachment(att, info)})


async def update_attachment(request: Request) -> Response:
    _since(request, "3.27")
    auth = await caller(request, "volume:attachment_update")
    connector = validation.body(request)["attachment"]["connector"]
    att, info = await attachments.update(
        core_of(request), auth, request.path_params["attachment_id"], connector
    )
    return json_response({"attachment": views.attachment(att, info)})


async def complete_attachment(request: Request) -> Response:
    _since(request, "3.44")
    auth = await caller(request, "volume:attachment_complete")
    await attachments.complete(core_of(request), auth, request.path_params["attachment_id"])
    return empty_response(204)


async def delete_attachment(request: Request) -> Response:
    _since(request, "3.27")
    auth = await caller(request, "volume:attachment_delete")
    left = await attachments.delete(core_of(request), auth, request.path_params["attachment_id"])
    return json_response({"attachments": [views.attachment(a, None) for a in left]})


async def show_attachment(request: Request) -> Response:
    _since(request, "3.27")
    auth = await caller(request, "volume:attachment_get")
    core = core_of(request)
    async with core.db.session() as s:
        att = await attachments.load(s, auth, request.path_params["attachment_id"])
    return json_response({"attachment": views.attachment(att, None)})


async def list_attachments(request: Request) -> Response:
    _since(request, "3.27")
    auth = await caller(request, "volume:attachment_get_all")
    query = validation.query(request)
    stmt = select(m.Attachment).order_by(m.Attachment.created_at.desc(), m.Attachment.id)
    if not (auth.reads_all and query.get("all_tenants") in ("1", "true", "True")):
        stmt = stmt.where(m.Attachment.project_id == auth.project_id)
    if query.get("volume_id"):
        stmt = stmt.where(m.Attachment.volume_id == query["volume_id"])
    if query.get("instance_id"):
        stmt = stmt.where(m.Attachment.instance_uuid == query["instance_id"])
    async with core_of(request).db.session() as s:
        rows = (await s.execute(stmt)).scalars().all()
    if request.url.path.endswith("/detail"):
        return json_response({"attachments": [views.attachment(a, None) for a in rows]})
    brief = [
        {
            "id": a.id,
            "status": a.attach_status,
            "instance": a.instance_uuid,
            "volume_id": a.volume_id,
        }
        for a in rows
    ]
    return json_response({"attachments": brief})


P = "/v3/{project_id}/attachments"
_query = schemas.list_query
ROUTES = [
    route(P, create_attachment, "POST", body=schemas.create_attachment),
    route(P, list_attachments, "GET", query=_query),
    route(P + "/detail", list_attachments, "GET", query=_query),
    route(P + "/{attachment_id}", show_attachment, "GET"),
    route(P + "/{attachment_id}", update_attachment, "PUT", body=schemas.update_attachment),
    route(P + "/{attachment_id}", delete_attachment, "DELETE"),
    route(
        P + "/{attachment_id}/action",
        complete_attachment,
        "POST",
        body=schemas.attachment_action,
    ),
]
