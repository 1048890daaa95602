"""AWS signature V2 of an S3 request ("Signing and Authenticating REST Requests"): what the
client signed, rebuilt from the request as botocore's ``s3`` signer (HmacV1Auth) and AWS's
documentation build it.

The string to sign is VERB, Content-MD5, Content-Type, the Date (empty when x-amz-date is
set; a presigned URL's Expires instead), the x-amz-* headers lowercased and sorted, then the
canonicalized resource: ``/bucket/key`` as sent (a virtual-host-style bucket in front) and
the sub-resources and response-* overrides the query names, sorted. Identity signs it with
the EC2 secret it keeps (HMAC-SHA1, `identity.s3tokens.signature_of`); this module only
rebuilds the text and checks that the request is not stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from ministack.objectstore.s3.sigv4 import MAX_SKEW, UNSIGNED, Refused, Signed

PREFIX = "AWS "
QUERY_KEYS = ("AWSAccessKeyId", "Signature", "Expires")
# The query parameters that belong to the canonicalized resource (AWS's list, as botocore's).
SUBRESOURCES = frozenset(
    (
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
        "partNumber", "policy", "replication", "requestPayment", "response-cache-control",
        "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "select", "select-type",
        "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
        "versions", "website",
    )
)  # fmt: skip


def raw_query(query_string: bytes) -> list[tuple[str, str | None]]:
    """The query's pairs as sent, values percent-decoded; None for a bare ``?uploads``
    (which signs differently from ``?uploads=``)."""
    pairs: list[tuple[str, str | None]] = []
    for part in query_string.decode("latin-1").split("&"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        pairs.append((unquote(name), unquote(value) if eq else None))
    return pairs


def is_v2(headers: Mapping[str, str], query: list[tuple[str, str | None]]) -> bool:
    """Signed with V2: an ``Authorization: AWS …`` header or an ``AWSAccessKeyId`` query."""
    auth = headers.get("authorization")
    if auth is not None:
        return auth.startswith(PREFIX)
    return any(name == "AWSAccessKeyId" for name, _ in query)


def resource_path(raw_path: str, virtual_bucket: str | None) -> str:
    """The path V2 signs: the request path as sent, with a virtual-host-style bucket in
    front; a bucket alone ends with a slash (``/bucket/``, as S3 and botocore sign it)."""
    path = f"/{virtual_bucket}{raw_path}" if virtual_bucket is not None else raw_path
    if len(path) > 1 and path.count("/") == 1:
        path += "/"
    return path


def canonical_resource(path: str, query: list[tuple[str, str | None]]) -> str:
    """`path` (the request path as sent, with a virtual-host bucket in front) and the
    sub-resources of `query`, sorted by name."""
    sub = sorted((p for p in query if p[0] in SUBRESOURCES), key=lambda p: p[0])
    if not sub:
        return path
    return (
        path + "?" + "&".join(name if value is None else f"{name}={value}" for name, value in sub)
    )


def _request_time(headers: Mapping[str, str]) -> dt.datetime:
    value = headers.get("x-amz-date") or headers.get("date") or ""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise Refused(
            "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def signed_request(
    method: str,
    path: str,
    query: list[tuple[str, str | None]],
    headers: Mapping[str, str],
    now: dt.datetime,
) -> Signed:
    """What a V2 client signed. `path` is from `resource_path`, `query` from `raw_query`,
    `headers` lowercased (repeated ones joined with commas). `Refused` when the request is
    malformed or stale: a header signature over 15 minutes off (RequestTimeTooSkewed), a
    presigned URL past its Expires (AccessDenied "Request has expired")."""
    params = {name: value or "" for name, value in query}
    amz = {k: v.strip() for k, v in headers.items() if k.startswith("x-amz-")}
    auth = headers.get("authorization", "")
    if auth.startswith(PREFIX):
        access, _, signature = auth[len(PREFIX) :].partition(":")
        if abs(now - _request_time(headers)) > MAX_SKEW:
            raise Refused("RequestTimeTooSkewed", "The difference between the request time "
                          "and the current time is too large.")  # fmt: skip
        date = "" if "x-amz-date" in amz else headers.get("date", "").strip()
        content_md5 = headers.get("content-md5", "")
        content_type = headers.get("content-type", "")
    else:
        access, signature, date = (params.get(k, "") for k in QUERY_KEYS)
        if not date.isdigit():
            raise Refused("AccessDenied", "Query-string authentication requires the "
                          "Signature, Expires and AWSAccessKeyId parameters.")  # fmt: skip
        if now.timestamp() > int(date):
            raise Refused("AccessDenied", "Request has expired")
        # A presigned URL may carry the headers it signed as query parameters (botocore does).
        for name, value in params.items():
            if name.lower().startswith("x-amz-"):
                amz.setdefault(name.lower(), value.strip())
        content_md5 = headers.get("content-md5") or params.get("content-md5", "")
        content_type = headers.get("content-type") or params.get("content-type", "")
    if not access or not signature:
        raise Refused("AccessDenied", "The V2 signature names no access key or signature.")
    text = "\n".join(
        [
            method,
            content_md5.strip(),
            content_type.strip(),
            date,
            *[f"{k}:{amz[k]}" for k in sorted(amz)],
            canonical_resource(path, query),
        ]
    )
    return Signed(access, text.encode(), signature, UNSIGNED)
