"""S3 object requests: PutObject (Content-MD5 and x-amz-content-sha256 checked), CopyObject,
GetObject/HeadObject (ranges, conditions), DeleteObject. Objects are the Swift API's objects:
x-amz-meta-* is X-Object-Meta-*, and a large object either API made reads whole through both.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import unquote

import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from ministack.common import errors
from ministack.objectstore.api import large, objects, versioning, wire
from ministack.objectstore.api.app import Call
from ministack.objectstore.backend import Stored, TooLarge
from ministack.objectstore.s3 import sigv4
from ministack.objectstore.s3.app import S3Call
from ministack.objectstore.s3.buckets import existing
from ministack.objectstore.s3.wire import S3Error, document, element, iso_time
from ministack.objectstore.store import ContainerInfo, NewObject, ObjectInfo

META = "x-amz-meta-"
KEPT = ("content-disposition", "content-encoding", "cache-control", "expires")


def user_meta(call: S3Call) -> dict[str, str]:
    meta = {
        "x-object-meta-" + k[len(META) :].lower(): v
        for k, v in call.request.headers.items()
        if k.lower().startswith(META)
    }
    wire.check_meta({k[len("x-object-meta-") :]: v for k, v in meta.items()})
    for key in KEPT:
        if key in call.request.headers:
            meta[key] = call.request.headers[key]
    return meta


async def body(call: S3Call) -> AsyncIterator[bytes]:
    try:
        async for chunk in call.request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise S3Error("IncompleteBody", "The request body ended early.") from None


async def store_body(call: S3Call) -> Stored:
    """The request body, stored and checked against Content-Length, Content-MD5 and the
    signed payload hash; on a mismatch nothing stays stored."""
    headers = call.request.headers
    if "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", ""):
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.")
    if call.payload_hash.startswith("STREAMING-"):
        raise S3Error("NotImplemented", "aws-chunked uploads are not supported; sign the payload.")
    limit = call.deps.settings.max_file_size
    try:
        stored = await call.deps.backend.write(body(call), limit)
    except TooLarge:
        raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum size.") from None
    problem = _mismatch(call, stored)
    if problem is not None:
        await call.deps.backend.delete(stored.location)
        raise problem
    return stored


def _mismatch(call: S3Call, stored: Stored) -> S3Error | None:
    headers = call.request.headers
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) != stored.size:
        return S3Error("IncompleteBody", "The body does not have Content-Length bytes.")
    md5 = headers.get("content-md5")
    if md5 is not None:
        try:
            given = base64.b64decode(md5, validate=True).hex()
        except (binascii.Error, ValueError):
            return S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
        if given != stored.md5:
            return S3Error("BadDigest", "The Content-MD5 you specified did not match.")
    declared = call.payload_hash
    if declared not in (sigv4.UNSIGNED, "") and declared != stored.sha256:
        return S3Error(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return None


def swift_call(call: S3Call, key: str = "") -> Call:
    """The same request as Swift sees it (versioning applies to S3 writes too, as through
    Swift's pipeline); S3 writes need operate_account, so the caller is the owner."""
    return Call(
        call.request, call.deps, call.project, call.bucket, key or call.key, call.auth, True
    )


async def commit(call: S3Call, container: ContainerInfo, new: NewObject) -> None:
    backend = call.deps.backend
    try:
        await versioning.before_put(swift_call(call), container, call.key)
        replaced = await call.deps.records.commit_object(container, call.key, new)
    except BaseException:
        await backend.delete(new.location)
        raise
    if replaced is not None:
        await backend.delete(replaced)


async def put_object(call: S3Call) -> Response:
    if "x-amz-copy-source" in call.request.headers:
        return await copy_object(call)
    if not call.key:
        raise S3Error("InvalidRequest", "An object needs a key.")
    container = await existing(call)
    stored = await store_body(call)
    content_type = call.request.headers.get("content-type") or "application/octet-stream"
    new = NewObject(
        stored.size, stored.md5, content_type, user_meta(call), stored.location,
        stored.size, stored.sha256,
    )  # fmt: skip
    await commit(call, container, new)
    return Response(status_code=200, headers={"ETag": f'"{stored.md5}"'})


async def copy_object(call: S3Call) -> Response:
    source = unquote(call.request.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
    src_bucket, _, src_key = source.partition("/")
    if not src_bucket or not src_key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key.")
    src_container = await existing(call, src_bucket)
    info = await call.deps.records.object(src_container.id, src_key)
    if info is None:
        raise S3Error("NoSuchKey", "The specified key does not exist.", f"/{source}")
    target = await existing(call)
    replace = call.request.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
    meta = user_meta(call) if replace else dict(info.meta)
    meta.pop("x-object-manifest", None)
    meta.pop("x-static-large-object", None)
    content_type = (
        call.request.headers.get("content-type") or info.content_type
        if replace
        else info.content_type
    )
    if info.kind:
        segments = await segments_of(call, info)
        total = sum(s.size for s in segments)
        stream = large.stream(call.deps.backend, segments, 0, total)
        stored = await call.deps.backend.write(stream, call.deps.settings.max_file_size)
        new = NewObject(stored.size, stored.md5, content_type, meta, stored.location,
                        stored.size, stored.sha256)  # fmt: skip
    else:
        location = await call.deps.backend.copy(info.location)
        new = NewObject(info.size, info.etag, content_type, meta, location, info.stored_size,
                        info.sha256)  # fmt: skip
    await commit(call, target, new)
    return document(
        "CopyObjectResult",
        [element("LastModified", iso_time(new.last_modified)), element("ETag", f'"{new.etag}"')],
    )


async def segments_of(call: S3Call, info: ObjectInfo) -> list[large.Segment]:
    if info.kind == "slo":
        return await large.slo_segments(call.deps, call.project, info)
    return await large.dlo_segments(call.deps, call.project, info.meta["x-object-manifest"])


async def _found(call: S3Call) -> tuple[ContainerInfo, ObjectInfo]:
    container = await existing(call)
    info = await call.deps.records.object(container.id, call.key)
    if info is None:
        raise S3Error("NoSuchKey", "The specified key does not exist.", call.resource)
    return container, info


# GET's query parameters that set a response header (S3's GetObject response-* overrides).
RESPONSE_OVERRIDES = {
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-content-type": "Content-Type",
    "response-expires": "Expires",
}


async def get_object(call: S3Call) -> Response:
    _container, info = await _found(call)
    if info.kind:
        segments = await segments_of(call, info)
        size = sum(s.size for s in segments)
    else:
        segments = [large.Segment(info.location, info.size, info.etag)]
        size = info.size
    etag = f'"{info.etag}"'
    _conditions(call, info, etag)
    headers = {
        "ETag": etag,
        "Last-Modified": wire.http_date(info.last_modified),
        "Content-Type": info.content_type,
        "Content-Length": str(size),
        "Accept-Ranges": "bytes",
    }
    for key, value in info.meta.items():
        if key.startswith("x-object-meta-"):
            headers[META + key[len("x-object-meta-") :]] = value
        elif key in KEPT:
            headers[key] = value
    for param, header in RESPONSE_OVERRIDES.items():
        if (override := call.param(param)) is not None:
            headers[header] = override
    start, end, status = 0, size, 200
    if "range" in call.request.headers and size > 0:
        try:
            picked = objects.parse_range(call.request.headers["range"], size)
        except errors.ApiError:
            raise S3Error("InvalidRange", "The requested range is not satisfiable.") from None
        if picked is not None:
            start, end = picked
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            headers["Content-Length"] = str(end - start)
    if call.request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    stream = large.stream(call.deps.backend, segments, start, end)
    return StreamingResponse(stream, status_code=status, headers=headers)


def _conditions(call: S3Call, info: ObjectInfo, etag: str) -> None:
    headers = call.request.headers
    bare = etag.strip('"')
    if_match = headers.get("if-match")
    wanted = {t.strip().strip('"') for t in (if_match or "").split(",")}
    if if_match is not None and bare not in wanted and "*" not in wanted:
        raise S3Error("PreconditionFailed", "At least one of the preconditions failed.")
    if_none = headers.get("if-none-match")
    if if_none is not None and (
        "*" in if_none or bare in {t.strip().strip('"') for t in if_none.split(",")}
    ):
        raise S3Error("NotModified", "Not Modified")
    since = headers.get("if-modified-since")
    if since is not None and if_none is None:
        at = wire.parse_http_date(since)
        if at is not None and int(info.last_modified + 0.999999) <= at:
            raise S3Error("NotModified", "Not Modified")
    unmodified = headers.get("if-unmodified-since")
    if unmodified is not None:
        at = wire.parse_http_date(unmodified)
        if at is not None and int(info.last_modified + 0.999999) > at:
            raise S3Error("PreconditionFailed", "At least one of the preconditions failed.")


async def delete_object(call: S3Call) -> Response:
    """S3 answers 204 whether or not the key existed. A multipart object's parts go too."""
    await delete_key(call, await existing(call), call.key)
    return Response(status_code=204)


async def delete_key(call: S3Call, container: ContainerInfo, key: str) -> None:
    """Delete `key` and, for a multipart object, its parts; nothing when it is absent."""
    info = await call.deps.records.object(container.id, key)
    if info is None:
        return
    if info.kind != "slo" and versioning.mode(container)[0]:
        with contextlib.suppress(errors.NotFound):
            await versioning.delete(swift_call(call, key), container)
        return
    if info.kind == "slo":
        manifest = await segments_paths(call, info)
        for cname, oname in manifest:
            cinfo = await call.deps.records.container_cached(call.project, cname)
            gone = await call.deps.records.delete_object(cinfo.id, oname) if cinfo else None
            if gone is not None:
                await call.deps.backend.delete(gone.location)
    gone = await call.deps.records.delete_object(container.id, key)
    if gone is not None:
        await call.deps.backend.delete(gone.location)


async def segments_paths(call: S3Call, info: ObjectInfo) -> list[tuple[str, str]]:
    manifest = orjson.loads(await call.deps.backend.read_all(info.location))
    return [large.split_segment_path(e["name"]) for e in manifest]
