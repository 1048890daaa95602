"""/v2/images and /v2/images/{id}: list, create, show, update (JSON patch), delete; tags;
deactivate and reactivate."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.image import attrs
from ministack.image.api import schemas
from ministack.image.api.common import PATCH_TYPES, core_of, image_id, read_body, route
from ministack.image.listing import list_images


async def list_images_handler(request: Request) -> Response:
    auth = await require_auth(request)
    async with core_of(request).db.session() as s:
        body = await list_images(s, auth, request.query_params)
    return json_response(body)


async def create_image(request: Request) -> Response:
    auth = await require_auth(request)
    image = await core_of(request).create(auth, validation.body(request))
    headers = {
        "Location": f"{str(request.base_url).rstrip('/')}/v2/images/{image['id']}",
        "OpenStack-image-import-methods": ",".join(core_of(request).stores.import_methods),
        "OpenStack-image-store-ids": ",".join(core_of(request).stores.ids),
    }
    return json_response(image, status=201, headers=headers)


async def show_image(request: Request) -> Response:
    auth = await require_auth(request)
    return json_response(await core_of(request).show(auth, image_id(request)))


async def update_image(request: Request) -> Response:
    auth = await require_auth(request)
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media not in PATCH_TYPES:
        raise errors.UnsupportedMediaType(
            f"Content-Type {media or 'missing'!r} is not supported for PATCH; use "
            f"{PATCH_TYPES[0]}.",
            headers={"Accept-Patch": ", ".join(PATCH_TYPES)},
        )
    ops = attrs.parse_patch(await read_body(request))
    return json_response(await core_of(request).update(auth, image_id(request), ops))


async def delete_image(request: Request) -> Response:
    auth = await require_auth(request)
    await core_of(request).delete(auth, image_id(request))
    return empty_response()


async def add_tag(request: Request) -> Response:
    auth = await require_auth(request)
    await core_of(request).set_tag(auth, image_id(request), request.path_params["tag"], True)
    return empty_response()


async def delete_tag(request: Request) -> Response:
    auth = await require_auth(request)
    await core_of(request).set_tag(auth, image_id(request), request.path_params["tag"], False)
    return empty_response()


async def deactivate_image(request: Request) -> Response:
    auth = await require_auth(request)
    await core_of(request).set_active(auth, image_id(request), False)
    return empty_response()


async def reactivate_image(request: Request) -> Response:
    auth = await require_auth(request)
    await core_of(request).set_active(auth, image_id(request), True)
    return empty_response()


_ONE = "/v2/images/{image_id}"
ROUTES: list[BaseRoute] = [
    route("/v2/images", list_images_handler, "GET", query=schemas.list_images),
    route("/v2/images", create_image, "POST", body=schemas.create_image),
    route(_ONE, show_image, "GET"),
    route(_ONE, update_image, "PATCH"),
    route(_ONE, delete_image, "DELETE"),
    route(_ONE + "/tags/{tag}", add_tag, "PUT"),
    route(_ONE + "/tags/{tag}", delete_tag, "DELETE"),
    route(_ONE + "/actions/deactivate", deactivate_image, "POST"),
    route(_ONE + "/actions/reactivate", reactivate_image, "POST"),
]
