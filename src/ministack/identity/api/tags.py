"""Project tags one by one and as a list (``/v3/projects/{id}/tags[/{tag}]``), and regions
created with a chosen id (``PUT /v3/regions/{id}``), as Keystone serves them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common import params as p
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api.crud import base_url, core_of, parse_fields, route
from ministack.identity.api.resources import REGIONS, render_region

MAX_TAGS = 80  # Keystone's limit per project
TAG = p.string(1, 255, format="text", pattern="^[^,/]+$")  # Keystone: no comma, no slash
set_tags = p.obj({"tags": p.array(TAG, max_items=MAX_TAGS)}, required=("tags",))
create_region = p.envelope(
    "region",
    p.obj(
        {
            "description": {"type": "string", "maxLength": 65535, "format": "text"},
            "parent_region_id": p.nullable({"type": "string", "maxLength": 255}),
        },
        additional=True,
    ),
)


def _check_tag(tag: str) -> str:
    if not tag or len(tag) > 255 or "," in tag or "/" in tag:
        raise errors.BadRequest(
            f"Invalid project tag {tag!r}: 1 to 255 characters, without ',' or '/'."
        )
    return tag


async def _tags(request: Request, action: str) -> tuple[str, list[str]]:
    """(project id, its tags) once the caller may do `action` on it; 404 for no project."""
    auth = await require_auth(request)
    project_id = request.path_params["project_id"]
    async with core_of(request).db.session() as s:
        project = await s.get(m.Project, project_id)
    target = {"project_id": project_id, "domain_id": project.domain_id if project else None}
    policies.authorize(auth, action, target)
    if project is None:
        raise errors.NotFound(f"Could not find project: {project_id}.")
    return project_id, list(project.tags or [])


async def _store(request: Request, project_id: str, tags: list[str]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.BadRequest(f"A project has at most {MAX_TAGS} tags.")
    core = core_of(request)
    async with core.db.writer() as s:
        project = await s.get(m.Project, project_id)
        if project is None:
            raise errors.NotFound(f"Could not find project: {project_id}.")
        project.tags = tags
        await core.bump(s)


def _tags_body(request: Request, project_id: str, tags: list[str]) -> dict[str, Any]:
    return {"tags": tags, "links": {"self": f"{base_url(request)}/v3/projects/{project_id}/tags"}}


async def list_tags(request: Request) -> Response:
    project_id, tags = await _tags(request, "identity:get_project_tags")
    return json_response(_tags_body(request, project_id, tags))


async def replace_tags(request: Request) -> Response:
    project_id, _old = await _tags(request, "identity:update_project_tags")
    tags = list(dict.fromkeys(validation.body(request)["tags"]))
    await _store(request, project_id, tags)
    return json_response(_tags_body(request, project_id, tags))


async def clear_tags(request: Request) -> Response:
    project_id, _old = await _tags(request, "identity:delete_project_tags")
    await _store(request, project_id, [])
    return empty_response()


async def check_tag(request: Request) -> Response:
    _project_id, tags = await _tags(request, "identity:get_project_tag")
    if _check_tag(request.path_params["tag"]) not in tags:
        raise errors.NotFound(f"Could not find project tag: {request.path_params['tag']}.")
    return empty_response()


async def add_tag(request: Request) -> Response:
    """201 with the tag's Location (Keystone answers no body); idempotent."""
    project_id, tags = await _tags(request, "identity:create_project_tag")
    tag = _check_tag(request.path_params["tag"])
    if tag not in tags:
        await _store(request, project_id, [*tags, tag])
    location = f"{base_url(request)}/v3/projects/{project_id}/tags/{tag}"
    return empty_response(201, headers={"Location": location})


async def delete_tag(request: Request) -> Response:
    project_id, tags = await _tags(request, "identity:delete_project_tag")
    tag = request.path_params["tag"]
    if tag not in tags:
        raise errors.NotFound(f"Could not find project tag: {tag}.")
    await _store(request, project_id, [t for t in tags if t != tag])
    return empty_response()


async def put_region(request: Request) -> Response:
    """Create the region with the id of the path; 409 when it exists."""
    auth = await require_auth(request)
    policies.authorize(auth, "identity:create_region")
    region_id = request.path_params["region_id"]
    if not region_id or len(region_id) > 255:
        raise errors.BadRequest("Invalid region id: 1 to 255 characters.")
    obj = validation.body(request)["region"]
    if obj.get("id") not in (None, region_id):
        raise errors.BadRequest("Invalid input for field 'region.id': it differs from the URL's.")
    row = m.Region(id=region_id, **parse_fields(REGIONS, obj, create=True))
    core = core_of(request)
    try:
        async with core.db.writer() as s:
            if row.parent_region_id and await s.get(m.Region, row.parent_region_id) is None:
                raise errors.NotFound(f"Could not find region: {row.parent_region_id}.")
            s.add(row)
            await s.flush()
            await core.bump(s)
    except IntegrityError:
        raise errors.Conflict(
            f"Conflict occurred attempting to store region - Duplicate ID, {region_id}."
        ) from None
    return json_response({"region": render_region(row, base_url(request))}, status=201)


_TAGS = "/v3/projects/{project_id}/tags"
ROUTES = [
    route(_TAGS, list_tags, "GET"),
    route(_TAGS, replace_tags, "PUT", body=set_tags),
    route(_TAGS, clear_tags, "DELETE"),
    route(_TAGS + "/{tag}", check_tag, "GET"),
    route(_TAGS + "/{tag}", add_tag, "PUT"),
    route(_TAGS + "/{tag}", delete_tag, "DELETE"),
    route("/v3/regions/{region_id}", put_region, "PUT", body=create_region),
]
