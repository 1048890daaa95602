"""Nova's image proxy (/v2.1/images, up to microversion 2.35): what it asks of the image
service, with the caller's own rights (`Images.for_user`), in Glance's terms.

Sits between the handlers (`api/images.py`, `api/image_metadata.py`) and the image client:
Nova's list filters become Glance's (`server` is the `instance_uuid` property, `type` the
`image_type` property, `changes-since` an `updated_at` range, statuses lower-case), metadata
is the image's additional properties, and a metadata write is one JSON patch after the
`metadata_items` quota check (403 as Nova). A missing image is Nova's 404 "Image not found.".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ministack.common import errors
from ministack.image.client import UserImageApi, properties_of

# Nova's query parameter -> Glance's filter (both exact matches)
FILTERS = {"name": "name", "status": "status", "server": "instance_uuid", "type": "image_type"}
PAGE = 1000  # Glance's largest page


def glance_params(query: Mapping[str, str]) -> dict[str, str]:
    """Glance's query for Nova's (unknown parameters are ignored, as Nova does)."""
    params: dict[str, str] = {}
    for nova, glance in FILTERS.items():
        if nova in query:
            value = query[nova]
            if nova == "server":
                value = value.rstrip("/").rsplit("/", 1)[-1]  # a server URL or its id
            params[glance] = value.lower() if nova == "status" else value
    for key, value in query.items():
        if key.startswith("property-"):
            params[key.removeprefix("property-")] = value
    if "changes-since" in query:
        params["updated_at"] = f"gte:{query['changes-since']}"
    if "marker" in query:
        params["marker"] = query["marker"]
    return params


def _at_least(image: dict[str, Any], query: Mapping[str, str]) -> bool:
    for nova, glance in (("minRam", "min_ram"), ("minDisk", "min_disk")):
        if nova in query and int(image.get(glance) or 0) < _int(query[nova], nova):
            return False
    return True


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} filter: {raw!r} is not an integer.") from None


async def list_images(user: UserImageApi, query: Mapping[str, str]) -> tuple[list[Any], bool]:
    """The images the caller sees matching Nova's filters, and whether a `limit` cut the
    list short (a next link follows). Without `limit` every page is read."""
    params = glance_params(query)
    limit = _int(query["limit"], "limit") if "limit" in query else None
    if limit is not None and limit < 0:
        raise errors.BadRequest("limit must be 0 or more.")
    found: list[Any] = []
    while True:
        want = PAGE if limit is None else min(PAGE, limit - len(found))
        if want <= 0:
            break
        page = await _call(user.list_page({**params, "limit": str(want)}))
        images = page.get("images", [])
        found += [i for i in images if _at_least(i, query)]
        if len(images) < want or "next" not in page:
            break
        params["marker"] = images[-1]["id"]
    return found, limit is not None and len(found) >= limit > 0


async def _call(awaitable: Any) -> Any:
    try:
        return await awaitable
    except errors.NotFound:
        raise errors.NotFound("Image not found.") from None


async def show(user: UserImageApi, image_id: str) -> dict[str, Any]:
    image: dict[str, Any] = await _call(user.get(image_id))
    return image


async def delete(user: UserImageApi, image_id: str) -> None:
    await _call(user.delete(image_id))


async def metadata(user: UserImageApi, image_id: str) -> dict[str, str]:
    return properties_of(await show(user, image_id))


async def write_metadata(
    user: UserImageApi, image_id: str, new: dict[str, str], replace: bool, limit: int
) -> dict[str, str]:
    """Merge `new` into the image's metadata (or replace it all); the metadata after.
    403 when the result has more than `limit` items (-1: no limit)."""
    current = await metadata(user, image_id)
    result = dict(new) if replace else {**current, **new}
    if 0 <= limit < len(result):
        raise errors.Forbidden("Image metadata limit exceeded")
    remove = [k for k in current if k not in result] if replace else []
    return properties_of(await _call(user.set_properties(image_id, new, remove)))


async def delete_meta(user: UserImageApi, image_id: str, key: str) -> None:
    """Remove one metadata item; 404 when the image does not have it."""
    if key not in await metadata(user, image_id):
        raise errors.NotFound(f"The image metadata key {key} was not found.")
    await _call(user.set_properties(image_id, {}, [key]))
