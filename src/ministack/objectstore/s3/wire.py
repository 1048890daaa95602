"""S3's wire format: XML bodies, the error document, times and ETags as S3 writes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from xml.sax.saxutils import escape

from starlette.responses import Response

from ministack.common.context import current_request_id

NS = "http://s3.amazonaws.com/doc/2006-03-01/"

STATUS = {
    "AccessDenied": 403,
    "SignatureDoesNotMatch": 403,
    "InvalidAccessKeyId": 403,
    "RequestTimeTooSkewed": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "BucketNotEmpty": 409,
    "BucketAlreadyOwnedByYou": 409,
    "InvalidBucketName": 400,
    "InvalidArgument": 400,
    "InvalidRequest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "EntityTooSmall": 400,
    "EntityTooLarge": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "BadDigest": 400,
    "XAmzContentSHA256Mismatch": 400,
    "IncompleteBody": 400,
    "MissingContentLength": 411,
    "InvalidRange": 416,
    "PreconditionFailed": 412,
    "NotModified": 304,
    "MethodNotAllowed": 405,
    "NotImplemented": 501,
    "QuotaExceeded": 403,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}


class S3Error(Exception):
    def __init__(self, code: str, message: str, resource: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.resource = code, message, resource

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)


def error_response(err: S3Error) -> Response:
    if err.status == 304:
        return Response(status_code=304)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
        f"<Code>{err.code}</Code><Message>{escape(err.message)}</Message>"
        f"<Resource>{escape(err.resource)}</Resource>"
        f"<RequestId>{current_request_id() or ''}</RequestId></Error>"
    )
    return Response(body, status_code=err.status, media_type="application/xml")


def element(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def document(root: str, parts: Iterable[str], status: int = 200) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{"".join(parts)}</{root}>'
    return Response(body, status_code=status, media_type="application/xml")


def iso_time(at: float) -> str:
    stamp = dt.datetime.fromtimestamp(at, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
