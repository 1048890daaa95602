"""/v2/images/{id}/members: share an image with another project; accept or reject it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.image.api import schemas
from ministack.image.api.common import image_id, route, sharing_of


async def list_members(request: Request) -> Response:
    auth = await require_auth(request)
    members = await sharing_of(request).list(auth, image_id(request))
    return json_response({"members": members, "schema": "/v2/schemas/members"})


async def create_member(request: Request) -> Response:
    auth = await require_auth(request)
    member = validation.body(request)["member"]
    return json_response(await sharing_of(request).add(auth, image_id(request), member))


async def show_member(request: Request) -> Response:
    auth = await require_auth(request)
    member = request.path_params["member_id"]
    return json_response(await sharing_of(request).show(auth, image_id(request), member))


async def update_member(request: Request) -> Response:
    auth = await require_auth(request)
    status = validation.body(request)["status"]
    member = request.path_params["member_id"]
    updated = await sharing_of(request).set_status(auth, image_id(request), member, status)
    return json_response(updated)


async def delete_member(request: Request) -> Response:
    auth = await require_auth(request)
    await sharing_of(request).remove(auth, image_id(request), request.path_params["member_id"])
    return empty_response()


_MEMBERS = "/v2/images/{image_id}/members"
ROUTES: list[BaseRoute] = [
    route(_MEMBERS, list_members, "GET"),
    route(_MEMBERS, create_member, "POST", body=schemas.create_member),
    route(_MEMBERS + "/{member_id}", show_member, "GET"),
    route(_MEMBERS + "/{member_id}", update_member, "PUT", body=schemas.update_member),
    route(_MEMBERS + "/{member_id}", delete_member, "DELETE"),
]
