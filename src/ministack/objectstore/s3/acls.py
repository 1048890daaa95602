"""S3 ACLs and DeleteObjects: GetBucketAcl/PutBucketAcl, GetObjectAcl, and POST ?delete.

As Swift's s3api without its own ACL store: a bucket's ACL is its container's read ACL. The
canned ``private`` clears it; ``public-read`` sets ``.r:*,.rlistings`` (anyone reads and
lists). Other canned ACLs and grants to other users are NotImplemented, so nothing is granted
that the container ACL could not express. An object's ACL is its bucket's (GetObjectAcl).
DeleteObjects deletes up to 1000 keys as DeleteObject would (a missing key counts as deleted).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from starlette.responses import Response

from ministack.objectstore.s3 import objects
from ministack.objectstore.s3.app import S3Call
from ministack.objectstore.s3.buckets import PUBLIC_READ, existing, owner
from ministack.objectstore.s3.wire import S3Error, document, element
from ministack.objectstore.store import ContainerInfo

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
MAX_DELETE_KEYS = 1000


def _policy(call: S3Call, info: ContainerInfo) -> Response:
    grants = [
        f'<Grant><Grantee {XSI} xsi:type="CanonicalUser">{owner(call)}</Grantee>'
        "<Permission>FULL_CONTROL</Permission></Grant>"
    ]
    if ".r:*" in info.read_acl.replace(" ", "").split(","):
        grants.append(
            f'<Grant><Grantee {XSI} xsi:type="Group">{element("URI", ALL_USERS)}</Grantee>'
            "<Permission>READ</Permission></Grant>"
        )
    parts = [
        f"<Owner>{owner(call)}</Owner>",
        f"<AccessControlList>{''.join(grants)}</AccessControlList>",
    ]
    return document("AccessControlPolicy", parts)


async def get_bucket_acl(call: S3Call) -> Response:
    return _policy(call, await existing(call))


async def get_object_acl(call: S3Call) -> Response:
    info = await existing(call)
    if await call.deps.records.object(info.id, call.key) is None:
        raise S3Error("NoSuchKey", "The specified key does not exist.", call.resource)
    return _policy(call, info)


def _canned_from_body(raw: bytes) -> str:
    """'private' or 'public-read' for an AccessControlPolicy document that says as much."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise S3Error("MalformedACLError", "The XML you provided was not well-formed.") from None
    public = False
    for grant in root.iter():
        if not grant.tag.endswith("}Grant") and grant.tag != "Grant":
            continue
        texts = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in grant.iter()}
        if texts.get("URI") == ALL_USERS and texts.get("Permission") == "READ":
            public = True
        elif "URI" in texts or texts.get("Permission") != "FULL_CONTROL":
            raise S3Error("NotImplemented", "Only private and public-read ACLs are supported.")
    return "public-read" if public else "private"


async def put_bucket_acl(call: S3Call) -> Response:
    await existing(call)
    body = await call.request.body()
    canned = call.request.headers.get("x-amz-acl") or (_canned_from_body(body) if body else "")
    if canned not in ("private", "public-read"):
        raise S3Error(
            "NotImplemented", "Only the private and public-read canned ACLs are supported."
        )
    read = PUBLIC_READ if canned == "public-read" else ""
    await call.deps.records.post_container(call.project, call.bucket, {}, {"read": read})
    return Response(status_code=200)


def _keys(raw: bytes) -> tuple[list[str], bool]:
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.") from None
    keys, quiet = [], False
    for node in root:
        tag = node.tag.rsplit("}", 1)[-1]
        if tag == "Quiet":
            quiet = (node.text or "").strip().lower() == "true"
        elif tag == "Object":
            key = next((c.text for c in node if c.tag.rsplit("}", 1)[-1] == "Key"), None)
            if not key:
                raise S3Error("MalformedXML", "An Object has no Key.")
            keys.append(key)
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML", f"Delete between 1 and {MAX_DELETE_KEYS} keys.")
    return keys, quiet


async def delete_objects(call: S3Call) -> Response:
    container = await existing(call)
    keys, quiet = _keys(await call.request.body())
    parts = []
    for key in keys:
        if len(key.encode()) > 1024:
            parts.append(
                "<Error>" + element("Key", key) + element("Code", "KeyTooLongError")
                + element("Message", "Your key is too long.") + "</Error>"
            )  # fmt: skip
            continue
        await objects.delete_key(call, container, key)
        if not quiet:
            parts.append(f"<Deleted>{element('Key', key)}</Deleted>")
    return document("DeleteResult", parts)
