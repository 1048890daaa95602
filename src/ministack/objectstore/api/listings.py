"""Account and container listings: query parameters in, JSON / XML / plain text out.

The format comes from ``?format=`` (json, xml, plain) or else the Accept header, as Swift
picks it. An empty plain-text listing is 204; JSON and XML always have a body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore.api import wire
from ministack.objectstore.listing import ListQuery, Subdir

FORMATS = {
    "json": "application/json",
    "xml": "application/xml",
    "plain": "text/plain",
}


def listing_format(request: Request) -> str:
    wanted = request.query_params.get("format", "").lower()
    if wanted:
        if wanted in ("json", "xml", "plain"):
            return wanted
        if wanted.startswith("text/xml") or wanted.startswith("application/xml"):
            return "xml"
        if wanted.startswith("application/json"):
            return "json"
        return "plain"
    accept = request.headers.get("accept", "")
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == "application/json":
            return "json"
        if media in ("application/xml", "text/xml"):
            return "xml"
        if media == "text/plain":
            return "plain"
    return "plain"


def listing_query(request: Request, max_limit: int) -> ListQuery:
    params = request.query_params
    raw_limit = params.get("limit")
    limit = max_limit
    if raw_limit is not None:
        if not raw_limit.isdigit():
            raise errors.BadRequest("Value of limit must be a positive integer.")
        limit = int(raw_limit)
        if limit > max_limit:
            raise wire.PreconditionFailed(f"Maximum limit is {max_limit}.")
    for key in ("prefix", "delimiter", "marker", "end_marker", "path"):
        if "\x00" in params.get(key, ""):
            raise errors.BadRequest(f"{key} contains NULL.")
    delimiter = params.get("delimiter", "")
    prefix = params.get("prefix", "")
    if "path" in params:  # Swift's legacy path= is prefix with '/' as delimiter
        path = params["path"]
        prefix, delimiter = (path.rstrip("/") + "/" if path else ""), "/"
    return ListQuery(
        prefix=prefix,
        delimiter=delimiter,
        marker=params.get("marker", ""),
        end_marker=params.get("end_marker", ""),
        limit=limit,
        reverse=wire.truthy(params.get("reverse")),
    )


def object_entry(row: Any) -> dict[str, Any]:
    if isinstance(row, Subdir):
        return {"subdir": row.name}
    return {
        "name": row.name,
        "hash": row.etag,
        "bytes": row.size,
        "content_type": row.content_type,
        "last_modified": wire.listing_time(row.last_modified),
    }


def container_entry(row: Any) -> dict[str, Any]:
    if isinstance(row, Subdir):
        return {"subdir": row.name}
    return {
        "name": row.name,
        "count": row.object_count,
        "bytes": row.bytes_used,
        "last_modified": wire.listing_time(row.updated_at),
    }


def render(
    rows: Sequence[Any], fmt: str, *, root: str, name: str, item: str, headers: dict[str, str]
) -> Response:
    """A listing response; `root` is "account" or "container" (XML's element names)."""
    entry = object_entry if item == "object" else container_entry
    if fmt == "json":
        body = orjson.dumps([entry(r) for r in rows])
        return Response(body, headers=headers, media_type="application/json; charset=utf-8")
    if fmt == "xml":
        parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} name={quoteattr(name)}>']
        for row in rows:
            data = entry(row)
            if "subdir" in data:
                sub = escape(data["subdir"])
                parts.append(
                    f"<subdir name={quoteattr(data['subdir'])}><name>{sub}</name></subdir>"
                )
                continue
            fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in data.items())
            parts.append(f"<{item}>{fields}</{item}>")
        parts.append(f"</{root}>")
        body = "".join(parts).encode()
        return Response(body, headers=headers, media_type="application/xml; charset=utf-8")
    if not rows:
        return Response(status_code=204, headers=headers, media_type="text/plain; charset=utf-8")
    text = "".join(r.name + "\n" for r in rows)
    return Response(text.encode(), headers=headers, media_type="text/plain; charset=utf-8")
