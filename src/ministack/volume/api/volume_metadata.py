"""A volume's metadata: list, set (merge), replace, show, update and delete one key."""

from __future__ import annotations

from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume.api import schemas
from ministack.volume.api.common import caller, core_of, route

MAX_ITEMS = 128


async def _write(request: Request, items: dict[str, str], replace: bool) -> Response:
    auth = await caller(request, "volume:update_volume_metadata")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, request.path_params["volume_id"])
        current = {} if replace else await core.metadata(s, row.id, "user")
        if len({**current, **items}) > MAX_ITEMS:
            raise errors.PayloadTooLarge(
                f"Maximum number of metadata items ({MAX_ITEMS}) exceeded for quota "
                "'metadata_items'."
            )
        await core.set_metadata(s, row.id, "user", items, replace=replace)
        return json_response({"metadata": await core.metadata(s, row.id, "user")})


async def list_metadata(request: Request) -> Response:
    auth = await caller(request, "volume:get_volume_metadata")
    core = core_of(request)
    async with core.db.session() as s:
        row = await core.volume(s, auth, request.path_params["volume_id"])
        return json_response({"metadata": await core.metadata(s, row.id, "user")})


async def set_metadata(request: Request) -> Response:
    return await _write(request, validation.body(request)["metadata"], replace=False)


async def replace_metadata(request: Request) -> Response:
    return await _write(request, validation.body(request)["metadata"], replace=True)


async def show_metadata_item(request: Request) -> Response:
    auth = await caller(request, "volume:get_volume_metadata")
    core = core_of(request)
    key = request.path_params["key"]
    async with core.db.session() as s:
        row = await core.volume(s, auth, request.path_params["volume_id"])
        meta = await core.metadata(s, row.id, "user")
    if key not in meta:
        raise errors.NotFound(f"Volume {row.id} has no metadata with key {key}.")
    return json_response({"meta": {key: meta[key]}})


async def update_metadata_item(request: Request) -> Response:
    item = validation.body(request)["meta"]
    if request.path_params["key"] not in item:
        raise errors.BadRequest("Request body and URI mismatch")
    await _write(request, item, replace=False)
    return json_response({"meta": item})


async def delete_metadata_item(request: Request) -> Response:
    auth = await caller(request, "volume:delete_volume_metadata")
    core = core_of(request)
    key = request.path_params["key"]
    async with core.db.writer() as s:
        row = await core.volume(s, auth, request.path_params["volume_id"])
        gone = await s.execute(
            delete(m.VolumeMetadata).where(
                m.VolumeMetadata.volume_id == row.id,
                m.VolumeMetadata.kind == "user",
                m.VolumeMetadata.key == key,
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise errors.NotFound(f"Volume {row.id} has no metadata with key {key}.")
    return empty_response(200)


P = "/v3/{project_id}/volumes/{volume_id}/metadata"
ROUTES = [
    route(P, list_metadata, "GET"),
    route(P, set_metadata, "POST", body=schemas.metadata_body),
    route(P, replace_metadata, "PUT", body=schemas.metadata_body),
    route(P + "/{key:path}", show_metadata_item, "GET"),
    route(P + "/{key:path}", update_metadata_item, "PUT", body=schemas.meta_item),
    route(P + "/{key:path}", delete_metadata_item, "DELETE"),
]
