"""Object requests: PUT (upload, copy, manifests), GET/HEAD (ranges, conditions), POST, DELETE,
COPY.

A PUT streams the body into the backend first; only when the data is durable, its MD5 matches
a given ETag and the quotas allow it does the row move to the new data (the old data is then
deleted). A PUT that is refused or cut off deletes what it wrote: the previous version stays.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import time
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from ministack.common import errors
from ministack.objectstore.api import large, versioning, wire
from ministack.objectstore.api.app import Call, acl_allows
from ministack.objectstore.backend import Corrupt, Stored, TooLarge
from ministack.objectstore.store import ContainerInfo, NewObject, ObjectInfo

logger = logging.getLogger("ministack.object")

SMALL_OBJECT = 1 << 20  # read whole and checked before the first byte is sent
KEPT_HEADERS = ("content-disposition", "content-encoding", "x-object-manifest")


async def _container(call: Call, name: str | None = None) -> ContainerInfo:
    info = await call.deps.records.container_cached(call.account, name or call.container)
    if info is None:
        raise errors.NotFound("The container does not exist.")
    return info


def _delete_at(call: Call) -> int | None:
    headers = call.request.headers
    raw_after, raw_at = headers.get("x-delete-after"), headers.get("x-delete-at")
    if raw_after is not None:
        if not raw_after.strip().isdigit():
            raise errors.BadRequest("Non-integer X-Delete-After")
        return int(time.time()) + int(raw_after)
    if raw_at is not None:
        if not raw_at.strip().isdigit():
            raise errors.BadRequest("Non-integer X-Delete-At")
        at = int(raw_at)
        if at <= time.time():
            raise errors.BadRequest("X-Delete-At in past")
        return at
    return None


def _object_meta(call: Call) -> dict[str, str]:
    """The metadata a PUT or POST gives the object: user metadata and the kept headers."""
    meta = {
        f"x-object-meta-{k}": v
        for k, v in wire.meta_changes(call.request.headers, "object").items()
        if v
    }
    for key in KEPT_HEADERS:
        value = call.request.headers.get(key)
        if value:
            meta[key] = value
    return meta


def _content_type(call: Call) -> str:
    given = call.request.headers.get("content-type", "")
    if given and not wire.truthy(call.request.headers.get("x-detect-content-type")):
        return given
    guessed, _ = mimetypes.guess_type(call.obj)
    return guessed or "application/octet-stream"


async def body_chunks(call: Call) -> AsyncIterator[bytes]:
    try:
        async for chunk in call.request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise wire.ClientClosed("The client closed the connection mid-upload.") from None


async def put_object(call: Call) -> Response:
    headers = call.request.headers
    if "x-copy-from" in headers:
        source = unquote(headers["x-copy-from"]).lstrip("/")
        src_container, _, src_obj = source.partition("/")
        return await _copy(call, src_container, src_obj, call.container, call.obj)
    container = await _container(call)
    length = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if length is None and not chunked:
        raise wire.LengthRequired("Missing Content-Length or Transfer-Encoding: chunked.")
    if length is not None and (not length.isdigit()):
        raise errors.BadRequest("Invalid Content-Length.")
    limit = call.deps.settings.max_file_size
    if length is not None and int(length) > limit:
        raise errors.PayloadTooLarge(f"Your request is too large; the limit is {limit} bytes.")
    if (
        headers.get("if-none-match") == "*"
        and await call.deps.records.object(container.id, call.obj) is not None
    ):
        raise wire.PreconditionFailed("An object of that name already exists.")
    base = NewObject(0, "", _content_type(call), _object_meta(call), "", 0, "", _delete_at(call))
    if call.request.query_params.get("multipart-manifest") == "put":
        new = await large.put_slo(call, container, base)
        return await commit(call, container, new)
    stored = await _write(call, body_chunks(call), limit)
    if length is not None and stored.size != int(length):
        await call.deps.backend.delete(stored.location)
        raise wire.ClientClosed("The body ended before Content-Length bytes arrived.")
    given = headers.get("etag", "").strip('"')
    if given and given.lower() != stored.md5:
        await call.deps.backend.delete(stored.location)
        raise wire.Unprocessable("The ETag given does not match the MD5 of the body.")
    kind = "dlo" if "x-object-manifest" in base.meta else ""
    new = NewObject(
        stored.size,
        stored.md5,
        base.content_type,
        base.meta,
        stored.location,
        stored.size,
        stored.sha256,
        base.delete_at,
        kind,
    )
    return await commit(call, container, new)


async def _write(call: Call, chunks: AsyncIterator[bytes], limit: int) -> Stored:
    try:
        return await call.deps.backend.write(chunks, limit)
    except TooLarge:
        raise errors.PayloadTooLarge(f"Your request is too large; the limit is {limit}.") from None


async def commit(call: Call, container: ContainerInfo, new: NewObject, name: str = "") -> Response:
    backend = call.deps.backend
    try:
        await versioning.before_put(call, container, name or call.obj)
        replaced = await call.deps.records.commit_object(container, name or call.obj, new)
    except BaseException:
        await backend.delete(new.location)
        raise
    if replaced is not None:
        await backend.delete(replaced)
    headers = {
        "ETag": f'"{new.etag}"' if new.kind == "slo" else new.etag,
        "Last-Modified": wire.http_date(new.last_modified),
        "X-Timestamp": wire.x_timestamp(new.last_modified),
        "Content-Length": "0",
    }
    return Response(status_code=201, headers=headers, media_type="text/html; charset=UTF-8")


async def copy_object(call: Call) -> Response:
    destination = call.request.headers.get("destination")
    if not destination:
        raise wire.PreconditionFailed("COPY needs a Destination header: <container>/<object>.")
    dest_container, _, dest_obj = unquote(destination).lstrip("/").partition("/")
    if not dest_container or not dest_obj:
        raise wire.PreconditionFailed("Destination header must be <container>/<object>.")
    return await _copy(call, call.container, call.obj, dest_container, dest_obj)


async def _copy(call: Call, src_c: str, src_o: str, dst_c: str, dst_o: str) -> Response:
    if not src_c or not src_o:
        raise wire.PreconditionFailed("X-Copy-From header must be of the form <container>/<object>")
    # the source must be readable by the caller too
    if not call.owner and not await acl_allows(call, method="GET", container=src_c):
        raise errors.Forbidden("Access was denied to the copy source.")
    source_container = await _container(call, src_c)
    source = await call.deps.records.object(source_container.id, src_o)
    if source is None:
        raise errors.NotFound("The copy source does not exist.")
    target = await _container(call, dst_c)
    fresh = wire.truthy(call.request.headers.get("x-fresh-metadata"))
    meta = {} if fresh else dict(source.meta)
    meta.update(_object_meta(call))
    manifest = call.request.query_params.get("multipart-manifest") == "get"
    kind = source.kind if manifest else ""
    if not kind:
        meta.pop("x-object-manifest", None)
        meta.pop("x-static-large-object", None)
    content_type = call.request.headers.get("content-type") or source.content_type
    if source.kind and not manifest:
        segments = await _segments(call, source)
        total = sum(s.size for s in segments)
        stored = await _write(
            call,
            large.stream(call.deps.backend, segments, 0, total),
            call.deps.settings.max_file_size,
        )
        new = NewObject(
            stored.size,
            stored.md5,
            content_type,
            meta,
            stored.location,
            stored.size,
            stored.sha256,
            _delete_at(call),
        )
    else:
        location = await call.deps.backend.copy(source.location)
        new = NewObject(
            source.size,
            source.etag,
            content_type,
            meta,
            location,
            source.stored_size,
            source.sha256,
            _delete_at(call),
            kind,
        )
    response = await commit(call, target, new, dst_o)
    response.headers["X-Copied-From"] = quote(f"{src_c}/{src_o}")
    response.headers["X-Copied-From-Last-Modified"] = wire.http_date(source.last_modified)
    return response


async def _segments(call: Call, info: ObjectInfo) -> list[large.Segment]:
    if info.kind == "slo":
        return await large.slo_segments(call.deps, call.account, info)
    return await large.dlo_segments(call.deps, call.account, info.meta["x-object-manifest"])


def _object_headers(info: ObjectInfo, size: int, etag: str) -> dict[str, str]:
    headers = {
        "Content-Type": info.content_type,
        "ETag": etag,
        "Last-Modified": wire.http_date(info.last_modified),
        "X-Timestamp": wire.x_timestamp(info.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Length": str(size),
    }
    for key, value in info.meta.items():
        if key.startswith("x-object-meta-"):
            headers["X-Object-Meta-" + wire._title(key[len("x-object-meta-") :])] = value
        else:
            headers[wire._title(key)] = value
    if info.delete_at is not None:
        headers["X-Delete-At"] = str(info.delete_at)
    return headers


def _check_conditions(call: Call, info: ObjectInfo, etag: str) -> None:
    headers = call.request.headers
    bare = etag.strip('"')
    if_match = headers.get("if-match")
    if if_match is not None:
        wanted = {t.strip().strip('"') for t in if_match.split(",")}
        if "*" not in wanted and bare not in wanted:
            raise wire.PreconditionFailed("If-Match does not match the object's ETag.")
    if_none = headers.get("if-none-match")
    if if_none is not None:
        wanted = {t.strip().strip('"') for t in if_none.split(",")}
        if "*" in wanted or bare in wanted:
            raise wire.NotModified("", headers={"ETag": etag})
    modified = int(info.last_modified + 0.999999)
    since = headers.get("if-modified-since")
    if since is not None and if_none is None:
        at = wire.parse_http_date(since)
        if at is not None and modified <= at:
            raise wire.NotModified("", headers={"ETag": etag})
    unmodified = headers.get("if-unmodified-since")
    if unmodified is not None:
        at = wire.parse_http_date(unmodified)
        if at is not None and modified > at:
            raise wire.PreconditionFailed("The object was modified since that time.")


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range; None to serve it whole; 416 when unsatisfiable."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # several ranges: served whole (allowed by RFC 9110)
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:
        count = int(last)
        if count == 0:
            raise wire.RangeNotSatisfiable("The range is not satisfiable.")
        return max(0, size - count), size
    start = int(first)
    end = min(size, int(last) + 1) if last.isdigit() else size
    if start >= size or end <= start:
        raise wire.RangeNotSatisfiable("The range is not satisfiable.")
    return start, end


async def _found(call: Call) -> tuple[ContainerInfo, ObjectInfo]:
    container = await _container(call)
    info = await call.deps.records.object(container.id, call.obj)
    if info is None:
        raise errors.NotFound("The object does not exist.")
    return container, info


async def get_object(call: Call) -> Response:
    container, info = await _found(call)
    manifest_get = call.request.query_params.get("multipart-manifest") == "get"
    if info.kind == "slo" and manifest_get:
        return await large.get_manifest(call, info)
    if info.kind:
        segments = await _segments(call, info)
        size = sum(s.size for s in segments)
        etag = f'"{large.combined_etag([s.etag for s in segments])}"'
    else:
        segments = [large.Segment(info.location, info.size, info.etag)]
        size, etag = info.size, info.etag
    _check_conditions(call, info, etag)
    headers = _object_headers(info, size, etag)
    if info.kind == "slo":
        headers["X-Static-Large-Object"] = "True"
    if call.temp_url:
        _temp_url_disposition(call, headers)
    start, end, status = 0, size, 200
    if "range" in call.request.headers and size > 0:
        picked = parse_range(call.request.headers["range"], size)
        if picked is not None:
            start, end = picked
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            headers["Content-Length"] = str(end - start)
    if call.method == "HEAD":
        return Response(status_code=status, headers=headers)
    if not info.kind and status == 200:
        return await _verified(call, container, info, headers)
    body = large.stream(call.deps.backend, segments, start, end)
    return StreamingResponse(body, status_code=status, headers=headers)


async def _verified(
    call: Call, container: ContainerInfo, info: ObjectInfo, headers: dict[str, str]
) -> Response:
    """The whole object, its checksum checked on the way out (PROMISES 26). A small object is
    read and checked before a byte is sent (corrupt: quarantined, 404); a large one is checked
    as it streams, and a mismatch breaks the connection before the last block is sent (as
    Swift's object server breaks it), so a client never gets the bytes as complete."""
    backend = call.deps.backend
    if info.stored_size <= SMALL_OBJECT:
        data = await backend.read_all(info.location)
        if hashlib.sha256(data).hexdigest() != info.sha256:
            await _quarantine(call, container, info)
            raise errors.NotFound("The object does not exist.")
        return Response(data, headers=headers)

    async def checked() -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        sent = 0
        async for chunk in backend.read(info.location, digest=digest):  # hashed off the loop
            sent += len(chunk)
            if sent >= info.stored_size:  # the last block: the digest covers every byte
                await check(digest)
            yield chunk
        await check(digest)  # also a file shorter than its row says

    async def check(digest: hashlib._Hash) -> None:
        if digest.hexdigest() != info.sha256:
            await _quarantine(call, container, info)
            raise Corrupt(f"object {info.name} failed its checksum while being served")

    return StreamingResponse(checked(), headers=headers)


async def _quarantine(call: Call, container: ContainerInfo, info: ObjectInfo) -> None:
    logger.warning("quarantined %s/%s: checksum mismatch on read", container.name, info.name)
    await call.deps.backend.quarantine(info.location)
    await call.deps.records.delete_object(container.id, info.name, only_location=info.location)


def _temp_url_disposition(call: Call, headers: dict[str, str]) -> None:
    params = call.request.query_params
    if "inline" in params:
        headers["Content-Disposition"] = "inline"
    elif "filename" in params:
        name = params["filename"].replace('"', '\\"')
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    elif "content-disposition" not in {k.lower() for k in headers}:
        name = call.obj.rsplit("/", 1)[-1].replace('"', '\\"')
        headers["Content-Disposition"] = f'attachment; filename="{name}"'


async def post_object(call: Call) -> Response:
    container = await _container(call)
    current = await call.deps.records.object(container.id, call.obj)
    if current is None:
        raise errors.NotFound("The object does not exist.")
    meta = _object_meta(call)
    for key in ("x-static-large-object",):  # kept across a POST, as Swift keeps sysmeta
        if key in current.meta:
            meta[key] = current.meta[key]
    delete_at = _delete_at(call)  # a POST without X-Delete-At(-After) removes it, as Swift's
    content_type = call.request.headers.get("content-type")
    updated = await call.deps.records.update_object(
        container.id, call.obj, meta=meta, content_type=content_type, delete_at=delete_at
    )
    if updated is None:
        raise errors.NotFound("The object does not exist.")
    return Response(status_code=202, headers={"Content-Length": "0"})


async def delete_object(call: Call) -> Response:
    container = await _container(call)
    info = await call.deps.records.object(container.id, call.obj)
    manifest = call.request.query_params.get("multipart-manifest") == "delete"
    if info is not None and info.kind == "slo" and manifest:
        return await large.delete_slo(call, container, info)
    if await versioning.delete(call, container):
        return Response(status_code=204, headers={"Content-Length": "0"})
    if info is None:
        raise errors.NotFound("The object does not exist.")
    gone = await call.deps.records.delete_object(container.id, call.obj)
    if gone is None:
        raise errors.NotFound("The object does not exist.")
    await call.deps.backend.delete(gone.location)
    return Response(status_code=204, headers={"Content-Length": "0"})
