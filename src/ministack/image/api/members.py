"""/v2/images/{id}/members: share an image with another project; accept or reject it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.image.api.common import image_id, read_object, sharing_of


async def list_members(request: Request) -> Response:
    auth = await require_auth(request)
    members = await sharing_of(request).list(auth, image_id(request))
    return json_response({"members": members, "schema": "/v2/schemas/members"})


async def create_member(request: Request) -> Response:
    auth = await require_auth(request)
    body = await read_object(request)
    return json_response(await sharing_of(request).add(auth, image_id(request), body.get("member")))


async def show_member(request: Request) -> Response:
    auth = await require_auth(request)
    member = request.path_params["member_id"]
    return json_response(await sharing_of(request).show(auth, image_id(request), member))


async def update_member(request: Request) -> Response:
    auth = await require_auth(request)
    body = await read_object(request)
    member = request.path_params["member_id"]
    updated = await sharing_of(request).set_status(
        auth, image_id(request), member, body.get("status")
    )
    return json_response(updated)


async def delete_member(request: Request) -> Response:
    auth = await require_auth(request)
    await sharing_of(request).remove(auth, image_id(request), request.path_params["member_id"])
    return empty_response()


ROUTES = [
    Route("/v2/images/{image_id}/members", list_members, methods=["GET"]),
    Route("/v2/images/{image_id}/members", create_member, methods=["POST"]),
    Route("/v2/images/{image_id}/members/{member_id}", show_member, methods=["GET"]),
    Route("/v2/images/{image_id}/members/{member_id}", update_member, methods=["PUT"]),
    Route("/v2/images/{image_id}/members/{member_id}", delete_member, methods=["DELETE"]),
]
