"""S3 bucket requests: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
ListObjects (V1) and ListObjectsV2. A bucket is a Swift container of the caller's project,
so `swift list` and `aws s3 ls` show the same things."""

from __future__ import annotations

import base64
import binascii
import re

from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore.listing import ListQuery, Subdir
from ministack.objectstore.s3.app import S3Call
from ministack.objectstore.s3.wire import S3Error, document, element, iso_time
from ministack.objectstore.store import ContainerInfo

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEYS = 1000
PUBLIC_READ = ".r:*,.rlistings"  # the container read ACL of the canned public-read


async def existing(call: S3Call, name: str = "") -> ContainerInfo:
    info = await call.deps.records.container_cached(call.project, name or call.bucket)
    if info is None:
        raise S3Error(
            "NoSuchBucket", "The specified bucket does not exist.", f"/{name or call.bucket}"
        )
    return info


def owner(call: S3Call) -> str:
    return element("ID", call.project) + element("DisplayName", call.auth.project_name or "")


async def list_buckets(call: S3Call) -> Response:
    rows = await call.deps.records.list_containers(call.project, ListQuery(limit=10000))
    buckets = "".join(
        "<Bucket>" + element("Name", r.name) + element("CreationDate", iso_time(r.updated_at))
        + "</Bucket>"
        for r in rows
        if not isinstance(r, Subdir)
    )  # fmt: skip
    return document(
        "ListAllMyBucketsResult", [f"<Owner>{owner(call)}</Owner>", f"<Buckets>{buckets}</Buckets>"]
    )


async def create_bucket(call: S3Call) -> Response:
    if not BUCKET_NAME.match(call.bucket) or ".." in call.bucket:
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", f"/{call.bucket}")
    canned = call.request.headers.get("x-amz-acl", "private")
    if canned not in ("private", "public-read"):
        raise S3Error(
            "NotImplemented", "Only the private and public-read canned ACLs are supported."
        )
    await call.request.body()  # an optional CreateBucketConfiguration: the region is ours
    acls = {"read": PUBLIC_READ} if canned == "public-read" else {}
    created = await call.deps.records.put_container(call.project, call.bucket, {}, acls)
    if not created:
        raise S3Error(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            f"/{call.bucket}",
        )
    return Response(status_code=200, headers={"Location": f"/{call.bucket}"})


async def head_bucket(call: S3Call) -> Response:
    await existing(call)
    return Response(status_code=200)


async def delete_bucket(call: S3Call) -> Response:
    try:
        await call.deps.records.delete_container(call.project, call.bucket)
    except errors.NotFound:
        raise S3Error(
            "NoSuchBucket", "The specified bucket does not exist.", f"/{call.bucket}"
        ) from None
    except errors.Conflict:
        raise S3Error(
            "BucketNotEmpty", "The bucket you tried to delete is not empty.", f"/{call.bucket}"
        ) from None
    return Response(status_code=204)


async def get_location(call: S3Call) -> Response:
    await existing(call)
    return document("LocationConstraint", [])


def _max_keys(call: S3Call) -> int:
    raw = call.param("max-keys")
    if raw is None:
        return MAX_KEYS
    if not raw.isdigit():
        raise S3Error("InvalidArgument", "max-keys must be a non-negative integer.")
    return min(int(raw), MAX_KEYS)


def _token(raw: str) -> str:
    try:
        return base64.urlsafe_b64decode(raw.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect.") from None


async def list_objects(call: S3Call) -> Response:
    """ListObjectsV2 (list-type=2) or the original ListObjects."""
    info = await existing(call)
    v2 = call.param("list-type") == "2"
    prefix, delimiter = call.param("prefix") or "", call.param("delimiter") or ""
    max_keys = _max_keys(call)
    if v2:
        token = call.param("continuation-token")
        marker = _token(token) if token else call.param("start-after") or ""
    else:
        marker = call.param("marker") or ""
    rows = await call.deps.records.list_objects(
        info.id, ListQuery(prefix=prefix, delimiter=delimiter, marker=marker, limit=max_keys + 1)
    )
    truncated = len(rows) > max_keys
    rows = rows[:max_keys]
    parts = [element("Name", call.bucket), element("Prefix", prefix), element("MaxKeys", max_keys)]
    if delimiter:
        parts.append(element("Delimiter", delimiter))
    parts.append(element("IsTruncated", "true" if truncated else "false"))
    if v2:
        parts.append(element("KeyCount", len(rows)))
        if call.param("continuation-token"):
            parts.append(element("ContinuationToken", call.param("continuation-token")))
        if truncated and rows:
            next_token = base64.urlsafe_b64encode(rows[-1].name.encode()).decode()
            parts.append(element("NextContinuationToken", next_token))
    else:
        parts.append(element("Marker", marker))
        if truncated and rows and delimiter:
            parts.append(element("NextMarker", rows[-1].name))
    fetch_owner = not v2 or call.param("fetch-owner") == "true"
    for row in rows:
        if isinstance(row, Subdir):
            parts.append(f"<CommonPrefixes>{element('Prefix', row.name)}</CommonPrefixes>")
            continue
        parts.append(
            "<Contents>"
            + element("Key", row.name)
            + element("LastModified", iso_time(row.last_modified))
            + element("ETag", f'"{row.etag}"')
            + element("Size", row.size)
            + element("StorageClass", "STANDARD")
            + (f"<Owner>{owner(call)}</Owner>" if fetch_owner else "")
            + "</Contents>"
        )
    return document("ListBucketResult", parts)
