"""S3 multipart uploads, kept as Swift's s3api keeps them: parts are objects of the container
``<bucket>+segments`` named ``<key>/<upload id>/<part number>``, beside an upload marker
``<key>/<upload id>`` that holds the content type and metadata; completing writes a static
large object over the parts (its S3 ETag is the MD5 of the parts' MD5s, ``-<count>``), so the
result reads whole through Swift too. Abort deletes the parts and the marker.
"""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import orjson
from starlette.responses import Response

from ministack.objectstore.api import wire
from ministack.objectstore.listing import ListQuery, Subdir
from ministack.objectstore.s3.app import S3Call
from ministack.objectstore.s3.buckets import existing
from ministack.objectstore.s3.objects import commit, store_body, user_meta
from ministack.objectstore.s3.wire import S3Error, document, element, iso_time
from ministack.objectstore.store import ContainerInfo, NewObject, ObjectInfo

MIN_PART = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000


def segments_container(bucket: str) -> str:
    return f"{bucket}+segments"


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _upload(call: S3Call, upload_id: str) -> tuple[ContainerInfo, ObjectInfo]:
    segments = await call.deps.records.container_cached(
        call.project, segments_container(call.bucket)
    )
    marker = (
        await call.deps.records.object(segments.id, f"{call.key}/{upload_id}") if segments else None
    )
    if segments is None or marker is None or marker.meta.get("x-s3-upload") != "marker":
        raise S3Error(
            "NoSuchUpload", "The specified multipart upload does not exist.", call.resource
        )
    return segments, marker


async def create_upload(call: S3Call) -> Response:
    await existing(call)
    name = segments_container(call.bucket)
    await call.deps.records.put_container(call.project, name, {}, {})
    segments = await existing(call, name)
    upload_id = uuid.uuid4().hex
    stored = await call.deps.backend.write(_empty(), 0)
    content_type = call.request.headers.get("content-type") or "application/octet-stream"
    meta = {**user_meta(call), "x-s3-upload": "marker"}
    new = NewObject(0, stored.md5, content_type, meta, stored.location, 0, stored.sha256)
    await call.deps.records.commit_object(segments, f"{call.key}/{upload_id}", new)
    return document(
        "InitiateMultipartUploadResult",
        [element("Bucket", call.bucket), element("Key", call.key), element("UploadId", upload_id)],
    )


def _part_number(call: S3Call) -> int:
    raw = call.param("partNumber") or ""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", f"Part number must be an integer 1 to {MAX_PART_NUMBER}.")
    return int(raw)


async def upload_part(call: S3Call) -> Response:
    upload_id = call.param("uploadId") or ""
    number = _part_number(call)
    segments, _marker = await _upload(call, upload_id)
    stored = await store_body(call)
    new = NewObject(
        stored.size, stored.md5, "application/octet-stream", {}, stored.location,
        stored.size, stored.sha256,
    )  # fmt: skip
    name = f"{call.key}/{upload_id}/{number:06d}"
    try:
        replaced = await call.deps.records.commit_object(segments, name, new, account_quota=False)
    except BaseException:
        await call.deps.backend.delete(stored.location)
        raise
    if replaced is not None:
        await call.deps.backend.delete(replaced)
    return Response(status_code=200, headers={"ETag": f'"{stored.md5}"'})


async def _parts(call: S3Call, segments: ContainerInfo, upload_id: str) -> list[ObjectInfo]:
    prefix = f"{call.key}/{upload_id}/"
    rows = await call.deps.records.list_objects(segments.id, ListQuery(prefix=prefix))
    out = []
    for row in rows:
        if isinstance(row, Subdir):
            continue
        info = await call.deps.records.object(segments.id, row.name)
        if info is not None:
            out.append(info)
    return out


