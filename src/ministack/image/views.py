"""Wire views: an image, a member and a list page rendered exactly as Glance renders them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.image import locations
from ministack.image.models import Image, ImageMember, ImageProperty, ImageTag


def timestamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_view(img: Image, props: dict[str, str], tags: list[str]) -> dict[str, Any]:
    """One image as Glance v2 shows it: base attributes, then additional properties."""
    body: dict[str, Any] = {
        "id": img.id,
        "name": img.name,
        "status": img.status,
        "visibility": img.visibility,
        "protected": img.protected,
        "os_hidden": img.os_hidden,
        "checksum": img.checksum,
        "os_hash_algo": img.os_hash_algo,
        "os_hash_value": img.os_hash_value,
        "owner": img.owner,
        "size": img.size,
        "virtual_size": img.virtual_size,
        "min_ram": img.min_ram,
        "min_disk": img.min_disk,
        "disk_format": img.disk_format,
        "container_format": img.container_format,
        "created_at": timestamp(img.created_at),
        "updated_at": timestamp(img.updated_at),
        "tags": sorted(tags),
        "self": f"/v2/images/{img.id}",
        "file": f"/v2/images/{img.id}/file",
        "schema": "/v2/schemas/image",
    }
    if img.location:  # as multi-store Glance lists where the data is
        body["stores"] = ",".join(locations.parse(img.location))
    for key, value in props.items():
        body.setdefault(key, value)
    return body


def member_view(member: ImageMember) -> dict[str, Any]:
    return {
        "created_at": timestamp(member.created_at),
        "image_id": member.image_id,
        "member_id": member.member,
        "schema": "/v2/schemas/member",
        "status": member.status,
        "updated_at": timestamp(member.updated_at),
    }


async def extras(
    s: AsyncSession, ids: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Additional properties and tags of these images, in two queries."""
    props: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return props, tags
    for p in (
        await s.execute(select(ImageProperty).where(ImageProperty.image_id.in_(ids)))
    ).scalars():
        props[p.image_id][p.name] = p.value
    for t in (await s.execute(select(ImageTag).where(ImageTag.image_id.in_(ids)))).scalars():
        tags[t.image_id].append(t.value)
    return props, tags


async def render_one(s: AsyncSession, img: Image) -> dict[str, Any]:
    props, tags = await extras(s, [img.id])
    return image_view(img, props[img.id], tags[img.id])
