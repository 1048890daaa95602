"""Which S3 operation a request is: method, bucket or key, and the sub-resource in the query."""

from __future__ import annotations

from ministack.objectstore.s3 import acls, buckets, multipart, objects
from ministack.objectstore.s3.app import S3Call, S3Handler
from ministack.objectstore.s3.wire import S3Error


def route(call: S3Call) -> S3Handler:
    method = call.request.method
    params = call.request.query_params
    if not call.bucket:
        if method == "GET":
            return buckets.list_buckets
        raise S3Error("MethodNotAllowed", "The specified method is not allowed on the service.")
    if not call.key:
        if "location" in params and method == "GET":
            return buckets.get_location
        if "acl" in params and method in ("GET", "PUT"):
            return acls.get_bucket_acl if method == "GET" else acls.put_bucket_acl
        if "delete" in params and method == "POST":
            return acls.delete_objects
        found = {
            "PUT": buckets.create_bucket,
            "HEAD": buckets.head_bucket,
            "DELETE": buckets.delete_bucket,
            "GET": buckets.list_objects,
        }.get(method)
    elif "acl" in params and method == "GET":
        return acls.get_object_acl
    elif "uploadId" in params:
        found = {
            "PUT": multipart.upload_part,
            "GET": multipart.list_parts,
            "POST": multipart.complete_upload,
            "DELETE": multipart.abort_upload,
        }.get(method)
    elif "uploads" in params:
        found = multipart.create_upload if method == "POST" else None
    else:
        found = {
            "PUT": objects.put_object,
            "GET": objects.get_object,
            "HEAD": objects.get_object,
            "DELETE": objects.delete_object,
        }.get(method)
    unsupported = {"acl", "tagging", "versioning", "cors", "policy", "lifecycle", "delete"}
    if found is None or unsupported & set(params.keys()):
        raise S3Error("NotImplemented", "This S3 operation is not implemented here.", call.resource)
    return found