async def list_parts(call: S3Call) -> Response:
    upload_id = call.param("uploadId") or ""
    segments, _marker = await _upload(call, upload_id)
    parts = [
        element("Bucket", call.bucket),
        element("Key", call.key),
        element("UploadId", upload_id),
        element("StorageClass", "STANDARD"),
        element("IsTruncated", "false"),
    ]
    for info in await _parts(call, segments, upload_id):
        parts.append(
            "<Part>"
            + element("PartNumber", int(info.name.rsplit("/", 1)[1]))
            + element("LastModified", iso_time(info.last_modified))
            + element("ETag", f'"{info.etag}"')
            + element("Size", info.size)
            + "</Part>"
        )
    return document("ListPartsResult", parts)


def _requested(raw: bytes) -> list[tuple[int, str]]:
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.") from None
    out = []
    for part in root.iter():
        if not part.tag.endswith("Part") or part.tag.endswith("CompleteMultipartUpload"):
            continue
        number = etag = None
        for child in part:
            if child.tag.endswith("PartNumber"):
                number = (child.text or "").strip()
            elif child.tag.endswith("ETag"):
                etag = (child.text or "").strip().strip('"')
        if number is None or not number.isdigit() or etag is None:
            raise S3Error("MalformedXML", "Each Part needs a PartNumber and an ETag.")
        out.append((int(number), etag))
    if not out:
        raise S3Error("MalformedXML", "The XML you provided listed no parts.")
    return out


async def complete_upload(call: S3Call) -> Response:
    upload_id = call.param("uploadId") or ""
    segments, marker = await _upload(call, upload_id)
    requested = _requested(await call.request.body())
    have = {int(p.name.rsplit("/", 1)[1]): p for p in await _parts(call, segments, upload_id)}
    numbers = [n for n, _ in requested]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder", "The list of parts was not in ascending order.")
    chosen: list[ObjectInfo] = []
    for index, (number, etag) in enumerate(requested):
        part = have.get(number)
        if part is None or part.etag != etag:
            raise S3Error("InvalidPart", f"Part {number} was not found or its ETag differs.")
        if part.size < MIN_PART and index < len(requested) - 1:
            raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum.")
        chosen.append(part)
    manifest = [
        {
            "name": f"/{segments.name}/{p.name}",
            "hash": p.etag,
            "bytes": p.size,
            "content_type": p.content_type,
            "last_modified": wire.listing_time(p.last_modified),
        }
        for p in chosen
    ]
    s3_etag = (
        hashlib.md5(
            b"".join(bytes.fromhex(p.etag) for p in chosen), usedforsecurity=False
        ).hexdigest()
        + f"-{len(chosen)}"
    )

    async def data() -> AsyncIterator[bytes]:
        yield orjson.dumps(manifest)

    stored = await call.deps.backend.write(data(), 8 * 1024 * 1024)
    meta = {k: v for k, v in marker.meta.items() if k != "x-s3-upload"}
    meta["x-static-large-object"] = "True"
    new = NewObject(
        sum(p.size for p in chosen), s3_etag, marker.content_type, meta, stored.location,
        stored.size, stored.sha256, kind="slo",
    )  # fmt: skip
    target = await existing(call)
    await commit(call, target, new)
    for number, part in have.items():  # parts not named in the completion are dropped
        if number not in numbers:
            await _delete(call, segments, part.name)
    await _delete(call, segments, marker.name)
    return document(
        "CompleteMultipartUploadResult",
        [
            element("Location", f"/{call.bucket}/{call.key}"),
            element("Bucket", call.bucket),
            element("Key", call.key),
            element("ETag", f'"{s3_etag}"'),
        ],
    )


async def _delete(call: S3Call, container: ContainerInfo, name: str) -> None:
    gone = await call.deps.records.delete_object(container.id, name)
    if gone is not None:
        await call.deps.backend.delete(gone.location)


async def abort_upload(call: S3Call) -> Response:
    upload_id = call.param("uploadId") or ""
    segments, marker = await _upload(call, upload_id)
    for part in await _parts(call, segments, upload_id):
        await _delete(call, segments, part.name)
    await _delete(call, segments, marker.name)
    return Response(status_code=204)
