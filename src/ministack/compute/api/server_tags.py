"""Server tags (microversion 2.26): /servers/{id}/tags and /servers/{id}/tags/{tag}. The
queries the server list and views use are in `compute.tags`. A server holds at most 50 tags;
tags change only in a settled vm_state (active, paused, suspended, stopped, shelved)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common import params as p
from ministack.common.db import Database
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, base_url, caller, route, version
from ministack.compute.api.servers import load
from ministack.compute.tags import SINCE, tags_of

MAX_TAGS = 50
_SETTLED = ("active", "paused", "suspended", "stopped", "shelved", "shelved_offloaded")
_TAG = validation.compile_schema(p.tag)


async def _server(request: Request, action: str, write: bool) -> m.Instance:
    auth = await caller(request, f"os_compute_api:os-server-tags:{action}")
    if version(request) < SINCE:
        raise errors.NotFound("The resource could not be found.")
    inst = await load(request, auth)
    if write and inst.vm_state not in _SETTLED:
        raise errors.Conflict(
            f"Cannot '{action}' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
        )
    return inst


async def _current(db: Database, uuid: str) -> list[str]:
    return (await tags_of(db, [uuid])).get(uuid, [])


async def list_tags(request: Request) -> Response:
    inst = await _server(request, "index", write=False)
    return json_response({"tags": await _current(api_of(request).db, inst.uuid)})


async def show_tag(request: Request) -> Response:
    inst = await _server(request, "show", write=False)
    tag = request.path_params["tag"]
    if tag not in await _current(api_of(request).db, inst.uuid):
        raise errors.NotFound(f"Tag {tag} could not be found for instance {inst.uuid}.")
    return empty_response(204)


def _too_many(count: int) -> errors.ApiError:
    return errors.BadRequest(
        f"The number of tags exceeded the per-server limit {MAX_TAGS}: {count} requested."
    )


async def replace_tags(request: Request) -> Response:
    inst = await _server(request, "update_all", write=True)
    tags = sorted(set(validation.body(request)["tags"]))  # checked by schemas.replace_tags
    if len(tags) > MAX_TAGS:
        raise _too_many(len(tags))
    async with api_of(request).db.writer() as s:
        await s.execute(delete(m.InstanceTag).where(m.InstanceTag.instance_uuid == inst.uuid))
        s.add_all(m.InstanceTag(instance_uuid=inst.uuid, tag=t) for t in tags)
    return json_response({"tags": tags})


async def add_tag(request: Request) -> Response:
    inst = await _server(request, "update", write=True)
    tag = request.path_params["tag"]
    if not _TAG.fast_accepts(tag):
        raise errors.BadRequest(f"Tag '{tag}' is invalid: 1 to 60 characters without '/' or ','.")
    async with api_of(request).db.writer() as s:
        if await s.get(m.InstanceTag, (inst.uuid, tag)) is not None:
            return empty_response(204)
        count = await s.scalar(select(func.count()).where(m.InstanceTag.instance_uuid == inst.uuid))
        if (count or 0) >= MAX_TAGS:
            raise _too_many((count or 0) + 1)
        s.add(m.InstanceTag(instance_uuid=inst.uuid, tag=tag))
    location = f"{base_url(request)}/v2.1/servers/{inst.uuid}/tags/{tag}"
    response = empty_response(201)
    response.headers["Location"] = location
    return response


async def delete_tag(request: Request) -> Response:
    inst = await _server(request, "delete", write=True)
    tag = request.path_params["tag"]
    async with api_of(request).db.writer() as s:
        row = await s.get(m.InstanceTag, (inst.uuid, tag))
        if row is None:
            raise errors.NotFound(f"Tag {tag} could not be found for instance {inst.uuid}.")
        await s.delete(row)
    return empty_response(204)


async def delete_tags(request: Request) -> Response:
    inst = await _server(request, "delete_all", write=True)
    async with api_of(request).db.writer() as s:
        await s.execute(delete(m.InstanceTag).where(m.InstanceTag.instance_uuid == inst.uuid))
    return empty_response(204)


_TAGS = "/v2.1/servers/{server_id}/tags"
ROUTES: list[BaseRoute] = [
    route(_TAGS, list_tags, "GET"),
    route(_TAGS, replace_tags, "PUT", body=schemas.replace_tags),
    route(_TAGS, delete_tags, "DELETE"),
    route(_TAGS + "/{tag}", show_tag, "GET"),
    route(_TAGS + "/{tag}", add_tag, "PUT"),
    route(_TAGS + "/{tag}", delete_tag, "DELETE"),
]
