"""/v2/images/{id}/file, /stage and /import: image data in and out, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response
from ministack.image.api import schemas
from ministack.image.api.common import data_of, declared_size, image_id, imports_of, route

# PUT bodies on these paths are image data and bypass the JSON body limit.
UNLIMITED_PATH = r"^/v2/images/[^/]+/(file|stage)$"


def _check_media(request: Request) -> None:
    media = request.headers.get("content-type", "application/octet-stream").split(";")[0]
    if media.strip() not in ("application/octet-stream", ""):
        raise errors.UnsupportedMediaType(
            f"Image data must be sent as application/octet-stream, not {media!r}."
        )


async def upload_image(request: Request) -> Response:
    auth = await require_auth(request)
    _check_media(request)
    try:
        await data_of(request).upload(
            auth,
            image_id(request),
            request.stream(),
            declared_size(request),
            request.headers.get("x-image-meta-store"),
        )
    except ClientDisconnect:
        return empty_response(400)  # nobody is listening; the image is queued again
    return empty_response()


async def stage_image(request: Request) -> Response:
    auth = await require_auth(request)
    _check_media(request)
    try:
        await data_of(request).stage(
            auth, image_id(request), request.stream(), declared_size(request)
        )
    except ClientDisconnect:
        return empty_response(400)
    return empty_response()


async def import_image(request: Request) -> Response:
    auth = await require_auth(request)
    await imports_of(request).start(
        auth, image_id(request), validation.body(request), request.headers.get("x-image-meta-store")
    )
    return empty_response(202)


async def download_image(request: Request) -> Response:
    auth = await require_auth(request)
    got = await data_of(request).download(auth, image_id(request), request.headers.get("range"))
    if got.chunks is None:
        return empty_response(204)
    headers = {"Content-Length": str(got.end - got.start + 1), "Accept-Ranges": "bytes"}
    status = 200
    if got.partial:
        status = 206
        headers["Content-Range"] = f"bytes {got.start}-{got.end}/{got.size}"
    elif got.checksum:
        headers["Content-MD5"] = got.checksum
    return StreamingResponse(
        _close_after(got.chunks),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )


async def _close_after(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


ROUTES = [
    Route("/v2/images/{image_id}/file", upload_image, methods=["PUT"]),
    Route("/v2/images/{image_id}/file", download_image, methods=["GET"]),
    Route("/v2/images/{image_id}/stage", stage_image, methods=["PUT"]),
    route("/v2/images/{image_id}/import", import_image, "POST", body=schemas.import_image),
]
