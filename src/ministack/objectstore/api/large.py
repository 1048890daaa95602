"""Large objects: dynamic (X-Object-Manifest) and static (multipart-manifest) manifests.

A dynamic manifest names ``<container>/<prefix>``: a GET serves every object under the prefix
in name order, as they are at that moment. A static manifest is a JSON list of segments
checked at PUT (each must exist, and match the etag and size given) and stored as the
manifest object's data; a GET serves the segments in order. Segments live in the same account.
Both answer with the ETag of the concatenated segment ETags in quotes, as Swift does.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore.api import wire
from ministack.objectstore.api.app import Call, Deps
from ministack.objectstore.backend import Backend
from ministack.objectstore.listing import ListQuery, Subdir
from ministack.objectstore.store import ContainerInfo, NewObject, ObjectInfo

MAX_MANIFEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Segment:
    location: str
    size: int  # bytes served from this segment
    etag: str
    offset: int = 0  # first byte served within the segment's data


def combined_etag(etags: list[str]) -> str:
    return hashlib.md5("".join(etags).encode(), usedforsecurity=False).hexdigest()


def split_segment_path(path: str) -> tuple[str, str]:
    container, _, obj = unquote(path).lstrip("/").partition("/")
    if not container or not obj:
        raise errors.BadRequest(f"Segment path {path!r} is not /<container>/<object>.")
    return container, obj


async def dlo_segments(deps: Deps, account: str, manifest: str) -> list[Segment]:
    container, _, prefix = unquote(manifest).lstrip("/").partition("/")
    info = await deps.records.container_cached(account, container)
    if info is None:
        return []
    out: list[Segment] = []
    marker = ""
    while True:
        rows = await deps.records.list_objects(
            info.id, ListQuery(prefix=prefix, marker=marker, limit=1000)
        )
        for row in rows:
            if isinstance(row, Subdir):
                continue
            obj = await deps.records.object(info.id, row.name)
            if obj is not None and not obj.kind:
                out.append(Segment(obj.location, obj.size, obj.etag))
        if len(rows) < 1000:
            return out
        marker = rows[-1].name


async def slo_segments(deps: Deps, account: str, info: ObjectInfo) -> list[Segment]:
    manifest = orjson.loads(await deps.backend.read_all(info.location))
    containers: dict[str, ContainerInfo | None] = {}
    out: list[Segment] = []
    for entry in manifest:
        cname, oname = split_segment_path(entry["name"])
        if cname not in containers:
            containers[cname] = await deps.records.container_cached(account, cname)
        cinfo = containers[cname]
        obj = await deps.records.object(cinfo.id, oname) if cinfo else None
        if obj is None or obj.etag != entry["hash"]:
            raise errors.Conflict(f"Segment {entry['name']} is missing or was changed.")
        first, last = entry.get("range_start", 0), entry.get("range_end", obj.size)
        out.append(Segment(obj.location, last - first, obj.etag, first))
    return out


async def stream(
    backend: Backend, segments: list[Segment], start: int, end: int
) -> AsyncIterator[bytes]:
    """Bytes [start, end) of the segments' concatenation."""
    position = 0
    for seg in segments:
        seg_start, seg_end = position, position + seg.size
        position = seg_end
        if seg_end <= start or seg.size == 0:
            continue
        if seg_start >= end:
            return
        first = max(start, seg_start) - seg_start + seg.offset
        last = min(end, seg_end) - seg_start + seg.offset
        async for chunk in backend.read(seg.location, first, last):
            yield chunk


