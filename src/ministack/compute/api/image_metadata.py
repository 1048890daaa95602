"""Nova's image metadata proxy: /v2.1/images/{id}/metadata and /metadata/{key}, microversions
2.1 to 2.35 (404 from 2.36). The metadata is the image's additional properties, changed with
the caller's rights in the image service; more than the project's `metadata_items` is 403."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.validation import Versions
from ministack.common.web import empty_response, json_response
from ministack.compute import image_proxy, quotas
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, route
from ministack.compute.api.images import user_images


def _image_id(request: Request) -> str:
    value: str = request.path_params["image_id"]
    return value


async def show_metadata(request: Request) -> Response:
    user = await user_images(request)
    return json_response({"metadata": await image_proxy.metadata(user, _image_id(request))})


async def _limit(request: Request) -> int:
    auth = await require_auth(request)
    if auth.project_id is None:
        return -1  # a system token has no project quota
    async with api_of(request).db.session() as s:
        return int((await quotas.limits(s, auth.project_id))["metadata_items"])


async def _write(request: Request, replace: bool, key: str | None = None) -> dict[str, str]:
    user = await user_images(request)
    data = validation.body(request)  # checked by schemas.set_metadata / set_meta_item
    new: dict[str, str] = dict(data["meta"] if key is not None else data["metadata"])
    if key is not None and list(new) != [key]:
        raise errors.BadRequest("Request body and URI mismatch")
    limit = await _limit(request)
    return await image_proxy.write_metadata(user, _image_id(request), new, replace, limit)


async def update_metadata(request: Request) -> Response:
    return json_response({"metadata": await _write(request, replace=False)})


async def replace_metadata(request: Request) -> Response:
    return json_response({"metadata": await _write(request, replace=True)})


async def show_meta_item(request: Request) -> Response:
    user = await user_images(request)
    key = request.path_params["key"]
    found = await image_proxy.metadata(user, _image_id(request))
    if key not in found:
        raise errors.NotFound("Invalid metadata key")
    return json_response({"meta": {key: found[key]}})


async def set_meta_item(request: Request) -> Response:
    key = request.path_params["key"]
    done = await _write(request, replace=False, key=key)
    return json_response({"meta": {key: done[key]}})


async def delete_meta_item(request: Request) -> Response:
    user = await user_images(request)
    await image_proxy.delete_meta(user, _image_id(request), request.path_params["key"])
    return empty_response(204)


# from 2.36 the handler answers 404 whatever the body (the proxy is gone)
_SET = Versions({"2.1": schemas.set_metadata, "2.36": None})
_ITEM = Versions({"2.1": schemas.set_meta_item, "2.36": None})
_BASE = "/v2.1/images/{image_id}/metadata"
ROUTES: list[BaseRoute] = [
    route(_BASE, show_metadata, "GET"),
    route(_BASE, update_metadata, "POST", body=_SET),
    route(_BASE, replace_metadata, "PUT", body=_SET),
    route(_BASE + "/{key}", show_meta_item, "GET"),
    route(_BASE + "/{key}", set_meta_item, "PUT", body=_ITEM),
    route(_BASE + "/{key}", delete_meta_item, "DELETE"),
]
