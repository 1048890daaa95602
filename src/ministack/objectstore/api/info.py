"""GET /info: the capabilities this object service really implements (clients read it to
decide, e.g., whether `swift upload --segment-size` makes a static large object)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from ministack.objectstore import tempurl
from ministack.objectstore.acl import MAX_ACL_LENGTH
from ministack.objectstore.api import bulk, large, wire
from ministack.objectstore.api.app import Call
from ministack.objectstore.store import MAX_CONTAINER_NAME, MAX_OBJECT_NAME

SWIFT_VERSION = "2.34.0"


async def get_info(call: Call) -> Response:
    settings = call.deps.settings
    info = {
        "swift": {
            "version": SWIFT_VERSION,
            "max_file_size": settings.max_file_size,
            "max_meta_name_length": wire.MAX_META_NAME,
            "max_meta_value_length": wire.MAX_META_VALUE,
            "max_meta_count": wire.MAX_META_COUNT,
            "max_meta_overall_size": wire.MAX_META_OVERALL,
            "container_listing_limit": settings.container_listing_limit,
            "account_listing_limit": settings.container_listing_limit,
            "max_account_name_length": 256,
            "max_container_name_length": MAX_CONTAINER_NAME,
            "max_object_name_length": MAX_OBJECT_NAME,
            "extra_header_count": 0,
            "account_autocreate": True,
            "allow_account_management": False,
            "policies": [{"name": "Policy-0", "default": True}],
            "strict_cors_mode": True,
        },
        "keystoneauth": {},  # tokens from identity; tempauth is not served
        "container_acls": {"max_length": MAX_ACL_LENGTH},
        "tempurl": {
            "methods": list(tempurl.METHODS),
            "allowed_digests": sorted(tempurl.DIGESTS),
            "incoming_remove_headers": [],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": [],
            "outgoing_allow_headers": [],
        },
        "slo": {
            "max_manifest_segments": settings.max_manifest_segments,
            "max_manifest_size": large.MAX_MANIFEST_BYTES,
            "min_segment_size": 1,
            "yield_frequency": 10,
            "allow_async_delete": False,
        },
        "dlo": {"max_get_time": 86400},
        "formpost": {"allowed_digests": sorted(tempurl.DIGESTS)},
        "bulk_delete": {
            "max_deletes_per_request": bulk.MAX_DELETES,
            "max_failed_deletes": bulk.MAX_FAILED,
        },
        "bulk_upload": {
            "max_containers_per_extraction": 10000,
            "max_failed_extractions": bulk.MAX_FAILED,
        },
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "account_quotas": {},
        "container_quotas": {},
    }
    if call.method == "HEAD":
        return Response(status_code=200, media_type="application/json; charset=utf-8")
    return Response(orjson.dumps(info), media_type="application/json; charset=utf-8")
