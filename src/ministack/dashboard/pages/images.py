"""Images: list, create with an upload from the browser, edit, delete (the image API v2).

An upload takes two requests from the page's script: ``POST /project/images/create`` makes
the image record (``POST /v2/images``) and answers its id; ``PUT /project/images/{id}/data``
then streams the browser's request body straight into ``PUT /v2/images/{id}/file``, chunk by
chunk, so the dashboard never holds the whole file (the browser shows the upload's progress).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page

DISK_FORMATS = ("qcow2", "raw", "iso", "vmdk", "vdi", "vhd", "vhdx", "ami", "ari", "aki")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")
VISIBILITIES = ("private", "shared", "community", "public")
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


async def list_images(p: Page) -> Response:
    q = p.request.query_params
    limit = p.dash.settings.dashboard.page_size
    body, offers = await asyncio.gather(
        p.get("image", "/v2/images", limit=limit, marker=q.get("marker", "")),
        p.get("image", "/v2/images", visibility="shared", member_status="pending"),
    )
    images = body.get("images", [])
    return p.render(
        "images.html",
        images=images,
        offers=[i for i in offers.get("images", []) if i.get("owner") != p.login.project_id],
        next_marker=images[-1]["id"] if len(images) == limit else "",
    )


async def create_form(p: Page) -> Response:
    return p.render(
        "image_create.html",
        disk_formats=DISK_FORMATS,
        container_formats=CONTAINER_FORMATS,
        visibilities=VISIBILITIES,
    )


def _int(text: str, name: str) -> int:
    if not text:
        return 0
    if not text.isdigit():
        raise ApiError(400, f"{name} must be a whole number.")
    return int(text)


async def create_image(p: Page) -> Response:
    """Make the image record; the page's script then uploads the file to `upload_url`."""
    form = await p.form()
    body: dict[str, Any] = {
        "name": field(form, "name"),
        "disk_format": field(form, "disk_format"),
        "container_format": field(form, "container_format"),
        "visibility": field(form, "visibility") or "private",
        "min_disk": _int(field(form, "min_disk"), "Minimum disk"),
        "min_ram": _int(field(form, "min_ram"), "Minimum RAM"),
    }
    image = await p.call("image", "POST", "/v2/images", json=body)
    if "application/json" in p.request.headers.get("accept", ""):
        return JSONResponse(
            {"id": image["id"], "upload_url": f"/project/images/{image['id']}/data"}, 201
        )
    return p.redirect("/project/images", ok=f"Image {image['name']} created (no data yet).")


async def upload_data(p: Page) -> Response:
    """Stream the request body to the image service as it arrives."""
    image_id = p.request.path_params["image_id"]

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in p.request.stream():
            if chunk:
                yield chunk

    headers = {"Content-Type": "application/octet-stream"}
    length = p.request.headers.get("content-length")
    if length and length.isdigit():
        headers["Content-Length"] = length
    try:
        await p.cloud.send(
            p.login,
            "image",
            "PUT",
            f"/v2/images/{image_id}/file",
            content=chunks(),
            headers=headers,
        )
    except ApiError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    p.session.say("ok", "Image uploaded.")
    return JSONResponse({"id": image_id, "done": True})


async def edit_form(p: Page) -> Response:
    image = await p.get("image", f"/v2/images/{p.request.path_params['image_id']}")
    return p.render("image_edit.html", image=image, visibilities=VISIBILITIES)


async def edit_image(p: Page) -> Response:
    image_id = p.request.path_params["image_id"]
    form = await p.form()
    ops = [
        {"op": "replace", "path": "/name", "value": field(form, "name")},
        {"op": "replace", "path": "/visibility", "value": field(form, "visibility")},
        {"op": "replace", "path": "/min_disk", "value": _int(field(form, "min_disk"), "Min disk")},
        {"op": "replace", "path": "/min_ram", "value": _int(field(form, "min_ram"), "Min RAM")},
        {"op": "replace", "path": "/protected", "value": field(form, "protected") == "on"},
    ]
    await p.call(
        "image", "PATCH", f"/v2/images/{image_id}", json=ops, headers={"Content-Type": PATCH_TYPE}
    )
    return p.redirect("/project/images", ok="Image updated.")


async def delete_image(p: Page) -> Response:
    await p.call("image", "DELETE", f"/v2/images/{p.request.path_params['image_id']}")
    return p.redirect("/project/images", ok="Image deleted.")


ROUTES = [
    page("/project/images", list_images),
    page("/project/images/create", create_form),
    page("/project/images/create", create_image, ["POST"]),
    page("/project/images/{image_id}/data", upload_data, ["PUT"]),
    page("/project/images/{image_id}/edit", edit_form),
    page("/project/images/{image_id}/edit", edit_image, ["POST"]),
    page("/project/images/{image_id}/delete", delete_image, ["POST"]),
]
