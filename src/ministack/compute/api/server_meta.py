"""Server metadata: /servers/{id}/metadata and /servers/{id}/metadata/{key}."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import quotas
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, route
from ministack.compute.api.servers import check_unlocked, load


async def show_metadata(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:server-metadata:index")
    inst = await load(request, auth)
    return json_response({"metadata": dict(inst.metadata_ or {})})


async def _write(request: Request, replace: bool, key: str | None = None) -> dict[str, str]:
    auth = await caller(request, "os_compute_api:server-metadata:update")
    inst = await load(request, auth)
    check_unlocked(inst, auth)
    data = validation.body(request)  # checked by schemas.set_metadata / set_meta_item
    if key is None:
        new: dict[str, str] = dict(data["metadata"])
    else:
        new = dict(data["meta"])
        if list(new) != [key]:
            raise errors.BadRequest("Request body and URI mismatch")
    api = api_of(request)
    async with api.db.writer() as s:
        row = (await s.execute(select(m.Instance).where(m.Instance.uuid == inst.uuid))).scalar_one()
        merged = dict(new) if replace else {**(row.metadata_ or {}), **new}
        limit = (await quotas.limits(s, inst.project_id))["metadata_items"]
        if 0 <= limit < len(merged):
            raise errors.OverLimit(
                f"Quota exceeded for metadata_items: Requested {len(merged)}, but the limit is "
                f"{limit} metadata items"
            )
        row.metadata_ = merged
    return new if key is not None else merged


async def update_metadata(request: Request) -> Response:
    return json_response({"metadata": await _write(request, replace=False)})


async def replace_metadata(request: Request) -> Response:
    return json_response({"metadata": await _write(request, replace=True)})


async def show_meta_item(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:server-metadata:show")
    inst = await load(request, auth)
    key = request.path_params["key"]
    if key not in (inst.metadata_ or {}):
        raise errors.NotFound("Metadata item was not found")
    return json_response({"meta": {key: inst.metadata_[key]}})


async def set_meta_item(request: Request) -> Response:
    key = request.path_params["key"]
    return json_response({"meta": await _write(request, replace=False, key=key)})


async def delete_meta_item(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:server-metadata:delete")
    inst = await load(request, auth)
    check_unlocked(inst, auth)
    key = request.path_params["key"]
    async with api_of(request).db.writer() as s:
        row = (await s.execute(select(m.Instance).where(m.Instance.uuid == inst.uuid))).scalar_one()
        if key not in (row.metadata_ or {}):
            raise errors.NotFound("Metadata item was not found")
        row.metadata_ = {k: v for k, v in row.metadata_.items() if k != key}
    return empty_response(204)


_BASE = "/v2.1/servers/{server_id}/metadata"
ROUTES: list[BaseRoute] = [
    route(_BASE, show_metadata, "GET"),
    route(_BASE, update_metadata, "POST", body=schemas.set_metadata),
    route(_BASE, replace_metadata, "PUT", body=schemas.set_metadata),
    route(_BASE + "/{key}", show_meta_item, "GET"),
    route(_BASE + "/{key}", set_meta_item, "PUT", body=schemas.set_meta_item),
    route(_BASE + "/{key}", delete_meta_item, "DELETE"),
]