async def _one(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


async def put_slo(call: Call, container: ContainerInfo, base: NewObject) -> NewObject:
    """Check a static manifest's segments and store it; returns the object to commit."""
    raw = await call.request.body()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise errors.PayloadTooLarge("The manifest is too large.")
    try:
        entries = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.BadRequest("Manifest must be valid JSON.") from None
    limit = call.deps.settings.max_manifest_segments
    if not isinstance(entries, list) or not entries or len(entries) > limit:
        raise errors.BadRequest(f"Manifest must be a list of 1 to {limit} segments.")
    stored: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            stored.append(await _check_segment(call, index, entry))
        except errors.ApiError as err:
            problems.append(err.message)
    if problems:
        raise errors.BadRequest("Errors in the manifest: " + "; ".join(problems))
    etag = combined_etag([e["hash"] for e in stored])
    given = call.request.headers.get("etag", "").strip('"')
    if given and given != etag:
        raise wire.Unprocessable("ETag does not match the MD5 of the segments' ETags.")
    data = await call.deps.backend.write(_one(orjson.dumps(stored)), MAX_MANIFEST_BYTES)
    return NewObject(
        size=sum(e["bytes"] for e in stored),
        etag=etag,
        content_type=base.content_type,
        meta={**base.meta, "x-static-large-object": "True"},
        location=data.location,
        stored_size=data.size,
        sha256=data.sha256,
        delete_at=base.delete_at,
        kind="slo",
    )


async def _check_segment(call: Call, index: int, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise errors.BadRequest(f"Index {index}: a segment is an object with a path.")
    cname, oname = split_segment_path(entry["path"])
    cinfo = await call.deps.records.container_cached(call.account, cname)
    obj = await call.deps.records.object(cinfo.id, oname) if cinfo else None
    if obj is None:
        raise errors.BadRequest(f"Index {index}: 404 Not Found for {entry['path']}")
    if obj.kind:
        raise errors.BadRequest(f"Index {index}: nested large objects are not supported.")
    etag, size = entry.get("etag"), entry.get("size_bytes")
    if etag is not None and str(etag).strip('"') != obj.etag:
        raise errors.BadRequest(f"Index {index}: Etag Mismatch for {entry['path']}")
    if size is not None and size != obj.size:
        raise errors.BadRequest(f"Index {index}: Size Mismatch for {entry['path']}")
    if obj.size < 1:
        raise errors.BadRequest(f"Index {index}: Too small; each segment must be at least 1 byte.")
    return {
        "name": f"/{cname}/{oname}",
        "hash": obj.etag,
        "bytes": obj.size,
        "content_type": obj.content_type,
        "last_modified": wire.listing_time(obj.last_modified),
    }


async def get_manifest(call: Call, info: ObjectInfo) -> Response:
    """?multipart-manifest=get: the stored manifest (or, with format=raw, as it was PUT)."""
    manifest = orjson.loads(await call.deps.backend.read_all(info.location))
    if call.request.query_params.get("format") == "raw":
        manifest = [
            {"path": e["name"], "etag": e["hash"], "size_bytes": e["bytes"]} for e in manifest
        ]
    headers = {
        "X-Static-Large-Object": "True",
        "Last-Modified": wire.http_date(info.last_modified),
        "X-Timestamp": wire.x_timestamp(info.last_modified),
        **wire.meta_headers(_user_meta(info), "object"),
    }
    return Response(
        orjson.dumps(manifest), headers=headers, media_type="application/json; charset=utf-8"
    )


def _user_meta(info: ObjectInfo) -> dict[str, str]:
    prefix = "x-object-meta-"
    return {k[len(prefix) :]: v for k, v in info.meta.items() if k.startswith(prefix)}


async def delete_slo(call: Call, container: ContainerInfo, info: ObjectInfo) -> Response:
    """?multipart-manifest=delete: the segments, then the manifest (Swift's bulk report)."""
    manifest = orjson.loads(await call.deps.backend.read_all(info.location))
    deleted = missing = 0
    records = call.deps.records
    for entry in manifest:
        cname, oname = split_segment_path(entry["name"])
        cinfo = await records.container_cached(call.account, cname)
        gone = await records.delete_object(cinfo.id, oname) if cinfo else None
        if gone is None:
            missing += 1
            continue
        deleted += 1
        await call.deps.backend.delete(gone.location)
    gone = await records.delete_object(container.id, call.obj)
    if gone is not None:
        deleted += 1
        await call.deps.backend.delete(gone.location)
    report = {
        "Number Deleted": deleted,
        "Number Not Found": missing,
        "Response Status": "200 OK",
        "Response Body": "",
        "Errors": [],
    }
    if "json" in call.request.headers.get("accept", ""):
        return Response(orjson.dumps(report), media_type="application/json; charset=utf-8")
    text = "".join(f"{k}: {v}\n" for k, v in report.items() if k != "Errors") + "Errors: \n"
    return Response(text, media_type="text/plain; charset=utf-8")
