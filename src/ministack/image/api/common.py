"""Helpers every image handler shares: the service objects on the app and body parsing."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ministack.common import errors
from ministack.common.auth import require_auth
from ministack.common.validation import Router
from ministack.image import constants as c
from ministack.image.core import ImageCore
from ministack.image.data import ImageData
from ministack.image.imports import Imports
from ministack.image.sharing import Sharing

PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)


# Declares the image API's routes with their request schemas (image.api.schemas)
route = Router(authenticate=require_auth)


def core_of(request: Request) -> ImageCore:
    core: ImageCore = request.app.state.core
    return core


def data_of(request: Request) -> ImageData:
    data: ImageData = request.app.state.data
    return data


def imports_of(request: Request) -> Imports:
    imports: Imports = request.app.state.imports
    return imports


def sharing_of(request: Request) -> Sharing:
    sharing: Sharing = request.app.state.sharing
    return sharing


def image_id(request: Request) -> str:
    value: str = request.path_params["image_id"]
    return value


async def read_body(request: Request) -> Any:
    """The JSON body (any JSON value); 400 when empty or malformed, 413 when too big."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > c.MAX_JSON_BODY:
            raise errors.PayloadTooLarge(
                f"Request body exceeds the limit of {c.MAX_JSON_BODY} bytes."
            )
    if not raw:
        raise errors.BadRequest("The request body is empty; JSON was expected.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.BadRequest(f"The request body is not valid JSON: {exc}") from None


async def read_object(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    return body


def declared_size(request: Request) -> int | None:
    """The upload size the client announced (X-OpenStack-Image-Size or Content-Length)."""
    for header in ("x-openstack-image-size", "content-length"):
        raw = request.headers.get(header)
        if raw is not None:
            try:
                return int(raw)
            except ValueError:
                raise errors.BadRequest(f"{header} is not a number.") from None
    return None
