"""Nova's image proxy: /v2.1/images (list, detail, show, delete), microversions 2.1 to 2.35;
Nova answers 404 from 2.36 on, and so does this. The image service decides, with the caller's
own rights, what is visible (404) and what may be deleted (403); `compute/image_proxy.py`
speaks to it. Views are Nova's: status ACTIVE/SAVING/DELETED/ERROR/UNKNOWN, progress, minRam,
minDisk, metadata, OS-EXT-IMG-SIZE:size, the snapshot's server, links."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.compute import image_proxy
from ministack.compute.api.common import api_of, base_url, links, route, version
from ministack.image.client import UserImageApi, properties_of

REMOVED = (2, 36)
STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}


async def user_images(request: Request) -> UserImageApi:
    """The image service as the caller; 404 from microversion 2.36 (the proxy is gone)."""
    auth = await require_auth(request)
    if version(request) >= REMOVED:
        raise errors.NotFound("The resource could not be found.")
    token = request.headers.get("x-auth-token", "")
    return api_of(request).images.for_user(auth, token)


def _links(request: Request, image_id: str) -> list[dict[str, str]]:
    alternate = f"{api_of(request).images.image_url}/images/{image_id}"
    return [
        *links(request, "images", image_id),
        {"rel": "alternate", "type": "application/vnd.openstack.image", "href": alternate},
    ]


def brief(request: Request, image: dict[str, Any]) -> dict[str, Any]:
    return {"id": image["id"], "name": image.get("name"), "links": _links(request, image["id"])}


def detail(request: Request, image: dict[str, Any]) -> dict[str, Any]:
    """One image as Nova's detailed view shows it."""
    meta = properties_of(image)
    status = str(image.get("status"))
    body: dict[str, Any] = {
        "id": image["id"],
        "name": image.get("name"),
        "minRam": int(image.get("min_ram") or 0),
        "minDisk": int(image.get("min_disk") or 0),
        "metadata": meta,
        "created": image.get("created_at"),
        "updated": image.get("updated_at"),
        "status": STATUS.get(status, "UNKNOWN"),
        "progress": PROGRESS.get(status, 0),
        "OS-EXT-IMG-SIZE:size": image.get("size"),
        "links": _links(request, image["id"]),
    }
    server = meta.get("instance_uuid")
    if server is not None:
        body["server"] = {"id": server, "links": links(request, "servers", server)}
    disk_config = meta.get("auto_disk_config")
    if disk_config is not None:
        auto = disk_config.strip().lower() in ("1", "t", "true", "on", "y", "yes")
        body["OS-DCF:diskConfig"] = "AUTO" if auto else "MANUAL"
    return body


async def _list(request: Request, full: bool) -> Response:
    user = await user_images(request)
    found, more = await image_proxy.list_images(user, request.query_params)
    render = detail if full else brief
    body: dict[str, Any] = {"images": [render(request, i) for i in found]}
    if more:
        path = "images/detail" if full else "images"
        limit = request.query_params["limit"]
        href = f"{base_url(request)}/v2.1/{path}?limit={limit}&marker={found[-1]['id']}"
        body["images_links"] = [{"rel": "next", "href": href}]
    return json_response(body)


async def list_images(request: Request) -> Response:
    return await _list(request, full=False)


async def list_images_detail(request: Request) -> Response:
    return await _list(request, full=True)


async def show_image(request: Request) -> Response:
    user = await user_images(request)
    image = await image_proxy.show(user, request.path_params["image_id"])
    return json_response({"image": detail(request, image)})


async def delete_image(request: Request) -> Response:
    user = await user_images(request)
    await image_proxy.delete(user, request.path_params["image_id"])
    return empty_response(204)


ROUTES: list[BaseRoute] = [
    route("/v2.1/images", list_images, "GET"),
    route("/v2.1/images/detail", list_images_detail, "GET"),
    route("/v2.1/images/{image_id}", show_image, "GET"),
    route("/v2.1/images/{image_id}", delete_image, "DELETE"),
]
