"""GET /v2/images: Glance's filters, multi-key sort and marker pagination as one SQL query.

Without filters a project sees its own images, public ones and shared ones it accepted;
admin sees every image. Pages are keyset-paginated (sort keys + id), so a page costs the same
at image 10 and image 10,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.pagination import bool_param
from ministack.common.validation import parse_time_filter
from ministack.image import constants as c
from ministack.image import policies
from ministack.image.models import Image, ImageMember, ImageProperty, ImageTag
from ministack.image.views import extras, image_view

SORT_KEYS: dict[str, Any] = {
    "name": func.coalesce(Image.name, ""),
    "status": Image.status,
    "container_format": func.coalesce(Image.container_format, ""),
    "disk_format": func.coalesce(Image.disk_format, ""),
    "size": func.coalesce(Image.size, -1),
    "virtual_size": func.coalesce(Image.virtual_size, -1),
    "id": Image.id,
    "created_at": Image.created_at,
    "updated_at": Image.updated_at,
    "visibility": Image.visibility,
    "owner": func.coalesce(Image.owner, ""),
    "min_disk": Image.min_disk,
    "min_ram": Image.min_ram,
}
EQUALITY = {
    "id": Image.id,
    "name": Image.name,
    "status": Image.status,
    "owner": Image.owner,
    "disk_format": Image.disk_format,
    "container_format": Image.container_format,
}
NON_PROPERTY = {
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "visibility",
    "member_status",
    "tag",
    "size_min",
    "size_max",
    "protected",
    "os_hidden",
    "created_at",
    "updated_at",
}


def parse_sort(params: Any) -> list[tuple[str, bool]]:
    """[(key, descending)] from sort=k:dir,... or sort_key/sort_dir; default created_at desc."""
    keys: list[tuple[str, bool]] = []
    if params.get("sort"):
        if params.get("sort_key") or params.get("sort_dir"):
            raise errors.BadRequest("Use either 'sort' or 'sort_key'/'sort_dir', not both.")
        for part in params["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            keys.append((key, _direction(direction or "desc")))
    else:
        names = params.getlist("sort_key") if hasattr(params, "getlist") else []
        dirs = params.getlist("sort_dir") if hasattr(params, "getlist") else []
        for i, key in enumerate(names or ["created_at"]):
            keys.append((key, _direction(dirs[i] if i < len(dirs) else (dirs or ["desc"])[-1])))
    for key, _desc in keys:
        if key not in SORT_KEYS:
            raise errors.BadRequest(
                f"Invalid sort key {key!r}; allowed: {', '.join(sorted(SORT_KEYS))}."
            )
    if not any(k == "id" for k, _ in keys):
        keys.append(("id", keys[0][1]))
    return keys


def _direction(value: str) -> bool:
    if value not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid sort direction {value!r}: use asc or desc.")
    return value == "desc"


def _values(raw: str) -> list[str]:
    return raw[3:].split(",") if raw.startswith("in:") else [raw]


def _int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(
            f"Invalid value {raw!r} for '{name}': an integer is required."
        ) from None


def scope(auth: Auth, params: Mapping[str, str]) -> ColumnElement[bool]:
    """Which images the caller may list, given visibility and member_status."""
    visibility = params.get("visibility")
    member_status = params.get("member_status", "accepted")
    if visibility is not None and visibility not in (*c.VISIBILITIES, "all"):
        raise errors.BadRequest(f"Invalid visibility {visibility!r}.")
    if member_status not in (*c.MEMBER_STATUSES, "all"):
        raise errors.BadRequest(f"Invalid member_status {member_status!r}.")
    by_visibility = true() if visibility in (None, "all") else Image.visibility == visibility
    if auth.reads_all:  # an admin or a system reader sees every project's images
        return by_visibility
    project = auth.project_id
    membership = select(ImageMember.image_id).where(ImageMember.member == project)
    if member_status != "all":
        membership = membership.where(ImageMember.status == member_status)
    shared = and_(Image.visibility == "shared", Image.id.in_(membership))
    if visibility is None:
        return or_(Image.owner == project, Image.visibility == "public", shared)
    if visibility == "all":
        return or_(Image.owner == project, Image.visibility.in_(("public", "community")), shared)
    if visibility == "shared":
        return and_(by_visibility, or_(Image.owner == project, shared))
    if visibility == "private":
        return and_(by_visibility, Image.owner == project)
    return by_visibility


def filters(params: Any) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for name, column in EQUALITY.items():
        if params.get(name) is not None:
            out.append(column.in_(_values(params[name])))
    tags = params.getlist("tag") if hasattr(params, "getlist") else []
    for tag in tags:
        out.append(Image.id.in_(select(ImageTag.image_id).where(ImageTag.value == tag)))
    size_min, size_max = _int(params, "size_min"), _int(params, "size_max")
    if size_min is not None:
        out.append(Image.size >= size_min)
    if size_max is not None:
        out.append(Image.size <= size_max)
    protected = bool_param(params.get("protected"), "protected")
    if protected is not None:
        out.append(Image.protected == protected)
    hidden = bool_param(params.get("os_hidden"), "os_hidden")
    out.append(Image.os_hidden == (hidden or False))
    for name, stamp in (("created_at", Image.created_at), ("updated_at", Image.updated_at)):
        if params.get(name) is not None:
            out.append(_time_clause(stamp, name, params[name]))
    for name in params:
        if name not in NON_PROPERTY and name not in EQUALITY:
            out.append(
                Image.id.in_(
                    select(ImageProperty.image_id).where(
                        ImageProperty.name == name, ImageProperty.value == params[name]
                    )
                )
            )
    return out


def _time_clause(column: Any, name: str, raw: str) -> ColumnElement[bool]:
    parsed = parse_time_filter(raw)
    if parsed is None:  # the query schema refuses it first; kept for direct callers
        raise errors.BadRequest(f"Invalid value {raw!r} for '{name}'.")
    op, when = parsed
    clauses: dict[str, ColumnElement[bool]] = {
        "gt": column > when,
        "gte": column >= when,
        "lt": column < when,
        "lte": column <= when,
        "eq": column == when,
        "neq": column != when,
    }
    return clauses[op]


async def _after_marker(
    s: AsyncSession, marker: str, keys: list[tuple[str, bool]], seen: ColumnElement[bool]
) -> ColumnElement[bool]:
    exprs = [SORT_KEYS[k] for k, _ in keys]
    row = (await s.execute(select(*exprs).where(Image.id == marker, seen))).first()
    if row is None:
        raise errors.BadRequest(f"Marker {marker} could not be found.")
    clauses = []
    for i, (expr, (_key, desc)) in enumerate(zip(exprs, keys, strict=True)):
        equal = [exprs[j] == row[j] for j in range(i)]
        beyond = expr < row[i] if desc else expr > row[i]
        clauses.append(and_(*equal, beyond))
    return or_(false(), *clauses)


async def list_images(s: AsyncSession, auth: Auth, params: Any) -> dict[str, Any]:
    """One page of images as Glance renders it, with a `next` link when more may follow."""
    policies.authorize(auth, "get_images", auth.project_id)
    raw_limit = _int(params, "limit")
    if raw_limit is not None and raw_limit < 0:
        raise errors.BadRequest("Invalid limit: must be 0 or more.")
    limit = min(c.MAX_LIMIT, c.DEFAULT_LIMIT if raw_limit is None else raw_limit)
    keys = parse_sort(params)
    seen = scope(auth, params)
    query = select(Image).where(seen, *filters(params))
    if params.get("marker"):
        query = query.where(await _after_marker(s, params["marker"], keys, seen))
    for key, desc in keys:
        query = query.order_by(SORT_KEYS[key].desc() if desc else SORT_KEYS[key].asc())
    rows = list((await s.execute(query.limit(limit))).scalars())
    props, tags = await extras(s, [r.id for r in rows])
    body: dict[str, Any] = {
        "images": [image_view(r, props[r.id], tags[r.id]) for r in rows],
        "schema": "/v2/schemas/images",
        "first": "/v2/images",
    }
    if rows and len(rows) == limit:
        query_args = [("marker", rows[-1].id), ("limit", str(limit))]
        query_args += [(k, v) for k, v in params.multi_items() if k not in ("marker", "limit")]
        body["next"] = "/v2/images?" + urlencode(query_args)
    return body
